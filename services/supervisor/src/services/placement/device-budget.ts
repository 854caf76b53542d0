import type { DeviceBudget, DeviceBytes } from '@llamaproxy/shared';

const MIB = 1024 * 1024;

/** One GPU as `nvidia-smi --query-gpu=index,uuid,name,memory.total` reports it. */
export interface GpuInfo {
  index: number;
  uuid: string;
  name: string;
  /** Bytes. */
  totalBytes: number;
}

/** One process on a GPU as `nvidia-smi --query-compute-apps=pid,gpu_uuid,used_memory` reports it. */
export interface GpuProcessMemory {
  pid: number;
  gpuUuid: string;
  /** Bytes. */
  usedBytes: number;
}

/** `nvidia-smi` arguments for the GPU list (values without units: MiB). */
export const GPU_LIST_ARGS = ['--query-gpu=index,uuid,name,memory.total', '--format=csv,noheader,nounits'];
/** `nvidia-smi` arguments for the per-process memory (MiB). */
export const GPU_APPS_ARGS = ['--query-compute-apps=pid,gpu_uuid,used_memory', '--format=csv,noheader,nounits'];

/** A number from nvidia-smi, or null for "[N/A]", "[Not Supported]" and the like. */
function smiNumber(value: string | undefined): number | null {
  const trimmed = value?.trim() ?? '';
  if (trimmed === '' || trimmed.startsWith('[') || trimmed === 'N/A') {
    return null;
  }
  const n = Number.parseFloat(trimmed);
  return Number.isFinite(n) ? n : null;
}

/**
 * Parses `nvidia-smi --query-gpu=index,uuid,name,memory.total --format=csv,noheader,nounits`. The
 * name may contain ", " (it is the field between uuid and memory); lines that do not parse (an
 * error message, "No devices were found") are skipped.
 */
export function parseGpuList(csv: string): GpuInfo[] {
  const gpus: GpuInfo[] = [];
  for (const line of csv.split(/\r?\n/)) {
    const parts = line.trim().split(', ');
    if (parts.length < 4) {
      continue;
    }
    const index = smiNumber(parts[0]);
    const total = smiNumber(parts.at(-1));
    const uuid = parts[1]?.trim() ?? '';
    if (index === null || !Number.isInteger(index) || total === null || !uuid.startsWith('GPU-')) {
      continue;
    }
    gpus.push({ index, uuid, name: parts.slice(2, -1).join(', ').trim(), totalBytes: total * MIB });
  }
  return gpus;
}

/** Parses `nvidia-smi --query-compute-apps=pid,gpu_uuid,used_memory --format=csv,noheader,nounits`. */
export function parseGpuProcesses(csv: string): GpuProcessMemory[] {
  const apps: GpuProcessMemory[] = [];
  for (const line of csv.split(/\r?\n/)) {
    const [pidText, uuid, used] = line.trim().split(', ');
    const pid = smiNumber(pidText);
    const mib = smiNumber(used);
    if (pid === null || !Number.isInteger(pid) || uuid === undefined || !uuid.startsWith('GPU-') || mib === null) {
      continue;
    }
    apps.push({ pid, gpuUuid: uuid.trim(), usedBytes: mib * MIB });
  }
  return apps;
}

/** The device id llama.cpp gives a CUDA GPU: `cuda<index>`. */
export function gpuDeviceId(gpu: Pick<GpuInfo, 'index'>): string {
  return `cuda${gpu.index}`;
}

/** What the budgets are made of. Bytes. */
export interface BudgetInputs {
  /** Host memory (the smaller of the machine's and the container's limit). */
  ramTotalBytes: number;
  /** `RAM_BUDGET`, or null for total − `ramReserveBytes`. */
  ramBudgetBytes: number | null;
  ramReserveBytes: number;
  gpus: readonly GpuInfo[];
  /** `GPU_MEMORY_RESERVE`, kept free on every GPU. */
  gpuReserveBytes: number;
}

/**
 * Every device's budget, with what `resident` (each resident model's bytes per device) uses of
 * it: host RAM first (`cpu`), then each GPU (`cuda<index>`).
 */
export function deviceBudgets(inputs: BudgetInputs, resident: readonly DeviceBytes[]): DeviceBudget[] {
  const used = (id: string): number => resident.reduce((sum, bytes) => sum + (bytes[id] ?? 0), 0);
  const ramBudget = Math.max(0, Math.min(inputs.ramTotalBytes, inputs.ramBudgetBytes ?? inputs.ramTotalBytes - inputs.ramReserveBytes));
  const devices: DeviceBudget[] = [budget('cpu', 'ram', 'RAM', inputs.ramTotalBytes, inputs.ramTotalBytes - ramBudget, ramBudget, used('cpu'))];
  for (const gpu of inputs.gpus) {
    const id = gpuDeviceId(gpu);
    const reserve = Math.min(gpu.totalBytes, inputs.gpuReserveBytes);
    devices.push(budget(id, 'gpu', gpu.name, gpu.totalBytes, reserve, gpu.totalBytes - reserve, used(id)));
  }
  return devices;
}

function budget(id: string, kind: DeviceBudget['kind'], name: string, total: number, reserve: number, budgetBytes: number, used: number): DeviceBudget {
  return { id, kind, name, totalBytes: total, reserveBytes: reserve, budgetBytes, usedBytes: used, freeBytes: Math.max(0, budgetBytes - used) };
}

/**
 * A size from the environment: bytes, or a number with a unit (`512M`, `512MiB`, `8G`, `8 GiB`,
 * `1.5GB`; K/M/G/T are binary multiples, as in `docker --memory`). Null when it is not one.
 */
export function parseByteSize(text: string): number | null {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?\s*$/i.exec(text);
  if (match === null) {
    return null;
  }
  const power = ['', 'k', 'm', 'g', 't'].indexOf((match[2] ?? '').toLowerCase());
  return Math.round(Number(match[1]) * 1024 ** power);
}
