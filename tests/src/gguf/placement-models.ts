// Generated models of clearly different sizes for placement's tests and benchmark (issue #14):
// their resident memory in llama-server differs by tens of MB, so memory-aware placement has
// something to decide.
import { join } from 'node:path';
import { writeTinyModel, type TinyModelOptions } from './tiny-model.js';

/** One placement model: its router id, shape, and about what its instance holds (F32 weights). */
export interface PlacementModel {
  readonly id: string;
  readonly options: TinyModelOptions;
  /** File size, roughly (MB); an instance adds about 15 MB of its own. */
  readonly approxFileMb: number;
}

const shape = (embeddingLength: number, blockCount: number, feedForwardLength: number): TinyModelOptions => ({
  tensorType: 'F32',
  embeddingLength,
  blockCount,
  feedForwardLength,
  headCount: 8,
  headCountKv: 2,
});

/** Small (~8 MB), two medium (~47 MB) and a large (~139 MB) model; the large one takes ~2 s to write. */
export const PLACEMENT_MODELS: readonly PlacementModel[] = [
  { id: 'place-small', options: { ...shape(256, 2, 1024), seed: 11, name: 'place-small' }, approxFileMb: 8 },
  { id: 'place-mid-a', options: { ...shape(512, 3, 2048), seed: 12, name: 'place-mid-a' }, approxFileMb: 47 },
  { id: 'place-mid-b', options: { ...shape(512, 3, 2048), seed: 13, name: 'place-mid-b' }, approxFileMb: 47 },
  { id: 'place-big', options: { ...shape(768, 4, 3072), seed: 14, name: 'place-big' }, approxFileMb: 139 },
];

/** Writes the placement models (all, or those named) as `<dir>/<id>.gguf`; returns their ids. */
export async function writePlacementModels(dir: string, ids?: readonly string[]): Promise<string[]> {
  const chosen = PLACEMENT_MODELS.filter((m) => ids === undefined || ids.includes(m.id));
  for (const model of chosen) {
    await writeTinyModel(join(dir, `${model.id}.gguf`), model.options);
  }
  return chosen.map((m) => m.id);
}
