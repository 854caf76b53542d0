import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, mkdir, open, readdir, rename, rm, stat, statfs } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import { AppError, DownloadStage, ErrorCode, type DownloadProgress, type DownloadResult } from '@llamaproxy/shared';
import type { HfHubClient } from '@llamaproxy/shared/node';
import type { DownloadPlan, PlannedFile } from '../services/downloads/download-plan.js';

/** Hidden folder of the models directory for files being downloaded (the router reads only `*.gguf` one level down). */
export const DOWNLOADS_DIR = '.downloads';
/** Suffix of a file being downloaded: not `.gguf`, so the router and the catalogue pass over it. */
export const PARTIAL_SUFFIX = '.partial';
/** Partial files untouched this long are removed when the supervisor starts (ms). */
export const PARTIAL_MAX_AGE_MS = 7 * 86_400_000;
/** Free space kept beyond the download's size (bytes). */
export const DISK_MARGIN_BYTES = 16 * 1024 * 1024;

export interface DownloadRun {
  repo: string;
  revision: string;
  plan: DownloadPlan;
  /** Called at most every `progressMs` and at each stage change. */
  onProgress: (progress: DownloadProgress) => Promise<void>;
  /** Asked with each progress report; true stops the download with JOB_CANCELLED. */
  isCancelled: () => Promise<boolean>;
}

export interface ModelDownloaderOptions {
  modelsDir: string;
  hub: Pick<HfHubClient, 'open'>;
  progressMs?: number;
  /** Free bytes of the file system holding `dir`; replaced in tests. */
  freeBytes?: (dir: string) => Promise<number>;
}

/**
 * Downloads a planned model into the models directory. Each file is written to
 * `.downloads/<sha256 or name>.partial` inside the models directory (same file system, so the
 * final rename is atomic), resumed with an HTTP Range request from what an earlier attempt or
 * process left there, hashed while it streams (a resumed file's kept bytes are hashed first) and
 * checked against the Hub's SHA-256 and size. Only when every file is complete and verified are
 * they renamed into place: `<name>.gguf`, or the folder `<name>/` (assembled in `.downloads`,
 * then renamed as one). Free space is checked first (statfs). Errors: DISK_FULL (partials
 * removed), CHECKSUM_MISMATCH (file removed), JOB_CANCELLED (partials removed), MODEL_EXISTS,
 * PATH_OUTSIDE_MODELS_DIR; network failures (HF_UNAVAILABLE) keep the partials for the retry.
 */
export class ModelDownloader {
  private readonly modelsDir: string;
  private readonly hub: Pick<HfHubClient, 'open'>;
  private readonly progressMs: number;
  private readonly freeBytes: (dir: string) => Promise<number>;

  constructor(options: ModelDownloaderOptions) {
    this.modelsDir = resolve(options.modelsDir);
    this.hub = options.hub;
    this.progressMs = options.progressMs ?? 500;
    this.freeBytes =
      options.freeBytes ??
      (async (dir) => {
        const s = await statfs(dir);
        return Number(s.bavail) * Number(s.bsize);
      });
  }

  /** Where a file's partial download lives (stable across attempts and restarts). */
  partialPath(file: PlannedFile, repo: string): string {
    const key = file.sha256 ?? createHash('sha256').update(`${repo}\0${file.repoPath}\0${file.sizeBytes}`).digest('hex');
    return join(this.modelsDir, DOWNLOADS_DIR, `${key.slice(0, 32)}-${file.fileName}${PARTIAL_SUFFIX}`);
  }

  /**
   * Removes what downloads left in `.downloads` and did not touch for `maxAgeMs` (a download that
   * failed for good, or a job that vanished with its supervisor); returns how many entries went.
   * A download still being retried touches its partial file, so it is kept.
   */
  async sweep(maxAgeMs: number, now = Date.now()): Promise<number> {
    const dir = join(this.modelsDir, DOWNLOADS_DIR);
    const names = await readdir(dir).catch(() => [] as string[]);
    let removed = 0;
    for (const name of names) {
      const path = join(dir, name);
      const st = await lstat(path).catch(() => null);
      if (st !== null && now - st.mtimeMs > maxAgeMs) {
        await rm(path, { recursive: true, force: true });
        removed++;
      }
    }
    return removed;
  }

  /** Removes the partial files of a plan (cancel, a failure that a retry cannot mend). */
  async discard(plan: DownloadPlan, repo: string): Promise<void> {
    for (const file of plan.files) {
      await rm(this.partialPath(file, repo), { force: true });
    }
    await rm(this.stagingPath(plan), { recursive: true, force: true });
  }

  async run(run: DownloadRun): Promise<DownloadResult> {
    const { plan, repo } = run;
    const target = this.inside(plan.target);
    if (await exists(target)) {
      throw new AppError(ErrorCode.MODEL_EXISTS, `the models directory already has "${plan.target}"`);
    }
    await mkdir(join(this.modelsDir, DOWNLOADS_DIR), { recursive: true });
    const kept = await Promise.all(plan.files.map(async (f) => Math.min(f.sizeBytes, (await stat(this.partialPath(f, repo)).catch(() => null))?.size ?? 0)));
    const resumedBytes = kept.reduce((a, b) => a + b, 0);
    const needed = plan.totalBytes - resumedBytes;
    const free = await this.freeBytes(this.modelsDir);
    if (free < needed + DISK_MARGIN_BYTES) {
      throw new AppError(ErrorCode.DISK_FULL, `not enough free space in the models directory: ${mib(needed)} MiB needed (and ${mib(DISK_MARGIN_BYTES)} MiB spare), ${mib(free)} MiB free`);
    }
    const meter = new Meter(plan.totalBytes, resumedBytes, this.progressMs, run);
    await meter.report(DownloadStage.downloading, plan.files[0]?.repoPath ?? null, true);
    try {
      for (const file of plan.files) {
        await this.fetchFile(run, file, meter);
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOSPC') {
        await this.discard(plan, repo);
        throw new AppError(ErrorCode.DISK_FULL, 'the models directory ran out of space during the download; the partial files were removed', { cause: err });
      }
      if (err instanceof AppError && (err.code === ErrorCode.JOB_CANCELLED || err.code === ErrorCode.DISK_FULL)) {
        await this.discard(plan, repo);
      }
      throw err;
    }
    // A cancel that came after the last progress check (a short download, or the last chunk) still
    // wins: the model is not installed.
    if (await run.isCancelled()) {
      await this.discard(plan, repo);
      throw new AppError(ErrorCode.JOB_CANCELLED, 'the download was cancelled');
    }
    await meter.report(DownloadStage.installing, null, true);
    await this.install(plan, repo, target);
    return { modelId: plan.modelId, path: plan.target, bytes: plan.totalBytes, resumedBytes };
  }

  /** Fetches one file to its partial path (resuming), then verifies it; CHECKSUM_MISMATCH removes it. */
  private async fetchFile(run: DownloadRun, file: PlannedFile, meter: Meter): Promise<void> {
    const partial = this.partialPath(file, run.repo);
    let have = (await stat(partial).catch(() => null))?.size ?? 0;
    if (have > file.sizeBytes) {
      await rm(partial, { force: true });
      have = 0;
    }
    const hash = createHash('sha256');
    if (have > 0) {
      await hashFile(partial, hash);
    }
    if (have < file.sizeBytes) {
      const controller = new AbortController();
      const response = await this.hub.open(run.repo, run.revision, file.repoPath, have, controller.signal);
      if (response.start !== have) {
        // The server sent the whole file (no range support) or another range: start over.
        meter.add(-have);
        have = 0;
        hash.destroy();
        return this.restart(run, file, meter, partial, response.body);
      }
      await this.append(partial, response.body, hash, meter, file, run, controller);
    }
    await meter.report(DownloadStage.verifying, file.repoPath, true);
    await this.verify(partial, file, hash);
  }

  private async restart(run: DownloadRun, file: PlannedFile, meter: Meter, partial: string, body: ReadableStream<Uint8Array>): Promise<void> {
    await rm(partial, { force: true });
    const hash = createHash('sha256');
    await this.append(partial, body, hash, meter, file, run, new AbortController());
    await meter.report(DownloadStage.verifying, file.repoPath, true);
    await this.verify(partial, file, hash);
  }

  private async append(partial: string, body: ReadableStream<Uint8Array>, hash: Hash, meter: Meter, file: PlannedFile, run: DownloadRun, controller: AbortController): Promise<void> {
    const handle = await open(partial, 'a');
    let written = (await handle.stat()).size;
    const reader = body.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) {
          break;
        }
        if (written + value.length > file.sizeBytes) {
          throw new AppError(ErrorCode.CHECKSUM_MISMATCH, `${file.repoPath}: the Hub sent more than the ${file.sizeBytes} bytes it announced`);
        }
        await handle.write(value);
        hash.update(value);
        written += value.length;
        meter.add(value.length);
        if (await meter.tick(file.repoPath)) {
          controller.abort();
          throw new AppError(ErrorCode.JOB_CANCELLED, 'the download was cancelled');
        }
      }
    } catch (err) {
      await reader.cancel().catch(() => undefined);
      if (err instanceof AppError) {
        if (err.code === ErrorCode.CHECKSUM_MISMATCH) {
          await handle.close();
          await rm(partial, { force: true });
        }
        throw err;
      }
      if ((err as NodeJS.ErrnoException).code === 'ENOSPC') {
        throw err;
      }
      throw new AppError(ErrorCode.HF_UNAVAILABLE, `${file.repoPath}: the download broke off after ${written} of ${file.sizeBytes} bytes; it resumes from there`, { cause: err });
    } finally {
      await handle.close().catch(() => undefined);
    }
  }

  private async verify(partial: string, file: PlannedFile, hash: Hash): Promise<void> {
    const size = (await stat(partial)).size;
    const digest = hash.digest('hex');
    if (size !== file.sizeBytes || (file.sha256 !== null && digest !== file.sha256)) {
      await rm(partial, { force: true });
      throw new AppError(
        ErrorCode.CHECKSUM_MISMATCH,
        size !== file.sizeBytes
          ? `${file.repoPath}: ${size} bytes arrived, the Hub announced ${file.sizeBytes}; the file was discarded`
          : `${file.repoPath}: SHA-256 ${digest.slice(0, 16)}… differs from the Hub's ${file.sha256?.slice(0, 16) ?? ''}…; the file was discarded`,
      );
    }
  }

  private stagingPath(plan: DownloadPlan): string {
    return join(this.modelsDir, DOWNLOADS_DIR, `${plan.modelId}.staging`);
  }

  /** Renames the verified files into place: one rename for a file, one for an assembled folder. */
  private async install(plan: DownloadPlan, repo: string, target: string): Promise<void> {
    if (await exists(target)) {
      throw new AppError(ErrorCode.MODEL_EXISTS, `the models directory already has "${plan.target}"`);
    }
    if (plan.layout === 'file') {
      const only = plan.files[0]!;
      await rename(this.partialPath(only, repo), target);
      return;
    }
    const staging = this.stagingPath(plan);
    await rm(staging, { recursive: true, force: true });
    await mkdir(staging, { recursive: true });
    for (const file of plan.files) {
      await rename(this.partialPath(file, repo), join(staging, file.fileName));
    }
    await rename(staging, target);
  }

  /** `rel` resolved inside the models directory; PATH_OUTSIDE_MODELS_DIR otherwise. */
  inside(rel: string): string {
    const path = resolve(this.modelsDir, rel);
    const r = relative(this.modelsDir, path);
    if (r === '' || r.startsWith('..') || r.split(sep)[0] === DOWNLOADS_DIR || resolve(this.modelsDir, r) !== path) {
      throw new AppError(ErrorCode.PATH_OUTSIDE_MODELS_DIR, `"${rel.slice(0, 300)}" is not inside the models directory`);
    }
    return path;
  }
}

/** Bytes done, speed over a sliding window, and throttled progress reports with the cancel check. */
class Meter {
  private done: number;
  private last = 0;
  private readonly window: { at: number; done: number }[] = [];

  private readonly total: number;
  private readonly everyMs: number;
  private readonly run: DownloadRun;

  constructor(total: number, initial: number, everyMs: number, run: DownloadRun) {
    this.total = total;
    this.everyMs = everyMs;
    this.run = run;
    this.done = initial;
  }

  add(bytes: number): void {
    this.done += bytes;
  }

  /** Reports when due; returns whether the download was cancelled. */
  async tick(file: string): Promise<boolean> {
    if (Date.now() - this.last < this.everyMs) {
      return false;
    }
    await this.report(DownloadStage.downloading, file, false);
    return this.run.isCancelled();
  }

  async report(stage: DownloadStage, file: string | null, force: boolean): Promise<void> {
    const now = Date.now();
    if (!force && now - this.last < this.everyMs) {
      return;
    }
    this.last = now;
    this.window.push({ at: now, done: this.done });
    while (this.window.length > 2 && now - this.window[0]!.at > 5000) {
      this.window.shift();
    }
    const first = this.window[0]!;
    const seconds = (now - first.at) / 1000;
    const speed = seconds > 0 ? Math.max(0, (this.done - first.done) / seconds) : 0;
    const left = Math.max(0, this.total - this.done);
    await this.run.onProgress({
      stage,
      bytesDone: Math.min(this.done, this.total),
      bytesTotal: this.total,
      bytesPerSec: Math.round(speed),
      etaSec: speed > 0 ? Math.round(left / speed) : left === 0 ? 0 : null,
      file,
    });
  }
}

async function hashFile(path: string, hash: Hash): Promise<void> {
  for await (const chunk of createReadStream(path)) {
    hash.update(chunk as Buffer);
  }
}

async function exists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    () => false,
  );
}

function mib(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(1);
}
