/**
 * Estimated and measured footprints side by side (placement, issue #14): one row per model and
 * node from the memory reports. Pure, type-only against the shared package.
 */
import type { DeviceBytes, MemoryReport } from '@llamaproxy/shared';

export interface FootprintRow {
  /** `<nodeId>/<modelId>`. */
  key: string;
  nodeId: string;
  modelId: string;
  /** The settings the footprint is for (`ctx=4096;np=1;...`). */
  settingsKey: string;
  estimated: DeviceBytes;
  measured: DeviceBytes | null;
  measuredAt: number | null;
  /** Measured ÷ estimated over all devices; null before a measurement or without an estimate. */
  ratio: number | null;
}

const total = (bytes: DeviceBytes): number => Object.values(bytes).reduce((sum, n) => sum + n, 0);

/** Every known footprint, by model id then node. */
export function footprintRows(reports: readonly MemoryReport[]): FootprintRow[] {
  return reports
    .flatMap((r) =>
      r.footprints.map((f) => {
        const estimated = total(f.estimated);
        return {
          key: `${r.nodeId}/${f.modelId}`,
          nodeId: r.nodeId,
          modelId: f.modelId,
          settingsKey: f.settingsKey,
          estimated: f.estimated,
          measured: f.measured,
          measuredAt: f.measuredAt,
          ratio: f.measured === null || estimated === 0 ? null : total(f.measured) / estimated,
        };
      }),
    )
    .sort((a, b) => a.modelId.localeCompare(b.modelId) || a.nodeId.localeCompare(b.nodeId));
}

/** "cpu 15.6 MiB, cuda0 1.20 GiB" with the given byte formatter; "—" when empty. */
export function deviceBytesText(bytes: DeviceBytes | null, format: (n: number) => string): string {
  const entries = bytes === null ? [] : Object.entries(bytes);
  return entries.length === 0 ? '—' : entries.map(([device, n]) => `${device} ${format(n)}`).join(', ');
}
