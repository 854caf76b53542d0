import { createHash } from 'node:crypto';
import {
  sampleSeries,
  type AlertEventKind,
  type AlertRule,
  type FiringAlert,
  type LlamaStatus,
  type MetricsSample,
  type ModelError,
  type ModelState,
  type ModelStatusValue,
} from '@llamaproxy/shared';

/**
 * The alert rule engine: a pure state machine over observations. Each `evaluateAlerts` call takes
 * the previous state, the rules and what is true now (with the time, so tests drive the clock),
 * and returns the next state and the notifications to send. No I/O, no timers: the caller
 * (AlertService) stores the state and queues the notifications.
 *
 * Per rule and subject (a node, a model, a GPU, a disk) an alert is `pending` from when its
 * condition first holds, `firing` once it held for the rule's `forMs` (a `firing` notification),
 * and gone when the condition ends (a `resolved` notification, when the firing one was sent).
 * While firing it is repeated every `repeatMs` (0: never). A silenced rule still tracks its alerts
 * but sends nothing new; an alert still firing when the silence ends is notified then.
 */

/** A node the gateway hears from: a supervisor (status heartbeat) or a metrics collector (samples). */
export interface NodeObservation {
  nodeId: string;
  role: 'supervisor' | 'collector';
  lastHeardAt: number | null;
}

/** What is true now, read from what the gateway stores. */
export interface AlertObservation {
  now: number;
  llama: readonly LlamaStatus[];
  models: readonly { nodeId: string; state: ModelState }[];
  nodes: readonly NodeObservation[];
  /** The newest metrics sample; null when there is none or it is too old to judge by. */
  metrics: MetricsSample | null;
}

export interface AlertInstance {
  ruleId: string;
  subject: string;
  phase: 'pending' | 'firing';
  /** When the condition started to hold. */
  since: number;
  firedAt: number | null;
  /** When the last firing or repeat notification was sent; null while none was. */
  lastNotifiedAt: number | null;
  summary: string;
}

/** What the engine remembers between observations, to see edges the current state hides. */
export interface EngineMemory {
  /** Per node: the restart counter last seen and when it went up. */
  llama: Record<string, { restarts: number; restartTimes: number[] }>;
  /** Per `node/model`: the last status other than `error` (was the model loaded when it failed?). */
  models: Record<string, ModelStatusValue>;
}

export interface EngineState {
  alerts: Record<string, AlertInstance>;
  memory: EngineMemory;
}

export const EMPTY_ENGINE_STATE: EngineState = { alerts: {}, memory: { llama: {}, models: {} } };

export interface AlertNotification {
  /** Stable for this notification (same inputs, same id): the delivery's idempotency key. */
  id: string;
  event: Exclude<AlertEventKind, 'test'>;
  rule: AlertRule;
  subject: string;
  summary: string;
  /** When the condition started (firing, repeat) or ended (resolved). */
  at: number;
}

export interface EvaluationResult {
  state: EngineState;
  notifications: AlertNotification[];
  /** True when the set of firing alerts (or their summaries) changed: worth a broadcast. */
  firingChanged: boolean;
}

/** What a rule sees as true for one subject. `pulse`: it was true between two observations and is over. */
interface Condition {
  summary: string;
  pulse: boolean;
  /** Wait at least this long before firing (a failed model whose cause is not in the log yet). */
  minForMs?: number;
}

/**
 * How long a failed model's alert waits for the log line that names its cause (log batches and
 * status events travel separately) before it is sent with the error's own message.
 */
export const CAUSE_GRACE_MS = 3000;

/** Restart times older than this are forgotten (longer than any window worth watching). */
const RESTART_MEMORY_MS = 24 * 3_600_000;

const instanceKey = (ruleId: string, subject: string): string => `${ruleId}\u0000${subject}`;

/** Evaluates every rule against one observation. Pure: `previous` is not modified. */
export function evaluateAlerts(previous: EngineState, rules: readonly AlertRule[], obs: AlertObservation): EvaluationResult {
  const now = obs.now;
  const memory = observeMemory(previous.memory, obs);
  const alerts: Record<string, AlertInstance> = {};
  const notifications: AlertNotification[] = [];
  let firingChanged = false;

  for (const rule of rules) {
    if (!rule.enabled) {
      // Disabling a rule drops its alerts without a resolved message: nobody asked for it any more.
      firingChanged ||= Object.values(previous.alerts).some((a) => a.ruleId === rule.id && a.phase === 'firing');
      continue;
    }
    const silenced = rule.silencedUntil !== null && rule.silencedUntil > now;
    const conditions = ruleConditions(rule, obs, previous, memory);
    const subjects = new Set([...conditions.keys(), ...Object.values(previous.alerts).filter((a) => a.ruleId === rule.id).map((a) => a.subject)]);
    for (const subject of subjects) {
      const key = instanceKey(rule.id, subject);
      const before = previous.alerts[key];
      const condition = conditions.get(subject);
      const notify = (event: AlertNotification['event'], at: number, summary: string, since: number, nth = 0): void => {
        notifications.push({ id: notificationId(rule.id, subject, since, event, nth), event, rule, subject, summary, at });
      };

      if (condition === undefined || condition.pulse) {
        if (before?.phase === 'firing') {
          firingChanged = true;
          if (before.lastNotifiedAt !== null) {
            notify('resolved', now, condition?.summary ?? before.summary, before.since);
          }
        } else if (before === undefined && condition?.pulse === true && rule.forMs === 0 && !silenced) {
          // Crashed and recovered between two looks: both edges, so the crash is not lost.
          notify('firing', now, condition.summary, now);
          notify('resolved', now, condition.summary, now);
        }
        continue;
      }

      const since = before?.since ?? now;
      const instance: AlertInstance = before
        ? { ...before, summary: condition.summary }
        : { ruleId: rule.id, subject, phase: 'pending', since, firedAt: null, lastNotifiedAt: null, summary: condition.summary };
      if (instance.phase === 'pending' && now - since >= Math.max(rule.forMs, condition.minForMs ?? 0)) {
        instance.phase = 'firing';
        instance.firedAt = now;
      }
      if (instance.phase === 'firing') {
        firingChanged ||= before?.phase !== 'firing' || before.summary !== instance.summary;
        if (!silenced) {
          if (instance.lastNotifiedAt === null) {
            notify('firing', since, instance.summary, since);
            instance.lastNotifiedAt = now;
          } else if (rule.repeatMs > 0 && now - instance.lastNotifiedAt >= rule.repeatMs) {
            notify('repeat', since, instance.summary, since, now);
            instance.lastNotifiedAt = now;
          }
        }
      }
      alerts[key] = instance;
    }
  }
  // Alerts of rules that no longer exist go without a word, like those of a disabled rule.
  const known = new Set(rules.map((r) => r.id));
  firingChanged ||= Object.values(previous.alerts).some((a) => !known.has(a.ruleId) && a.phase === 'firing');
  return { state: { alerts, memory }, notifications, firingChanged };
}

/** The alerts firing in `state`, newest first, for the dashboard. */
export function firingAlerts(state: EngineState, rules: readonly AlertRule[], now: number): FiringAlert[] {
  const byId = new Map(rules.map((r) => [r.id, r]));
  return Object.values(state.alerts)
    .filter((a) => a.phase === 'firing' && byId.has(a.ruleId))
    .map((a) => {
      const rule = byId.get(a.ruleId) as AlertRule;
      return {
        ruleId: a.ruleId,
        ruleName: rule.name,
        subject: a.subject,
        since: a.since,
        firedAt: a.firedAt ?? a.since,
        summary: a.summary,
        silenced: rule.silencedUntil !== null && rule.silencedUntil > now,
      };
    })
    .sort((x, y) => y.firedAt - x.firedAt || x.subject.localeCompare(y.subject));
}

/** A short hash, so ids are safe as BullMQ job ids (no `:`) and bounded in length. */
function notificationId(ruleId: string, subject: string, since: number, event: string, nth: number): string {
  return createHash('sha256').update(JSON.stringify([ruleId, subject, since, event, nth])).digest('hex').slice(0, 32);
}

function observeMemory(previous: EngineMemory, obs: AlertObservation): EngineMemory {
  const llama: EngineMemory['llama'] = { ...previous.llama };
  for (const status of obs.llama) {
    const before = llama[status.nodeId];
    const times = (before?.restartTimes ?? []).filter((t) => obs.now - t < RESTART_MEMORY_MS);
    // First sight of a node: its counter is the baseline (restarts before we looked are not new).
    const added = before === undefined ? 0 : Math.max(0, status.restarts - before.restarts);
    for (let i = 0; i < Math.min(added, 1000); i++) {
      times.push(obs.now);
    }
    llama[status.nodeId] = { restarts: status.restarts, restartTimes: times.slice(-1000) };
  }
  const models: EngineMemory['models'] = { ...previous.models };
  for (const { nodeId, state } of obs.models) {
    if (state.status !== 'error') {
      models[`${nodeId}/${state.id}`] = state.status;
    }
  }
  return { llama, models };
}

function ruleConditions(rule: AlertRule, obs: AlertObservation, previous: EngineState, memory: EngineMemory): Map<string, Condition> {
  const out = new Map<string, Condition>();
  const active = (subject: string, summary: string): void => void out.set(subject, { summary, pulse: false });
  const p = rule.params;
  switch (p.kind) {
    case 'llama-crashed':
      for (const s of obs.llama) {
        const wasFiring = previous.alerts[instanceKey(rule.id, s.nodeId)] !== undefined;
        const restarted = s.restarts > (previous.memory.llama[s.nodeId]?.restarts ?? s.restarts);
        // `starting` after a crash is still the crash: it is over once llama-server runs again.
        if (s.state === 'crashed' || s.state === 'failed' || (s.state === 'starting' && (wasFiring || restarted))) {
          active(s.nodeId, crashSummary(s));
        } else if (restarted) {
          out.set(s.nodeId, { summary: crashSummary(s), pulse: true });
        }
      }
      break;
    case 'llama-restart-loop':
      for (const [nodeId, m] of Object.entries(memory.llama)) {
        const recent = m.restartTimes.filter((t) => obs.now - t < p.windowMs).length;
        if (recent >= p.restarts) {
          active(nodeId, `llama-server on ${nodeId} restarted ${recent} times in ${formatDuration(p.windowMs)}`);
        }
      }
      break;
    case 'model-load-failed':
    case 'model-crashed':
      for (const { nodeId, state } of obs.models) {
        if (state.status !== 'error' || state.error === null) {
          continue;
        }
        const before = memory.models[`${nodeId}/${state.id}`];
        const crashed = before === 'loaded' || before === 'sleeping';
        if (crashed === (p.kind === 'model-crashed')) {
          const cause = modelFailureCause(state.error);
          out.set(`${nodeId}/${state.id}`, {
            summary: `${state.id} ${crashed ? 'crashed while loaded' : 'failed to load'}: ${cause.text}`,
            pulse: false,
            minForMs: cause.known ? 0 : CAUSE_GRACE_MS,
          });
        }
      }
      break;
    case 'node-silent':
      for (const n of obs.nodes) {
        if (n.lastHeardAt !== null && obs.now - n.lastHeardAt > p.silentMs) {
          active(`${n.role} ${n.nodeId}`, `${n.role} ${n.nodeId} silent for ${formatDuration(obs.now - n.lastHeardAt)} (limit ${formatDuration(p.silentMs)})`);
        }
      }
      break;
    case 'gpu-temperature':
      for (const g of obs.metrics?.gpus ?? []) {
        if (g.temperatureC !== null && g.temperatureC > p.thresholdC) {
          active(`gpu ${g.index}`, `GPU ${g.index} (${g.name}) at ${round(g.temperatureC)} °C, above ${p.thresholdC} °C`);
        }
      }
      break;
    case 'gpu-memory':
      for (const g of obs.metrics?.gpus ?? []) {
        const pct = percent(g.memoryUsedBytes, g.memoryTotalBytes);
        if (pct !== null && pct > p.thresholdPct) {
          active(`gpu ${g.index}`, `GPU ${g.index} (${g.name}) memory ${round(pct)}% used, above ${p.thresholdPct}%`);
        }
      }
      break;
    case 'memory': {
      const pct = obs.metrics ? percent(obs.metrics.memory.usedBytes, obs.metrics.memory.totalBytes) : null;
      if (pct !== null && pct > p.thresholdPct) {
        active(obs.metrics?.nodeId ?? 'host', `RAM ${round(pct)}% used, above ${p.thresholdPct}%`);
      }
      break;
    }
    case 'swap': {
      const pct = obs.metrics ? percent(obs.metrics.memory.swapUsedBytes, obs.metrics.memory.swapTotalBytes) : null;
      if (pct !== null && pct > p.thresholdPct) {
        active(obs.metrics?.nodeId ?? 'host', `swap ${round(pct)}% used, above ${p.thresholdPct}%`);
      }
      break;
    }
    case 'disk':
      for (const d of obs.metrics?.disks ?? []) {
        const pct = percent(d.usedBytes, d.totalBytes);
        if ((p.disks.length === 0 || p.disks.includes(d.label)) && pct !== null && pct > p.thresholdPct) {
          active(`disk ${d.label}`, `disk ${d.label} (${d.mount}) ${round(pct)}% used, above ${p.thresholdPct}%`);
        }
      }
      break;
    case 'requests-waiting': {
      if (obs.metrics !== null) {
        const waiting = obs.metrics.models.reduce((sum, m) => sum + m.requestsDeferred, 0);
        if (waiting > p.threshold) {
          active(obs.metrics.nodeId, `${waiting} requests waiting for a slot, above ${p.threshold}`);
        }
      }
      break;
    }
    case 'custom': {
      const value = obs.metrics ? sampleSeries(obs.metrics)[p.series] : undefined;
      if (value !== undefined && (p.comparison === 'above' ? value > p.threshold : value < p.threshold)) {
        active(p.series, `${p.series} = ${round(value)}, ${p.comparison} ${p.threshold}`);
      }
      break;
    }
  }
  return out;
}

function crashSummary(s: LlamaStatus): string {
  const exit = s.lastExit;
  const how = exit === null ? 'stopped unexpectedly' : `exited (${exit.signal ?? `code ${exit.code ?? '?'}`})`;
  const state = s.state === 'failed' ? '; it could not be started again' : s.state === 'running' ? '; it was restarted' : '';
  return `llama-server on ${s.nodeId} ${how}${state}`;
}

/** Causes of a failed model, as a word and the log lines that show it. */
const FAILURE_CAUSES: readonly (readonly [string, RegExp])[] = [
  ['out of memory', /out of memory|\bOOM\b|failed to allocate|cudaMalloc failed|unable to allocate|ErrorOutOfDeviceMemory/i],
  ['bad model file', /invalid magic|not a gguf|truncated|corrupt|failed to read|unexpected end of file|data is not within the file bounds|gguf_init/i],
  ['unsupported model', /unknown (model )?architecture|unsupported/i],
  ['model file missing', /no such file|not found|cannot open/i],
];

/**
 * What a failed model's error says in a word, with the line that says it: "out of memory
 * (…cudaMalloc failed…)". The error's own message when no cause is recognised.
 */
export function modelFailureCause(error: ModelError): { text: string; known: boolean } {
  const lines = [error.message, ...error.logTail];
  for (const [cause, pattern] of FAILURE_CAUSES) {
    const line = lines.findLast((l) => pattern.test(l));
    if (line !== undefined) {
      return { text: `${cause} (${line.trim().slice(0, 300)})`, known: true };
    }
  }
  return { text: error.message, known: false };
}

function percent(used: number | null, total: number | null): number | null {
  return used === null || total === null || total <= 0 ? null : (100 * used) / total;
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}

/** 90000 → "1.5 min", 7200000 → "2 h". */
export function formatDuration(ms: number): string {
  if (ms < 60_000) {
    return `${round(ms / 1000)} s`;
  }
  if (ms < 3_600_000) {
    return `${round(ms / 60_000)} min`;
  }
  return `${round(ms / 3_600_000)} h`;
}
