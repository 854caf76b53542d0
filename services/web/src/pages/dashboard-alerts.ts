import type { LlamaStatus, LogEntry, ModelView } from '@llamaproxy/shared';
import type { Alert } from '../components/alert-row.js';

const MAX_ALERTS = 8;

/** Recent errors: failed models, crashed servers and the newest error/warn log lines. */
export function collectAlerts(models: readonly ModelView[], llama: readonly LlamaStatus[], logs: readonly LogEntry[]): Alert[] {
  const alerts: Alert[] = [];
  for (const m of models) {
    if (m.state.status === 'error' && m.state.error !== null) {
      alerts.push({ key: `model:${m.nodeId}:${m.id}`, ts: m.state.updatedAt, level: 'error', source: m.id, message: m.state.error.message });
    }
  }
  for (const s of llama) {
    if ((s.state === 'crashed' || s.state === 'failed') && s.lastExit !== null) {
      const last = s.lastExit.logTail.at(-1) ?? `exit code ${s.lastExit.code ?? '?'}`;
      alerts.push({ key: `llama:${s.nodeId}`, ts: s.lastExit.at, level: 'error', source: 'llama-server', message: `${s.state}: ${last}` });
    }
  }
  for (let i = logs.length - 1; i >= 0 && alerts.length < MAX_ALERTS * 2; i--) {
    const entry = logs[i];
    if (entry !== undefined && (entry.level === 'error' || entry.level === 'warn')) {
      alerts.push({ key: `log:${entry.id}`, ts: entry.ts, level: entry.level, source: entry.modelId ?? entry.source, message: entry.message });
    }
  }
  return alerts.sort((a, b) => b.ts - a.ts).slice(0, MAX_ALERTS);
}
