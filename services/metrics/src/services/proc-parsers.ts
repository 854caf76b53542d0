// Pure parsers for the procfs files the collector reads. Kept free of I/O so they are tested on
// captured text; see proc-parsers.spec.ts.

/** Jiffies of one CPU line of /proc/stat: busy and total (idle = idle + iowait). */
export interface CpuTimes {
  busy: number;
  total: number;
}

export interface CpuStat {
  all: CpuTimes;
  /** By core number (`cpu3` → 3); a core taken offline is simply missing. */
  cores: Map<number, CpuTimes>;
}

/** `/proc/stat`: the `cpu` and `cpuN` lines. guest/guest_nice are already inside user/nice. */
export function parseCpuStat(text: string): CpuStat {
  let all: CpuTimes = { busy: 0, total: 0 };
  const cores = new Map<number, CpuTimes>();
  for (const line of text.split('\n')) {
    if (!line.startsWith('cpu')) {
      // The cpu lines come first; nothing of interest follows.
      if (cores.size > 0) {
        break;
      }
      continue;
    }
    const parts = line.split(/\s+/);
    const name = parts[0] ?? '';
    const [user, nice, system, idle, iowait, irq, softirq, steal] = parts.slice(1, 9).map((v) => Number(v) || 0);
    const idleAll = (idle ?? 0) + (iowait ?? 0);
    const total = (user ?? 0) + (nice ?? 0) + (system ?? 0) + idleAll + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0);
    const times = { busy: total - idleAll, total };
    if (name === 'cpu') {
      all = times;
    } else {
      const index = Number(name.slice(3));
      if (Number.isInteger(index)) {
        cores.set(index, times);
      }
    }
  }
  return { all, cores };
}

/** Busy share in percent between two readings; 0 when no time passed. */
export function cpuPercent(prev: CpuTimes | undefined, cur: CpuTimes): number {
  if (prev === undefined) {
    return 0;
  }
  const total = cur.total - prev.total;
  const busy = cur.busy - prev.busy;
  if (total <= 0 || busy < 0) {
    return 0;
  }
  return clamp((busy / total) * 100, 0, 100);
}

export interface MemInfo {
  totalBytes: number;
  usedBytes: number;
  swapTotalBytes: number;
  swapUsedBytes: number;
}

/** `/proc/meminfo`: used = total − available (what `free` calls available, caches excluded). */
export function parseMeminfo(text: string): MemInfo {
  const kb = new Map<string, number>();
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) {
      kb.set(line.slice(0, colon), Number.parseInt(line.slice(colon + 1), 10) || 0);
    }
  }
  const get = (key: string): number => kb.get(key) ?? 0;
  const total = get('MemTotal');
  const available = kb.has('MemAvailable') ? get('MemAvailable') : get('MemFree') + get('Buffers') + get('Cached');
  return {
    totalBytes: total * 1024,
    usedBytes: Math.max(0, total - available) * 1024,
    swapTotalBytes: get('SwapTotal') * 1024,
    swapUsedBytes: Math.max(0, get('SwapTotal') - get('SwapFree')) * 1024,
  };
}

/** `/proc/loadavg`: the 1, 5 and 15 minute averages. */
export function parseLoadavg(text: string): number[] {
  return text
    .trim()
    .split(/\s+/)
    .slice(0, 3)
    .map((v) => Number(v) || 0);
}

/** `/proc/uptime`: seconds since boot. */
export function parseUptime(text: string): number {
  return Number(text.trim().split(/\s+/)[0]) || 0;
}

/**
 * Interfaces left out of the host's throughput: loopback, and the virtual devices that carry
 * traffic which also crosses a physical interface (container veths and bridges, tunnels).
 */
export const VIRTUAL_INTERFACE = /^(lo|veth|docker|br-|virbr|cni|flannel|cali|vxlan|weave|kube-|tunl|tun|tap|wg|ifb|dummy)/;

export interface NetTotals {
  rxBytes: number;
  txBytes: number;
}

/** `/proc/<pid>/net/dev`: received and sent bytes summed over the non-virtual interfaces. */
export function parseNetDev(text: string, exclude: RegExp = VIRTUAL_INTERFACE): NetTotals {
  let rxBytes = 0;
  let txBytes = 0;
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) {
      continue;
    }
    const name = line.slice(0, colon).trim();
    if (name === '' || exclude.test(name)) {
      continue;
    }
    const fields = line.slice(colon + 1).trim().split(/\s+/);
    rxBytes += Number(fields[0]) || 0;
    txBytes += Number(fields[8]) || 0;
  }
  return { rxBytes, txBytes };
}

/** Per-second rate of a counter; a counter that went backwards (reset) counts from zero. */
export function counterRate(prev: number | undefined, cur: number, seconds: number): number {
  if (prev === undefined || seconds <= 0) {
    return 0;
  }
  const delta = cur >= prev ? cur - prev : cur;
  return delta / seconds;
}

export interface PidStat {
  comm: string;
  state: string;
  ppid: number;
  /** utime + stime, in clock ticks. */
  cpuTicks: number;
  /** Start time after boot, in clock ticks: with the pid, it identifies a process. */
  startTicks: number;
}

/** `/proc/<pid>/stat`. The command name is in parentheses and may itself hold spaces and ")". */
export function parsePidStat(text: string): PidStat | null {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) {
    return null;
  }
  const rest = text.slice(close + 2).split(' ');
  // rest[0] is field 3 (state); utime is field 14, stime 15, starttime 22.
  const num = (field: number): number => Number(rest[field - 3]) || 0;
  return {
    comm: text.slice(open + 1, close),
    state: rest[0] ?? '?',
    ppid: num(4),
    cpuTicks: num(14) + num(15),
    startTicks: num(22),
  };
}

/** `VmRSS` of `/proc/<pid>/status`, in bytes (0 for a kernel thread or a zombie). */
export function parseVmRssBytes(text: string): number {
  const at = text.indexOf('VmRSS:');
  if (at < 0) {
    return 0;
  }
  return (Number.parseInt(text.slice(at + 6), 10) || 0) * 1024;
}

/** The mount point holding `path`: the longest mount point of /proc/self/mountinfo that contains it. */
export function mountPointOf(mountinfo: string, path: string): string | null {
  let best: string | null = null;
  for (const line of mountinfo.split('\n')) {
    const field = line.split(' ')[4];
    if (field === undefined) {
      continue;
    }
    const mount = unescapeMountPath(field);
    const inside = mount === '/' || path === mount || path.startsWith(mount.endsWith('/') ? mount : `${mount}/`);
    if (inside && (best === null || mount.length > best.length)) {
      best = mount;
    }
  }
  return best;
}

/** mountinfo writes space, tab, newline and backslash as octal escapes. */
function unescapeMountPath(value: string): string {
  return value.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));
}

export function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}
