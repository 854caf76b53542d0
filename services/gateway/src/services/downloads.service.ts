import type { Redis } from 'ioredis';
import {
  AppError,
  checkDownloadName,
  controlRunId,
  DownloadPayloadSchema,
  ErrorCode,
  fitsNodeMemory,
  groupRepoFiles,
  HfFileGroupKind,
  type DownloadView,
  type HfFileGroup,
  type HfModelSummary,
  type MetricsSample,
} from '@llamaproxy/shared';
import type { HfHubClient, Logger } from '@llamaproxy/shared/node';
import type { DownloadQueue } from '../repositories/download-queue.js';
import type { ActivityLog } from './activity-log.js';
import type { Broadcaster } from './broadcaster.js';

export interface DownloadServiceDeps {
  queue: Pick<DownloadQueue, 'add' | 'get' | 'list' | 'cancel'>;
  hub: Pick<HfHubClient, 'search' | 'files'>;
  /** The node's latest metrics sample, for what fits its memory. */
  latestMetrics: () => MetricsSample | null;
  broadcaster: Pick<Broadcaster, 'broadcast'>;
  activity: Pick<ActivityLog, 'record'>;
  /** Marks an event as broadcast across replicas (SET NX), so each is sent once. */
  redis: Pick<Redis, 'set'>;
  enabled: boolean;
  logger: Logger;
}

export interface StartDownload {
  repo: string;
  revision: string;
  files: string[];
  name?: string | undefined;
}

/**
 * Model downloads as the dashboard sees them: Hub search and repository listings (rows marked by
 * whether they fit the node's memory), queueing and cancelling downloads, and relaying their
 * progress to every client once (whichever replica hears it first).
 */
export class DownloadService {
  private readonly deps: DownloadServiceDeps;
  private readonly log: Logger;

  constructor(deps: DownloadServiceDeps) {
    this.deps = deps;
    this.log = deps.logger.child({ module: 'downloads' });
  }

  search(query: string, limit: number): Promise<HfModelSummary[]> {
    return this.deps.hub.search(query, limit);
  }

  /** A repository's GGUF rows; HF_NO_GGUF when it has none. */
  async files(repo: string, revision: string): Promise<HfFileGroup[]> {
    const groups = groupRepoFiles(await this.deps.hub.files(repo, revision));
    if (!groups.some((g) => g.kind === HfFileGroupKind.model)) {
      throw new AppError(ErrorCode.HF_NO_GGUF, `${repo} has no GGUF model file`);
    }
    const sample = this.deps.latestMetrics();
    return groups.map((g) => (g.kind === HfFileGroupKind.model ? { ...g, fits: fitsNodeMemory(g.sizeBytes, sample) } : g));
  }

  /**
   * Queues a download. The name defaults to the model row's suggested name and must stay inside
   * the models directory (PATH_OUTSIDE_MODELS_DIR); DOWNLOADS_DISABLED when switched off. The
   * supervisor checks the files against the repository again before it writes anything.
   */
  async start(req: StartDownload): Promise<DownloadView> {
    if (!this.deps.enabled) {
      throw new AppError(ErrorCode.DOWNLOADS_DISABLED, 'model downloads are off (MODEL_DOWNLOADS=off)');
    }
    const model = groupRepoFiles(req.files.map((path) => ({ path, sizeBytes: 0, sha256: null }))).find((g) => g.kind === HfFileGroupKind.model);
    if (model === undefined) {
      throw new AppError(ErrorCode.HF_NO_GGUF, 'the files asked for include no GGUF model file');
    }
    const name = checkDownloadName(req.name ?? model.suggestedName);
    const payload = DownloadPayloadSchema.parse({ repo: req.repo, revision: req.revision, files: req.files, name });
    const view = await this.deps.queue.add(payload, controlRunId(`download-${name}`));
    await this.deps.activity.record('info', `download queued: ${req.repo} → ${name}`, null);
    await this.relay(view, 'queued');
    return view;
  }

  async cancel(downloadId: string): Promise<DownloadView> {
    const view = await this.deps.queue.cancel(downloadId);
    await this.relay(view, 'cancel');
    return view;
  }

  list(): Promise<DownloadView[]> {
    return this.deps.queue.list();
  }

  /** A queue event: the download's view, broadcast once across replicas. */
  onEvent = async (jobId: string, kind: string): Promise<void> => {
    const view = await this.deps.queue.get(jobId);
    if (view === null) {
      return;
    }
    await this.relay(view, kind);
  };

  private async relay(view: DownloadView, kind: string): Promise<void> {
    const key = `llamaproxy:downloads:seen:${view.id}:${kind}:${view.state}:${view.progress?.stage ?? ''}:${view.progress?.bytesDone ?? ''}`;
    const first = await this.deps.redis.set(key, '1', 'EX', 300, 'NX').catch(() => 'OK');
    if (first !== 'OK') {
      return;
    }
    await this.deps.broadcaster.broadcast('downloads:progress', { download: view });
    if (kind === 'completed' || kind === 'failed') {
      const what = `download ${view.repo} → ${view.name}`;
      if (view.state === 'completed') {
        await this.deps.activity.record('info', `${what} done`, view.name);
      } else {
        await this.deps.activity.record('warn', `${what} ${view.state}: ${view.error?.message ?? ''}`, view.name);
      }
      this.log.info('download ended', { id: view.id, state: view.state, code: view.error?.code ?? null });
    }
  }
}
