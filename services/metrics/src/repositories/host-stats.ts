import { parseCpuStat, parseLoadavg, parseMeminfo, parseNetDev, parseUptime, type CpuStat, type MemInfo, type NetTotals } from '../services/proc-parsers.js';
import { ProcFile } from './proc-file.js';

export interface HostReading {
  cpu: CpuStat;
  memory: MemInfo;
  load: number[];
  uptimeSec: number;
  /** Null when no net/dev file can be read. */
  network: NetTotals | null;
}

/**
 * Host-wide counters from procfs. /proc/stat, meminfo, loadavg and uptime are not namespaced, so
 * they tell the host's truth even inside a container. Network devices are namespaced: they are
 * read from `<procRoot>/1/net/dev` (the network of that procfs' PID 1: the host's when the
 * host's /proc is mounted there), falling back to the reader's own `<procRoot>/self/net/dev`.
 */
export class HostStats {
  private readonly stat: ProcFile;
  private readonly meminfo: ProcFile;
  private readonly loadavg: ProcFile;
  private readonly uptime: ProcFile;
  private readonly netCandidates: ProcFile[];
  private net: ProcFile | null = null;

  constructor(procRoot = '/proc') {
    this.stat = new ProcFile(`${procRoot}/stat`, 16_384);
    this.meminfo = new ProcFile(`${procRoot}/meminfo`, 8192);
    this.loadavg = new ProcFile(`${procRoot}/loadavg`, 256);
    this.uptime = new ProcFile(`${procRoot}/uptime`, 256);
    this.netCandidates = [new ProcFile(`${procRoot}/1/net/dev`), new ProcFile(`${procRoot}/self/net/dev`)];
  }

  /** Where network figures come from, once known (for the startup log). */
  get networkSource(): string | null {
    return this.net?.path ?? null;
  }

  read(): HostReading {
    return {
      cpu: parseCpuStat(this.stat.read()),
      memory: parseMeminfo(this.meminfo.read()),
      load: parseLoadavg(this.loadavg.read()),
      uptimeSec: parseUptime(this.uptime.read()),
      network: this.readNet(),
    };
  }

  private readNet(): NetTotals | null {
    if (this.net !== null) {
      const text = this.net.tryRead();
      if (text !== null) {
        return parseNetDev(text);
      }
      this.net = null;
    }
    for (const candidate of this.netCandidates) {
      const text = candidate.tryRead();
      if (text !== null) {
        this.net = candidate;
        return parseNetDev(text);
      }
    }
    return null;
  }

  close(): void {
    for (const file of [this.stat, this.meminfo, this.loadavg, this.uptime, ...this.netCandidates]) {
      file.close();
    }
  }
}
