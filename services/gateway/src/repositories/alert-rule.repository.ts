import { AlertRuleSchema, DEFAULT_ALERT_RULES, type AlertRule } from '@llamaproxy/shared';
import type { Db } from '../db/database.js';

/**
 * Alert rules in SQLite, one JSON row each. The built-in rules are written on first read (so a
 * rule added in a later version appears with its defaults); they can be changed, not deleted.
 */
export class AlertRuleRepository {
  private readonly db: Db;

  constructor(db: Db) {
    this.db = db;
  }

  list(): AlertRule[] {
    this.seed();
    const rows = this.db.prepare('SELECT rule, builtin FROM alert_rules ORDER BY builtin DESC, rowid').all() as { rule: string }[];
    return rows.flatMap((r) => {
      const parsed = AlertRuleSchema.safeParse(JSON.parse(r.rule));
      return parsed.success ? [parsed.data] : [];
    });
  }

  get(id: string): AlertRule | null {
    return this.list().find((r) => r.id === id) ?? null;
  }

  isBuiltin(id: string): boolean {
    return DEFAULT_ALERT_RULES.some((r) => r.id === id);
  }

  /** Writes a rule (insert or replace). */
  save(rule: AlertRule, now = Date.now()): AlertRule {
    this.db
      .prepare('INSERT INTO alert_rules (id, rule, builtin, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET rule = excluded.rule, updated_at = excluded.updated_at')
      .run(rule.id, JSON.stringify(rule), this.isBuiltin(rule.id) ? 1 : 0, now);
    return rule;
  }

  delete(id: string): boolean {
    return this.db.prepare('DELETE FROM alert_rules WHERE id = ? AND builtin = 0').run(id).changes > 0;
  }

  private seed(): void {
    const insert = this.db.prepare('INSERT OR IGNORE INTO alert_rules (id, rule, builtin, updated_at) VALUES (?, ?, 1, ?)');
    for (const rule of DEFAULT_ALERT_RULES) {
      insert.run(rule.id, JSON.stringify(rule), 0);
    }
  }
}
