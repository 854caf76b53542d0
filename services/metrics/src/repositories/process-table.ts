import { readFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { parsePidStat, parseVmRssBytes } from '../services/proc-parsers.js';
import { ProcFile } from './proc-file.js';

export interface ProcessReading {
  pid: number;
  /** utime + stime in clock ticks. */
  cpuTicks: number;
  startTicks: number;
  rssBytes: number;
}

interface Tracked {
  stat: ProcFile;
  status: ProcFile;
}

/** Without a reason to look sooner, the process list is read this often. */
const FULL_SCAN_EVERY_MS = 10_000;

/**
 * Finds the processes named `name` (llama-server: the router and every model instance it spawns)
 * in a procfs and reads their CPU time and resident memory.
 *
 * Cheap on purpose. The stat and status files of the matching processes stay open and are re-read
 * in place every sample. The process list itself (a readdir of /proc, and the name of each pid not
 * seen before) is read only every 10 s, when a tracked process is gone, and when `rescan()` says
 * something changed (a model was loaded or unloaded).
 */
export class ProcessTable {
  private readonly procRoot: string;
  /** `comm` is the executable name cut to 15 characters. */
  private readonly comm: string;
  private readonly now: () => number;
  /** pid → whether it matched; a non-match is checked again once (a fork is renamed at its exec). */
  private readonly classified = new Map<number, { match: boolean; rechecked: boolean }>();
  private readonly tracked = new Map<number, Tracked>();
  private lastFullScan = Number.NEGATIVE_INFINITY;
  private rescanRequested = true;

  constructor(name: string, procRoot = '/proc', now: () => number = Date.now) {
    this.comm = name.slice(0, 15);
    this.procRoot = procRoot;
    this.now = now;
  }

  /** The next `scan()` reads the whole process list. */
  rescan(): void {
    this.rescanRequested = true;
  }

  async scan(): Promise<ProcessReading[]> {
    if (this.rescanRequested || this.now() - this.lastFullScan >= FULL_SCAN_EVERY_MS) {
      await this.fullScan();
    }
    const readings: ProcessReading[] = [];
    for (const [pid, files] of this.tracked) {
      const stat = files.stat.tryRead();
      const parsed = stat === null ? null : parsePidStat(stat);
      if (parsed === null || parsed.state === 'Z') {
        // Gone (or a zombie waiting for its parent): forget it, and look for a successor next time.
        this.classified.delete(pid);
        this.untrack(pid);
        this.rescanRequested = true;
        continue;
      }
      readings.push({ pid, cpuTicks: parsed.cpuTicks, startTicks: parsed.startTicks, rssBytes: parseVmRssBytes(files.status.tryRead() ?? '') });
    }
    return readings;
  }

  private async fullScan(): Promise<void> {
    this.rescanRequested = false;
    this.lastFullScan = this.now();
    const entries = await readdir(this.procRoot);
    const present = new Set<number>();
    for (const entry of entries) {
      const code = entry.charCodeAt(0);
      if (code < 48 || code > 57) {
        continue;
      }
      const pid = Number(entry);
      present.add(pid);
      const known = this.classified.get(pid);
      if (known === undefined || (!known.match && !known.rechecked)) {
        this.classify(pid, known !== undefined);
      }
    }
    for (const pid of this.classified.keys()) {
      if (!present.has(pid)) {
        this.classified.delete(pid);
        this.untrack(pid);
      }
    }
  }

  /** Synchronous on purpose: a procfs read is served from kernel memory in microseconds. */
  private classify(pid: number, recheck: boolean): void {
    let name: string;
    try {
      name = readFileSync(`${this.procRoot}/${pid}/comm`, 'latin1').trimEnd();
    } catch {
      return; // Exited meanwhile; the next readdir forgets it.
    }
    const match = name === this.comm;
    this.classified.set(pid, { match, rechecked: recheck });
    if (match && !this.tracked.has(pid)) {
      this.tracked.set(pid, {
        stat: new ProcFile(`${this.procRoot}/${pid}/stat`, 1024),
        status: new ProcFile(`${this.procRoot}/${pid}/status`, 4096),
      });
    }
  }

  private untrack(pid: number): void {
    const files = this.tracked.get(pid);
    if (files !== undefined) {
      files.stat.close();
      files.status.close();
      this.tracked.delete(pid);
    }
  }

  close(): void {
    for (const pid of [...this.tracked.keys()]) {
      this.untrack(pid);
    }
    this.classified.clear();
  }
}
