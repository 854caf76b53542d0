import {
  AppError,
  DashboardSettingsSchema,
  ErrorCode,
  extraArgsProblems,
  JobName,
  parsePresetIni,
  presetProblems,
  RedisKeys,
  serializePresetIni,
  ServerConfigSchema,
  type Cursors,
  type DashboardSettings,
  type JobPayloads,
  type JobRef,
  type LogRecord,
  type ParsedRequest,
  type PresetDocument,
  type RequestEvent,
  type ResponseData,
  type Role,
  type ServerConfig,
  type Snapshot,
} from '@llamaproxy/shared';
import type { Logger } from '@llamaproxy/shared/node';
import type { Redis } from 'ioredis';
import type { ControlQueue, JobUpdate } from '../repositories/control-queue.js';
import type { LogRepository } from '../repositories/log.repository.js';
import { tierFor, type MetricsRepository } from '../repositories/metrics.repository.js';
import type { Broadcaster } from './broadcaster.js';
import type { DashboardState } from './dashboard-state.js';

export interface RequestContext {
  socketId: string;
  role: Role;
}

type Handler<E extends RequestEvent> = (req: ParsedRequest<E>, ctx: RequestContext) => Promise<ResponseData[E]>;
export type Handlers = { [E in RequestEvent]: Handler<E> };

/** Most log lines a resuming client gets at once; beyond that it starts fresh. */
const RESUME_LOG_LIMIT = 5000;

export interface ApiDeps {
  dashboard: DashboardState;
  logs: LogRepository;
  metrics: MetricsRepository;
  control: ControlQueue;
  broadcaster: Broadcaster;
  redis: Redis;
  logger: Logger;
}

/**
 * What every request does. Reads come from SQLite; intents become control jobs for the
 * supervisor, and what they change is stored and broadcast when the job succeeds.
 */
export class ApiService {
  private readonly deps: ApiDeps;
  private readonly log: Logger;
  /** Documents to store once their job completes, by job id. */
  private readonly pending = new Map<string, { kind: 'config'; config: ServerConfig } | { kind: 'preset'; preset: PresetDocument }>();
  readonly handlers: Handlers;

  constructor(deps: ApiDeps) {
    this.deps = deps;
    this.log = deps.logger.child({ module: 'api' });
    const d = deps.dashboard;
    this.handlers = {
      'models:list': async () => ({ models: d.modelViews() }),
      'models:get': async ({ modelId }) => ({ model: this.requireModel(modelId) }),
      'models:load': async ({ modelId }) => {
        const model = this.requireModel(modelId);
        if (!model.valid) {
          throw new AppError(ErrorCode.MODEL_INVALID, `${modelId}: ${model.invalidReason ?? 'not a valid GGUF file'}`);
        }
        return { job: await this.enqueue(JobName.modelLoad, { modelId }, `load requested: ${modelId}`, modelId) };
      },
      'models:unload': async ({ modelId }) => {
        this.requireModel(modelId);
        return { job: await this.enqueue(JobName.modelUnload, { modelId }, `unload requested: ${modelId}`, modelId) };
      },
      'models:rescan': async () => ({ job: await this.enqueue(JobName.modelsRescan, {}, 'rescan of the models directory requested') }),
      'models:settings:get': async ({ modelId }) => ({ modelId, settings: this.requireModel(modelId).settings }),
      'models:settings:update': async ({ modelId, settings }) => {
        this.requireModel(modelId);
        const current = d.preset();
        const others = current.sections.filter((s) => s.name !== modelId);
        const preset: PresetDocument = {
          global: current.global,
          sections: Object.keys(settings).length > 0 ? [...others, { name: modelId, values: settings }] : others,
        };
        const job = await this.applyPreset(preset, `settings of ${modelId} changed`);
        return { modelId, settings, job };
      },
      'presets:get': async () => {
        const preset = d.preset();
        return { preset, ini: serializePresetIni(preset) };
      },
      'presets:update': async (req) => {
        const preset = 'preset' in req ? req.preset : this.parseIni(req.ini);
        const job = await this.applyPreset(preset, 'preset changed');
        return { preset, ini: serializePresetIni(preset), job };
      },
      'presets:validate': async (req) => {
        const parsed = 'ini' in req ? parsePresetIni(req.ini) : { ok: true as const, preset: req.preset };
        if (!parsed.ok) {
          return { valid: false, problems: parsed.problems };
        }
        const problems = presetProblems(parsed.preset, this.args());
        return { valid: problems.length === 0, problems: problems.map((message) => ({ line: 0, message })) };
      },
      'llama:status': async () => ({ nodes: d.llamaStatuses() }),
      'llama:start': async () => ({ job: await this.enqueue(JobName.serverStart, {}, 'llama-server start requested') }),
      'llama:stop': async () => ({ job: await this.enqueue(JobName.serverStop, {}, 'llama-server stop requested') }),
      'llama:restart': async () => ({ job: await this.enqueue(JobName.serverRestart, {}, 'llama-server restart requested') }),
      'llama:args': async () => ({ catalogue: d.args(this.deps.control.nodeId) }),
      'config:get': async () => ({ config: d.serverConfig() }),
      'config:update': async ({ config: patch }) => {
        const parsed = ServerConfigSchema.safeParse({ ...d.serverConfig(), ...patch });
        if (!parsed.success) {
          throw new AppError(ErrorCode.CONFIG_INVALID, parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
        }
        const problems = extraArgsProblems(parsed.data.extraArgs, this.args());
        if (problems.length > 0) {
          throw new AppError(ErrorCode.INVALID_ARGUMENT, problems.join('; '));
        }
        const job = await this.enqueue(JobName.configApply, { config: parsed.data }, 'server configuration change requested');
        this.pending.set(job.jobId, { kind: 'config', config: parsed.data });
        return { config: parsed.data, job };
      },
      'metrics:latest': async () => ({ sample: d.latestMetrics() }),
      'metrics:history': async ({ from, to, resolution, series }) => {
        if (to < from) {
          throw new AppError(ErrorCode.VALIDATION_FAILED, '`to` is before `from`');
        }
        const tier = resolution === 'auto' ? tierFor(from, to) : resolution;
        return { resolution: tier, series: this.deps.metrics.history(tier, series, from, to) };
      },
      'logs:query': async (q) => this.deps.logs.query(q),
      'logs:clear': async () => {
        const cleared = this.deps.logs.clear();
        await this.deps.broadcaster.broadcast('logs:cleared', { cleared });
        return { cleared };
      },
      'settings:get': async () => ({ settings: d.settings() }),
      'settings:update': async ({ settings: patch }) => {
        const settings: DashboardSettings = DashboardSettingsSchema.parse({ ...d.settings(), ...patch });
        d.saveSettings(settings);
        await this.deps.broadcaster.broadcast('settings:updated', { settings });
        await this.shareSettings(settings);
        return { settings };
      },
      'snapshot:get': async ({ cursors }) => this.snapshot(cursors),
    };
  }

  /**
   * Services that follow settings live (the metrics interval) read the channel, and the key when
   * they start later.
   */
  async shareSettings(settings = this.deps.dashboard.settings()): Promise<void> {
    const text = JSON.stringify(settings);
    await this.deps.redis.set(RedisKeys.settingsKey, text).catch(() => null);
    await this.deps.redis.publish(RedisKeys.settingsChannel, text).catch(() => 0);
  }

  /** The full state; with cursors, also every log line after the client's last one. */
  async snapshot(cursors?: Cursors): Promise<Snapshot> {
    const d = this.deps.dashboard;
    // Read the cursors first: anything that happens while we read is broadcast after them.
    const eventSeq = await this.deps.broadcaster.currentSeq();
    const logId = this.deps.logs.latestId();
    let logs;
    let logsTruncated = false;
    if (cursors !== undefined) {
      const page = this.deps.logs.query({ afterId: cursors.logId, limit: RESUME_LOG_LIMIT });
      logs = page.entries;
      logsTruncated = page.hasMore;
      if (logsTruncated) {
        // Too much was missed: the client starts over from the newest lines.
        logs = this.deps.logs.query({ limit: RESUME_LOG_LIMIT }).entries.reverse();
      }
    } else {
      logs = this.deps.logs.query({ limit: 200 }).entries.reverse();
    }
    return {
      models: d.modelViews(),
      llama: d.llamaStatuses(),
      config: d.serverConfig(),
      settings: d.settings(),
      metrics: d.latestMetrics(),
      logs,
      logsTruncated,
      cursors: { logId, eventSeq },
    };
  }

  /** Job updates from the control queue: relay progress, store and broadcast outcomes. */
  onJobUpdate = async (update: JobUpdate): Promise<void> => {
    const { job, state, progress, error } = update;
    await this.deps.broadcaster.broadcast('jobs:progress', { job, state, progress, error });
    if (state !== 'completed' && state !== 'failed') {
      return;
    }
    const pending = this.pending.get(job.jobId);
    this.pending.delete(job.jobId);
    const what = job.subject === null ? job.name : `${job.name} ${job.subject}`;
    if (state === 'failed') {
      await this.activity('warn', `${what} failed: ${error?.message ?? 'unknown error'}`, job.subject);
      return;
    }
    await this.activity('info', `${what} done`, job.subject);
    if (pending?.kind === 'config') {
      this.deps.dashboard.saveServerConfig(pending.config);
      await this.deps.broadcaster.broadcast('config:updated', { config: pending.config });
    } else if (pending?.kind === 'preset') {
      this.deps.dashboard.savePreset(pending.preset);
      await this.deps.broadcaster.broadcast('presets:updated', { preset: pending.preset, ini: serializePresetIni(pending.preset) });
      await this.deps.broadcaster.broadcast('models:list', { models: this.deps.dashboard.modelViews() });
    }
  };

  private async applyPreset(preset: PresetDocument, what: string): Promise<JobRef> {
    const problems = presetProblems(preset, this.args());
    if (problems.length > 0) {
      throw new AppError(ErrorCode.PRESET_INVALID, problems.join('; '));
    }
    const job = await this.enqueue(JobName.presetApply, { preset }, what);
    this.pending.set(job.jobId, { kind: 'preset', preset });
    return job;
  }

  private parseIni(ini: string): PresetDocument {
    const parsed = parsePresetIni(ini);
    if (!parsed.ok) {
      throw new AppError(ErrorCode.PRESET_INVALID, parsed.problems.map((p) => `line ${p.line}: ${p.message}`).join('; '));
    }
    return parsed.preset;
  }

  private args() {
    return this.deps.dashboard.args(this.deps.control.nodeId)?.args ?? null;
  }

  private requireModel(modelId: string) {
    const model = this.deps.dashboard.modelViews().find((m) => m.id === modelId);
    if (!model) {
      throw new AppError(ErrorCode.MODEL_NOT_FOUND, `no model "${modelId}"`);
    }
    return model;
  }

  private async enqueue<K extends JobName>(name: K, payload: JobPayloads[K], what: string, modelId: string | null = null): Promise<JobRef> {
    const job = await this.deps.control.add(name, payload);
    if (job.created) {
      await this.activity('info', what, modelId);
    }
    return job;
  }

  /** Records an intent or outcome in the log, visible on the Logs page. */
  private async activity(level: LogRecord['level'], message: string, modelId: string | null = null): Promise<void> {
    const entries = this.deps.logs.insert([{ ts: Date.now(), level, source: 'gateway', nodeId: this.deps.control.nodeId, modelId, message }]);
    this.log.info(message);
    await this.deps.broadcaster.broadcast('logs:entry', { entries });
  }
}
