import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AppError, DEFAULT_ALERT_RULES } from '@llamaproxy/shared';
import { openDatabase, type Db } from '../db/database.js';
import { AlertChannelRepository } from '../repositories/alert-channel.repository.js';
import { AlertDeliveryRepository } from '../repositories/alert-delivery.repository.js';
import { AlertRuleRepository } from '../repositories/alert-rule.repository.js';
import { AlertConfigService, mergeChannelConfig } from './alert-config.service.js';

describe(AlertConfigService.name, () => {
  let dir: string;
  let db: Db;
  let channels: AlertChannelRepository;
  let sut: AlertConfigService;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'llamaproxy-alerts-'));
    db = openDatabase(join(dir, 'test.db'));
    channels = new AlertChannelRepository(db);
    sut = new AlertConfigService({ channels, rules: new AlertRuleRepository(db) });
  });

  afterEach(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('never returns a secret, only which secret fields are set', () => {
    const view = sut.createChannel('phone', true, { kind: 'ntfy', settings: {}, secrets: { url: 'https://ntfy.example/secret-topic', token: 'tk-123' } });
    expect(JSON.stringify(view)).not.toMatch(/secret-topic|tk-123/);
    expect(view.secretsSet.sort()).toEqual(['token', 'url']);
    expect(view.settings).toEqual({ priority: 4 });
    expect(JSON.stringify(sut.listChannels())).not.toMatch(/secret-topic|tk-123/);
    expect(view.health.status).toBe('unknown');
  });

  it('keeps secrets an update leaves out, clears an empty one, and drops them when the kind changes', () => {
    const { id } = sut.createChannel('hook', true, { kind: 'webhook', settings: {}, secrets: { url: 'https://h.example/1', secret: 'hmac' } });
    sut.updateChannel(id, { name: 'renamed', config: { kind: 'webhook', settings: {}, secrets: {} } });
    expect(channels.get(id)?.config).toEqual({ kind: 'webhook', settings: {}, secrets: { url: 'https://h.example/1', secret: 'hmac' } });
    sut.updateChannel(id, { config: { kind: 'webhook', settings: {}, secrets: { secret: '' } } });
    expect(channels.get(id)?.config.secrets).toEqual({ url: 'https://h.example/1' });
    expect(() => sut.updateChannel(id, { config: { kind: 'slack', settings: {}, secrets: {} } })).toThrow(/secrets\.url/);
  });

  it('refuses a bad configuration naming the field, never the value', () => {
    const attempt = () => sut.createChannel('x', true, { kind: 'gotify', settings: {}, secrets: { url: 'not a url with tok-999', token: 'tok-999' } });
    expect(attempt).toThrow(AppError);
    expect(attempt).toThrow(/secrets\.url/);
    try {
      attempt();
    } catch (err) {
      expect((err as Error).message).not.toContain('tok-999');
    }
  });

  it('seeds the built-in rules, edits them, adds and deletes custom ones, silences', () => {
    expect(sut.listRules().map((r) => r.id)).toEqual(DEFAULT_ALERT_RULES.map((r) => r.id));
    const ram = sut.listRules().find((r) => r.id === 'memory')!;
    expect(sut.saveRule({ ...ram, enabled: true, params: { kind: 'memory', thresholdPct: 70 } }).params).toEqual({ kind: 'memory', thresholdPct: 70 });
    expect(() => sut.saveRule({ ...ram, params: { kind: 'swap', thresholdPct: 1 } })).toThrow(/kind memory/);
    expect(() => sut.deleteRule('memory')).toThrow(/built-in/);
    const custom = sut.saveRule({ name: 'hot cpu', enabled: true, forMs: 1000, repeatMs: 0, channelIds: [], params: { kind: 'custom', series: 'cpu.usagePct', comparison: 'above', threshold: 90 } });
    expect(custom.id).toMatch(/^custom-/);
    expect(() => sut.saveRule({ ...custom, id: undefined, channelIds: ['nope'] })).toThrow(/no channel nope/);
    expect(sut.silenceRule(custom.id, 60_000, 1000).silencedUntil).toBe(61_000);
    expect(sut.silenceRule(custom.id, 0).silencedUntil).toBeNull();
    sut.deleteRule(custom.id);
    expect(sut.listRules().some((r) => r.id === custom.id)).toBe(false);
  });

  it('marks a channel failing after a failed delivery and ok after the next success', () => {
    const { id } = sut.createChannel('d', true, { kind: 'discord', settings: {}, secrets: { url: 'https://d.example/x' } });
    expect(channels.recordFailure(id, 'HTTP 500', 1)?.consecutiveFailures).toBe(0);
    expect(channels.recordFailure(id, 'HTTP 500', 2)?.consecutiveFailures).toBe(1);
    expect(channels.view(id)?.health).toMatchObject({ status: 'failing', consecutiveFailures: 2, lastError: 'HTTP 500' });
    channels.recordSuccess(id, 3);
    expect(channels.view(id)?.health).toMatchObject({ status: 'ok', consecutiveFailures: 0, lastSuccessAt: 3 });
  });
});

describe(AlertDeliveryRepository.name, () => {
  it('records a notification once per channel and pages the history newest first', () => {
    const dir = mkdtempSync(join(tmpdir(), 'llamaproxy-alerts-'));
    const db = openDatabase(join(dir, 'test.db'));
    try {
      const sut = new AlertDeliveryRepository(db);
      const d = { messageId: 'm1', event: 'firing' as const, ruleId: 'r', ruleName: 'R', subject: 's', channelId: 'c1', channelName: 'C' };
      const first = sut.add(d, 1);
      expect(first).not.toBeNull();
      expect(sut.add(d, 2)).toBeNull();
      sut.add({ ...d, channelId: 'c2' }, 3);
      sut.update(first!, 'retrying', 1, 'HTTP 500', 4);
      sut.update(first!, 'delivered', 2, null, 5);
      const page = sut.query({ limit: 1 });
      expect(page.hasMore).toBe(true);
      expect(page.entries[0]?.channelId).toBe('c2');
      expect(sut.get(first!)).toMatchObject({ status: 'delivered', attempts: 2, lastError: 'HTTP 500' });
    } finally {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe(mergeChannelConfig.name, () => {
  it('fills the kind\'s defaults', () => {
    expect(mergeChannelConfig(null, { kind: 'email', settings: { host: 'mail', from: 'a@b.c', to: ['d@e.f'] }, secrets: {} })).toEqual({
      kind: 'email',
      settings: { host: 'mail', port: 587, secure: false, from: 'a@b.c', to: ['d@e.f'] },
      secrets: {},
    });
  });
});
