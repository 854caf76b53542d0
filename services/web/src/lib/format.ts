/** Display formatting. Every function accepts null and shows "—" for missing values. */
export type MemoryUnits = 'binary' | 'decimal';
export type TemperatureUnit = 'c' | 'f';

const DASH = '—';

export function formatBytes(bytes: number | null, units: MemoryUnits = 'binary'): string {
  if (bytes === null || !Number.isFinite(bytes)) {
    return DASH;
  }
  const step = units === 'binary' ? 1024 : 1000;
  const names = units === 'binary' ? ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'] : ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let value = Math.abs(bytes);
  let i = 0;
  while (value >= step && i < names.length - 1) {
    value /= step;
    i++;
  }
  const digits = i === 0 || value >= 100 ? 0 : value >= 10 ? 1 : 2;
  return `${bytes < 0 ? '-' : ''}${value.toFixed(digits)} ${names[i] ?? ''}`;
}

export function formatPct(value: number | null, digits = 1): string {
  return value === null || !Number.isFinite(value) ? DASH : `${value.toFixed(digits)} %`;
}

/** Share of `used` in `total` in percent, or null when unknown. */
export function pct(used: number | null, total: number | null): number | null {
  return used === null || total === null || total <= 0 ? null : (used / total) * 100;
}

/** "3d 4h", "5h 12m", "4m 3s", "12s". */
export function formatDuration(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds) || seconds < 0) {
    return DASH;
  }
  const s = Math.floor(seconds);
  const d = Math.floor(s / 86_400);
  const hr = Math.floor((s % 86_400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d > 0) {
    return `${d}d ${hr}h`;
  }
  if (hr > 0) {
    return `${hr}h ${m}m`;
  }
  return m > 0 ? `${m}m ${s % 60}s` : `${s}s`;
}

/** Parameter counts: 7.24B, 350M. */
export function formatCount(n: number | null): string {
  if (n === null || !Number.isFinite(n)) {
    return DASH;
  }
  const units: [number, string][] = [
    [1e12, 'T'],
    [1e9, 'B'],
    [1e6, 'M'],
    [1e3, 'K'],
  ];
  for (const [size, suffix] of units) {
    if (n >= size) {
      const v = n / size;
      return `${v.toFixed(v >= 100 ? 0 : v >= 10 ? 1 : 2)}${suffix}`;
    }
  }
  return String(n);
}

export function formatInt(n: number | null): string {
  return n === null || !Number.isFinite(n) ? DASH : Math.round(n).toLocaleString();
}

export function formatRate(tokensPerSec: number | null): string {
  return tokensPerSec === null || !Number.isFinite(tokensPerSec) ? DASH : `${tokensPerSec.toFixed(tokensPerSec >= 100 ? 0 : 1)} t/s`;
}

export function formatTemp(celsius: number | null, unit: TemperatureUnit = 'c'): string {
  if (celsius === null || !Number.isFinite(celsius)) {
    return DASH;
  }
  return unit === 'f' ? `${Math.round((celsius * 9) / 5 + 32)} °F` : `${Math.round(celsius)} °C`;
}

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

/** "14:03:07.123" in local time. */
export function formatClock(ts: number, millis = false): string {
  const d = new Date(ts);
  const base = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  return millis ? `${base}.${pad(d.getMilliseconds(), 3)}` : base;
}

/** "2026-01-31 14:03:07" in local time. */
export function formatDateTime(ts: number): string {
  const d = new Date(ts);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${formatClock(ts)}`;
}
