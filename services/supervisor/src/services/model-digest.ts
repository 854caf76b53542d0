import type { ModelState } from '@llamaproxy/shared';

/**
 * An order-independent digest of a set of model states, kept up to date in O(1) per change: the
 * count and two sums (mod 2^32) of two 32-bit FNV-1a hashes of each state's shown fields. Two sets
 * with the same digest are the same set (a collision needs both 32-bit sums to agree). The heartbeat
 * carries it so that a gateway checks it is in step without the node sending every state.
 * `updatedAt` is left out: it is when, not what.
 */
export class ModelDigest {
  private count = 0;
  private sumA = 0;
  private sumB = 0;
  private readonly hashes = new Map<string, readonly [number, number]>();

  /** Records `state` (replacing the model's previous state, if any). */
  set(state: ModelState): void {
    this.remove(state.id);
    const text = canonical(state);
    const h: readonly [number, number] = [fnv1a(text, 0x811c9dc5), fnv1a(text, 0x050c5d1f)];
    this.hashes.set(state.id, h);
    this.count++;
    this.sumA = (this.sumA + h[0]) >>> 0;
    this.sumB = (this.sumB + h[1]) >>> 0;
  }

  /** Forgets the model `id`; a no-op when it is not recorded. */
  remove(id: string): void {
    const h = this.hashes.get(id);
    if (h === undefined) {
      return;
    }
    this.hashes.delete(id);
    this.count--;
    this.sumA = (this.sumA - h[0]) >>> 0;
    this.sumB = (this.sumB - h[1]) >>> 0;
  }

  has(id: string): boolean {
    return this.hashes.has(id);
  }

  /** Ids recorded. */
  ids(): IterableIterator<string> {
    return this.hashes.keys();
  }

  get size(): number {
    return this.count;
  }

  /** `<count>-<sumA hex>-<sumB hex>`, e.g. `2000-1a2b3c4d-5e6f7a8b`. */
  get value(): string {
    return `${this.count}-${hex(this.sumA)}-${hex(this.sumB)}`;
  }
}

/** The digest of `states`, computed at once. */
export function digestOf(states: Iterable<ModelState>): string {
  const digest = new ModelDigest();
  for (const state of states) {
    digest.set(state);
  }
  return digest.value;
}

function canonical(s: ModelState): string {
  return JSON.stringify([s.id, s.status, s.progress, s.stage, s.error?.message ?? null, s.error?.exitCode ?? null, s.note ?? null, s.args]);
}

function fnv1a(text: string, basis: number): number {
  let h = basis;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function hex(n: number): string {
  return n.toString(16).padStart(8, '0');
}
