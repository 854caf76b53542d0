/**
 * The memory bar's arithmetic (placement, issue #14): one bar per device of every node, with a
 * segment per resident model (its share of the budget) and the free room. Pure and type-only
 * against the shared package, so the Dashboard (in the initial bundle) can use it.
 */
import type { MemoryReport, PlacementMode, ResidentModel } from '@llamaproxy/shared';

/** One resident model's part of a device bar. */
export interface MemorySegment {
  modelId: string;
  bytes: number;
  /** Fraction of the bar (0..1). */
  share: number;
  status: ResidentModel['status'];
  pinned: boolean;
  inFlight: number;
}

/** One device of one node. Bytes throughout. */
export interface DeviceBar {
  /** `<nodeId>/<deviceId>`: stable across reports. */
  key: string;
  nodeId: string;
  deviceId: string;
  name: string;
  mode: PlacementMode;
  totalBytes: number;
  budgetBytes: number;
  usedBytes: number;
  freeBytes: number;
  /** Resident models holding memory on the device, most recently used first (the report's order). */
  segments: MemorySegment[];
  /** Fraction of the bar left free (0..1). */
  freeShare: number;
  /** True when the resident models hold more than the budget (the bar is scaled to what they hold). */
  over: boolean;
}

/** The bars of every device of every node, by node then device as reported. */
export function deviceBars(reports: readonly MemoryReport[]): DeviceBar[] {
  const bars: DeviceBar[] = [];
  for (const report of [...reports].sort((a, b) => a.nodeId.localeCompare(b.nodeId))) {
    for (const device of report.devices) {
      const held = report.models
        .map((m) => ({ model: m, bytes: m.bytes[device.id] ?? 0 }))
        .filter((x) => x.bytes > 0);
      const heldBytes = held.reduce((sum, x) => sum + x.bytes, 0);
      const scale = Math.max(device.budgetBytes, heldBytes, 1);
      bars.push({
        key: `${report.nodeId}/${device.id}`,
        nodeId: report.nodeId,
        deviceId: device.id,
        name: device.name,
        mode: report.mode,
        totalBytes: device.totalBytes,
        budgetBytes: device.budgetBytes,
        usedBytes: device.usedBytes,
        freeBytes: device.freeBytes,
        segments: held.map(({ model, bytes }) => ({ modelId: model.modelId, bytes, share: bytes / scale, status: model.status, pinned: model.pinned, inFlight: model.inFlight })),
        freeShare: Math.max(0, device.budgetBytes - heldBytes) / scale,
        over: heldBytes > device.budgetBytes,
      });
    }
  }
  return bars;
}

/** A stable hue (0..359) for a model id, so a model keeps its colour across bars and reports. */
export function modelHue(modelId: string): number {
  let hash = 0;
  for (let i = 0; i < modelId.length; i++) {
    hash = (hash * 31 + modelId.charCodeAt(i)) >>> 0;
  }
  return hash % 360;
}
