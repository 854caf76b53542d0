import {
  AppError,
  ErrorCode,
  formatArgPolicyProblem,
  ServerConfigSchema,
  type LlamaStatus,
  type PlacementMode,
  type PresetDocument,
  type ServerConfig,
} from '@llamaproxy/shared';
import type { Logger } from '@llamaproxy/shared/node';
import type { JsonFile, PresetFile } from '../repositories/preset-file.js';
import type { ArgGuard } from './arg-guard.js';
import type { CatalogueService } from './catalogue-service.js';
import { buildRouterArgs } from './llama-args.js';
import type { LaunchPlan, LlamaLifecycle } from './llama-lifecycle.js';
import type { RouterSync } from './router-sync.js';

export interface LaunchSettingsDeps {
  presets: Pick<PresetFile, 'path' | 'read' | 'write' | 'ensure'>;
  appliedConfig: Pick<JsonFile<ServerConfig>, 'path' | 'read' | 'write'>;
  /** The flag policy, enforced before the preset file is written and before llama-server starts. */
  guard: Pick<ArgGuard, 'extraArgsPolicyProblems' | 'checkExtraArgs' | 'checkPreset'>;
  /** Restarts llama-server under its lock to apply a configuration. */
  lifecycle: Pick<LlamaLifecycle, 'exclusive'>;
  /** Told to reread the preset once it was written. */
  router: Pick<RouterSync, 'reload'>;
  catalogue: Pick<CatalogueService, 'modelIds'>;
  logger: Logger;
  /** `memory`: the router's own autoload and count limit are off (see buildRouterArgs). Default `count`. */
  placementMode?: PlacementMode;
}

/**
 * What llama-server starts with: the server configuration (the environment's, or the one the
 * gateway last applied and that started) and the preset file, both held to the flag policy before
 * they are written and again before every start.
 */
export class LaunchSettings {
  private readonly deps: LaunchSettingsDeps;
  private readonly log: Logger;
  private config: ServerConfig;
  /** From the environment only: what llama-server reads and where it listens. */
  private readonly pinned: Pick<ServerConfig, 'modelsDir' | 'host' | 'port'>;

  constructor(config: ServerConfig, deps: LaunchSettingsDeps) {
    this.config = config;
    this.pinned = { modelsDir: config.modelsDir, host: config.host, port: config.port };
    this.deps = deps;
    this.log = deps.logger.child({ module: 'launch-settings' });
  }

  get current(): ServerConfig {
    return this.config;
  }

  /** Takes the configuration last applied by the gateway, when the policy allows it; creates the preset file. */
  async load(): Promise<void> {
    const { appliedConfig, guard } = this.deps;
    const parsed = ServerConfigSchema.safeParse(await appliedConfig.read());
    const refused = parsed.success ? guard.extraArgsPolicyProblems(parsed.data.extraArgs) : [];
    if (refused.length > 0) {
      // Written by an older version, or by hand: the environment's configuration is used instead.
      this.log.warn('ignoring the configuration last applied by the gateway: the flag policy refuses it', {
        path: appliedConfig.path,
        error: refused.map(formatArgPolicyProblem).join('; '),
      });
    } else if (parsed.success) {
      this.config = this.withPinned(parsed.data);
      this.log.info('using the configuration last applied by the gateway', { path: appliedConfig.path });
    }
    await this.deps.presets.ensure();
  }

  /**
   * The arguments to start llama-server with now. The policy again, on what llama-server is about
   * to read: the configuration may come from the environment or an older version, the preset from disk.
   */
  async plan(): Promise<LaunchPlan> {
    this.deps.guard.checkExtraArgs(this.config.extraArgs);
    this.deps.guard.checkPreset(await this.readPreset());
    return {
      args: buildRouterArgs(this.config, this.deps.presets.path, this.deps.placementMode),
      url: `http://${connectHost(this.config.host)}:${this.config.port}`,
    };
  }

  /**
   * Validates a new configuration, restarts llama-server with it and keeps it. When llama-server
   * will not start with it, the previous configuration is restored and the job fails with why.
   */
  applyConfig(next: ServerConfig): Promise<LlamaStatus> {
    return this.deps.lifecycle.exclusive(async (steps) => {
      this.deps.guard.checkExtraArgs(next.extraArgs);
      const config = this.withPinned(next);
      const previous = this.config;
      const wasRunning = steps.running;
      await steps.stop();
      this.config = config;
      try {
        const status = await steps.start();
        await this.deps.appliedConfig.write(config);
        return status;
      } catch (err) {
        this.log.warn('new configuration failed to start; restoring the previous one', { error: (err as Error).message });
        this.config = previous;
        if (wasRunning) {
          await steps.start().catch(() => undefined);
        }
        if (err instanceof AppError && err.code === ErrorCode.ARG_NOT_ALLOWED) {
          throw err;
        }
        throw new AppError(ErrorCode.INVALID_ARGUMENT, `llama-server did not start with the new configuration: ${(err as Error).message}`);
      }
    });
  }

  /**
   * Checks a preset against the flag policy and the binary's arguments, writes it and makes the
   * router reread it. Throws ARG_NOT_ALLOWED or PRESET_INVALID before anything is written.
   */
  async applyPreset(preset: PresetDocument): Promise<string> {
    // A custom entry needs a model source; sections named after a catalogue model are overrides.
    this.deps.guard.checkPreset(preset, this.deps.catalogue.modelIds);
    await this.deps.presets.write(preset);
    await this.deps.router.reload();
    return this.deps.presets.path;
  }

  private async readPreset(): Promise<PresetDocument> {
    try {
      return await this.deps.presets.read();
    } catch (err) {
      throw new AppError(ErrorCode.PRESET_INVALID, `the preset file cannot be read: ${(err as Error).message}`);
    }
  }

  /** A configuration with the values that only the environment sets. */
  private withPinned(config: ServerConfig): ServerConfig {
    return { ...config, ...this.pinned };
  }
}

/** Where to reach a server bound to `host` from this machine. */
export function connectHost(host: string): string {
  return host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
}
