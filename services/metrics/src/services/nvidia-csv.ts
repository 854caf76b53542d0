import type { GpuSample } from '@llamaproxy/shared';

/** `--query-gpu` fields, in the order the parser expects them. */
export const GPU_QUERY_FIELDS = [
  'index',
  'uuid',
  'name',
  'utilization.gpu',
  'memory.used',
  'memory.total',
  'temperature.gpu',
  'power.draw',
  'power.limit',
  'fan.speed',
  'clocks.sm',
  'clocks.mem',
] as const;

/** `--query-compute-apps` fields; the timestamp groups the lines of one loop iteration. */
export const APP_QUERY_FIELDS = ['timestamp', 'gpu_uuid', 'pid', 'process_name', 'used_memory'] as const;

/** Arguments of the long-lived `nvidia-smi` children (values without units, one line per item). */
export function gpuQueryArgs(intervalMs: number): string[] {
  return [`--query-gpu=${GPU_QUERY_FIELDS.join(',')}`, '--format=csv,noheader,nounits', '-lms', String(intervalMs)];
}

export function appQueryArgs(intervalMs: number): string[] {
  return [`--query-compute-apps=${APP_QUERY_FIELDS.join(',')}`, '--format=csv,noheader,nounits', '-lms', String(intervalMs)];
}

const MIB = 1024 * 1024;

export type GpuReading = Omit<GpuSample, 'processes'>;

export interface GpuAppReading {
  timestamp: string;
  gpuUuid: string;
  pid: number;
  name: string;
  memoryUsedBytes: number | null;
}

/**
 * A number from nvidia-smi, or null for "[N/A]", "[Not Supported]", "[Unknown Error]",
 * "[Insufficient Permissions]" and the like. A unit left in by mistake ("345 MHz") is ignored.
 */
export function smiNumber(value: string | undefined): number | null {
  if (value === undefined) {
    return null;
  }
  const trimmed = value.trim();
  if (trimmed === '' || trimmed.startsWith('[') || trimmed === 'N/A') {
    return null;
  }
  const n = Number.parseFloat(trimmed);
  return Number.isFinite(n) ? n : null;
}

function smiText(value: string | undefined): string | null {
  const trimmed = value?.trim() ?? '';
  return trimmed === '' || trimmed.startsWith('[') ? null : trimmed;
}

/** Splits a CSV line whose one free-text field (`textIndex`) may itself contain ", ". */
function splitFields(line: string, count: number, textIndex: number): string[] | null {
  const parts = line.split(', ');
  if (parts.length < count) {
    return null;
  }
  const extra = parts.length - count;
  return [...parts.slice(0, textIndex), parts.slice(textIndex, textIndex + extra + 1).join(', '), ...parts.slice(textIndex + extra + 1)];
}

/** One line of the `--query-gpu` loop; null for anything else (an error message, a blank line). */
export function parseGpuLine(line: string): GpuReading | null {
  const f = splitFields(line.trim(), GPU_QUERY_FIELDS.length, 2);
  if (f === null) {
    return null;
  }
  const index = smiNumber(f[0]);
  if (index === null || !Number.isInteger(index)) {
    return null;
  }
  const mib = (v: string | undefined): number | null => {
    const n = smiNumber(v);
    return n === null ? null : n * MIB;
  };
  return {
    index,
    uuid: smiText(f[1]),
    name: smiText(f[2]) ?? `GPU ${index}`,
    utilizationPct: smiNumber(f[3]),
    memoryUsedBytes: mib(f[4]),
    memoryTotalBytes: mib(f[5]),
    temperatureC: smiNumber(f[6]),
    powerDrawW: smiNumber(f[7]),
    powerLimitW: smiNumber(f[8]),
    fanPct: smiNumber(f[9]),
    clockSmMhz: smiNumber(f[10]),
    clockMemMhz: smiNumber(f[11]),
  };
}

/** One line of the `--query-compute-apps` loop; null for anything else ("No running processes found"). */
export function parseAppLine(line: string): GpuAppReading | null {
  const f = splitFields(line.trim(), APP_QUERY_FIELDS.length, 3);
  if (f === null) {
    return null;
  }
  const pid = smiNumber(f[2]);
  const gpuUuid = smiText(f[1]);
  if (pid === null || !Number.isInteger(pid) || gpuUuid === null) {
    return null;
  }
  const memory = smiNumber(f[4]);
  return {
    timestamp: f[0]?.trim() ?? '',
    gpuUuid,
    pid,
    name: smiText(f[3]) ?? '',
    memoryUsedBytes: memory === null ? null : memory * MIB,
  };
}
