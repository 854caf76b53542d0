import { describe, expect, it } from 'vitest';
import { DEFAULT_ALERT_RULES, type AlertRule, type AlertRuleParams, type LlamaStatus, type MetricsSample, type ModelState } from '@llamaproxy/shared';
import { EMPTY_ENGINE_STATE, evaluateAlerts, firingAlerts, modelFailureCause, type AlertObservation, type EngineState } from './alert-engine.js';

const rule = (params: AlertRuleParams, over: Partial<AlertRule> = {}): AlertRule => ({
  id: params.kind,
  name: params.kind,
  enabled: true,
  forMs: 0,
  repeatMs: 0,
  channelIds: [],
  silencedUntil: null,
  params,
  ...over,
});

const llama = (state: LlamaStatus['state'], restarts: number): LlamaStatus => ({
  nodeId: 'n1',
  state,
  pid: state === 'running' ? 1 : null,
  url: null,
  startedAt: 0,
  restarts,
  nextRestartAt: null,
  lastExit: restarts > 0 ? { code: null, signal: 'SIGKILL', at: 0, logTail: [] } : null,
  args: [],
  updatedAt: 0,
});

const model = (status: ModelState['status'], message?: string, logTail: string[] = []): ModelState => ({
  id: 'm',
  status,
  progress: null,
  stage: null,
  args: [],
  error: message === undefined ? null : { message, exitCode: 1, logTail },
  updatedAt: 0,
});

const sample = (cpu: number, extra: Partial<MetricsSample> = {}): MetricsSample => ({
  ts: 0,
  nodeId: 'n1',
  cpu: { usagePct: cpu, perCorePct: [], load: [] },
  memory: { totalBytes: 100, usedBytes: 50, swapTotalBytes: 0, swapUsedBytes: 0 },
  disks: [],
  network: { rxBytesPerSec: 0, txBytesPerSec: 0 },
  uptimeSec: 0,
  llamaProcess: null,
  gpus: [],
  models: [],
  ...extra,
});

const obs = (now: number, over: Partial<AlertObservation> = {}): AlertObservation => ({ now, llama: [], models: [], nodes: [], metrics: null, ...over });

/** Runs observations in order, collecting `event@time` for every notification. */
function run(rules: AlertRule[], observations: AlertObservation[], start: EngineState = EMPTY_ENGINE_STATE): { events: string[]; state: EngineState } {
  let state = start;
  const events: string[] = [];
  for (const o of observations) {
    const result = evaluateAlerts(state, rules, o);
    state = result.state;
    events.push(...result.notifications.map((n) => `${n.event}@${o.now}`));
  }
  return { events, state };
}

describe(evaluateAlerts.name, () => {
  describe('llama-server crashed', () => {
    const rules = [rule({ kind: 'llama-crashed' })];

    it('fires on the crash, stays firing while starting, resolves once running', () => {
      const { events } = run(rules, [
        obs(0, { llama: [llama('running', 0)] }),
        obs(1000, { llama: [llama('crashed', 1)] }),
        obs(2000, { llama: [llama('starting', 1)] }),
        obs(3000, { llama: [llama('running', 1)] }),
      ]);
      expect(events).toEqual(['firing@1000', 'resolved@3000']);
    });

    it('does not lose a crash that recovered between two looks (the restart counter went up)', () => {
      const { events } = run(rules, [obs(0, { llama: [llama('running', 0)] }), obs(1000, { llama: [llama('running', 1)] })]);
      expect(events).toEqual(['firing@1000', 'resolved@1000']);
    });

    it('counts restarts before the first look as the baseline, not as a crash', () => {
      expect(run(rules, [obs(0, { llama: [llama('running', 5)] })]).events).toEqual([]);
    });
  });

  it('restart loop: fires at N restarts within the window, resolves when they age out', () => {
    const rules = [rule({ kind: 'llama-restart-loop', restarts: 3, windowMs: 60_000 })];
    const { events } = run(rules, [
      obs(0, { llama: [llama('running', 0)] }),
      obs(10_000, { llama: [llama('running', 1)] }),
      obs(20_000, { llama: [llama('running', 2)] }),
      obs(30_000, { llama: [llama('running', 3)] }),
      obs(60_000, { llama: [llama('running', 3)] }),
      obs(70_001, { llama: [llama('running', 3)] }),
    ]);
    expect(events).toEqual(['firing@30000', 'resolved@70001']);
  });

  describe('models', () => {
    const rules = [rule({ kind: 'model-load-failed' }), rule({ kind: 'model-crashed' })];

    it('a failed load fires the load rule with its cause, and resolves when the model leaves error', () => {
      let state = EMPTY_ENGINE_STATE;
      const step = (now: number, m: ModelState) => {
        const r = evaluateAlerts(state, rules, obs(now, { models: [{ nodeId: 'n1', state: m }] }));
        state = r.state;
        return r.notifications;
      };
      expect(step(0, model('loading'))).toEqual([]);
      const [fired] = step(1000, model('error', 'model instance exited with code 1: failed to allocate buffer', ['cudaMalloc failed: out of memory']));
      expect(fired).toMatchObject({ event: 'firing', rule: { id: 'model-load-failed' }, subject: 'n1/m', summary: expect.stringContaining('failed to load: out of memory') });
      expect(step(2000, model('unloaded')).map((n) => n.event)).toEqual(['resolved']);
    });

    it('waits a little for the log line that names the cause, then sends what it has', () => {
      const failed = { nodeId: 'n1', state: model('error', 'model instance exited with code 1: ----') };
      const { events } = run(rules, [obs(0, { models: [{ nodeId: 'n1', state: model('loading') }] }), obs(1000, { models: [failed] }), obs(3999, { models: [failed] }), obs(4000, { models: [failed] })]);
      expect(events).toEqual(['firing@4000']);
      const known = { nodeId: 'n1', state: model('error', 'exited', ['llama_model_load: error loading model architecture: unknown model architecture: zzz']) };
      expect(run(rules, [obs(0, { models: [{ nodeId: 'n1', state: model('loading') }] }), obs(1000, { models: [known] })]).events).toEqual(['firing@1000']);
    });

    it('an error after the model was loaded is a crash, not a failed load', () => {
      const { events, state } = run(rules, [
        obs(0, { models: [{ nodeId: 'n1', state: model('loaded') }] }),
        obs(1000, { models: [{ nodeId: 'n1', state: model('error', 'model instance exited with code 1', ['cudaMalloc failed: out of memory']) }] }),
      ]);
      expect(events).toEqual(['firing@1000']);
      expect(Object.values(state.alerts).map((a) => a.ruleId)).toEqual(['model-crashed']);
    });
  });

  describe('a metrics rule with a duration', () => {
    const rules = [rule({ kind: 'custom', series: 'cpu.usagePct', comparison: 'above', threshold: 80 }, { forMs: 5000 })];

    it('fires only after the condition held for its duration, and resolves when it ends', () => {
      const { events } = run(rules, [
        obs(0, { metrics: sample(90) }),
        obs(4999, { metrics: sample(95) }),
        obs(5000, { metrics: sample(95) }),
        obs(6000, { metrics: sample(95) }),
        obs(7000, { metrics: sample(10) }),
      ]);
      expect(events).toEqual(['firing@5000', 'resolved@7000']);
    });

    it('a dip below the threshold restarts the duration, and a pending alert resolves silently', () => {
      const { events } = run(rules, [obs(0, { metrics: sample(90) }), obs(4000, { metrics: sample(10) }), obs(5000, { metrics: sample(90) }), obs(9999, { metrics: sample(90) })]);
      expect(events).toEqual([]);
    });

    it('"below" compares the other way; a missing series never fires', () => {
      const below = [rule({ kind: 'custom', series: 'cpu.usagePct', comparison: 'below', threshold: 5 })];
      expect(run(below, [obs(0, { metrics: sample(1) })]).events).toEqual(['firing@0']);
      const missing = [rule({ kind: 'custom', series: 'gpu.7.temperatureC', comparison: 'below', threshold: 5 })];
      expect(run(missing, [obs(0, { metrics: sample(1) })]).events).toEqual([]);
    });
  });

  it('repeats while firing only at the repeat interval', () => {
    const rules = [rule({ kind: 'memory', thresholdPct: 40 }, { repeatMs: 10_000 })];
    const times = [0, 5000, 9999, 10_000, 15_000, 20_000];
    const { events } = run(rules, times.map((t) => obs(t, { metrics: sample(0) })));
    expect(events).toEqual(['firing@0', 'repeat@10000', 'repeat@20000']);
  });

  it('a silenced rule sends nothing; an alert still firing when the silence ends is sent then', () => {
    const rules = [rule({ kind: 'memory', thresholdPct: 40 }, { silencedUntil: 10_000 })];
    const { events, state } = run(rules, [obs(0, { metrics: sample(0) }), obs(5000, { metrics: sample(0) }), obs(10_000, { metrics: sample(0) })]);
    expect(events).toEqual(['firing@10000']);
    expect(firingAlerts(state, rules, 10_000)).toHaveLength(1);
  });

  it('a silenced alert that resolves before it was ever sent sends no resolved either', () => {
    const rules = [rule({ kind: 'memory', thresholdPct: 40 }, { silencedUntil: 10_000 })];
    expect(run(rules, [obs(0, { metrics: sample(0) }), obs(5000)]).events).toEqual([]);
  });

  it.each([
    ['gpu-temperature', { kind: 'gpu-temperature', thresholdC: 80 }, 'gpu 0'],
    ['gpu-memory', { kind: 'gpu-memory', thresholdPct: 90 }, 'gpu 0'],
    ['swap', { kind: 'swap', thresholdPct: 50 }, 'n1'],
    ['disk', { kind: 'disk', thresholdPct: 90, disks: ['root'] }, 'disk root'],
    ['requests-waiting', { kind: 'requests-waiting', threshold: 3 }, 'n1'],
  ] as const)('%s fires above its threshold', (_name, params, subject) => {
    const hot = sample(0, {
      memory: { totalBytes: 100, usedBytes: 50, swapTotalBytes: 100, swapUsedBytes: 60 },
      disks: [
        { label: 'root', mount: '/', totalBytes: 100, usedBytes: 95 },
        { label: 'data', mount: '/data', totalBytes: 100, usedBytes: 99 },
      ],
      gpus: [{ index: 0, uuid: null, name: 'G', utilizationPct: 1, memoryUsedBytes: 95, memoryTotalBytes: 100, temperatureC: 85, powerDrawW: null, powerLimitW: null, fanPct: null, clockSmMhz: null, clockMemMhz: null, processes: [] }],
      models: [{ modelId: 'm', promptTokensPerSec: 0, genTokensPerSec: 0, promptTokensTotal: 0, genTokensTotal: 0, requestsProcessing: 1, requestsDeferred: 4, busySlots: 1, totalSlots: 1, kvCacheUsage: null }],
    });
    const result = evaluateAlerts(EMPTY_ENGINE_STATE, [rule(params as AlertRuleParams)], obs(0, { metrics: hot }));
    // `disks: ['root']` watches root only, though data is fuller.
    expect(result.notifications.map((n) => n.subject)).toEqual([subject]);
  });

  it('node silent: a supervisor or collector not heard from for longer than the limit', () => {
    const rules = [rule({ kind: 'node-silent', silentMs: 30_000 })];
    const nodes = [
      { nodeId: 'n1', role: 'supervisor' as const, lastHeardAt: 0 },
      { nodeId: 'n1', role: 'collector' as const, lastHeardAt: 20_000 },
    ];
    const { events, state } = run(rules, [obs(30_000, { nodes }), obs(30_001, { nodes })]);
    expect(events).toEqual(['firing@30001']);
    expect(firingAlerts(state, rules, 30_001).map((a) => a.subject)).toEqual(['supervisor n1']);
  });

  it('a disabled rule drops its alerts without a resolved message', () => {
    const on = [rule({ kind: 'memory', thresholdPct: 40 })];
    const { state } = run(on, [obs(0, { metrics: sample(0) })]);
    const result = evaluateAlerts(state, [{ ...on[0]!, enabled: false }], obs(1000, { metrics: sample(0) }));
    expect(result.notifications).toEqual([]);
    expect(result.firingChanged).toBe(true);
    expect(result.state.alerts).toEqual({});
  });

  it('gives the same notification the same id (a replayed evaluation queues nothing new)', () => {
    const rules = [rule({ kind: 'memory', thresholdPct: 40 })];
    const a = evaluateAlerts(EMPTY_ENGINE_STATE, rules, obs(0, { metrics: sample(0) }));
    const b = evaluateAlerts(EMPTY_ENGINE_STATE, rules, obs(0, { metrics: sample(0) }));
    expect(a.notifications[0]?.id).toMatch(/^[0-9a-f]{32}$/);
    expect(a.notifications[0]?.id).toBe(b.notifications[0]?.id);
  });

  it('ships built-in rules with unique ids, one per kind but custom', () => {
    expect(new Set(DEFAULT_ALERT_RULES.map((r) => r.id)).size).toBe(DEFAULT_ALERT_RULES.length);
    expect(DEFAULT_ALERT_RULES.map((r) => r.params.kind)).not.toContain('custom');
  });
});

describe(modelFailureCause.name, () => {
  it.each([
    ['model instance exited with code 1', ['ggml_backend_cuda_buffer_type_alloc_buffer: allocating 900 MiB on device 0: cudaMalloc failed: out of memory'], 'out of memory'],
    ['model instance exited with code 1: gguf_init_from_file_impl: invalid magic characters', [], 'bad model file'],
    ['model instance exited with code 1: llama_model_load: error loading model: tensor data is not within the file bounds', [], 'bad model file'],
    ['something else', [], 'something else'],
  ])('%s → %s', (message, logTail, cause) => {
    expect(modelFailureCause({ message, exitCode: 1, logTail }).text).toMatch(new RegExp(`^${cause}`));
  });
});
