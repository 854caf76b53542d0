import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HfHubClient } from '@llamaproxy/shared/node';
import { ModelDownloader } from '../../services/supervisor/src/repositories/model-downloader.js';
import { planDownload } from '../../services/supervisor/src/services/downloads/download-plan.js';
import { HfHubStandIn } from '../src/harness/index.js';
import { row, type Bench } from './bench.js';

const MIB = 1024 * 1024;
const SIZE = 128 * MIB;
const RUNS = 3;

/**
 * Model download throughput through the Hub stand-in on this machine (loopback, so the network
 * is not the limit): the supervisor's downloader (redirect, write to a partial file, SHA-256 while
 * streaming, verify, rename) against a plain fetch of the same bytes read and dropped, in the same
 * run; and the cost of resuming, which re-hashes what a partial file already holds.
 */
const bench: Bench = {
  name: 'hf-download',
  async run() {
    const data = randomBytes(SIZE);
    const hub = await HfHubStandIn.start({ repos: [{ id: 'bench/big-GGUF', files: [{ path: 'big-Q8_0.gguf', data }] }] });
    const client = new HfHubClient({ endpoint: hub.endpoint, token: null });
    const tree = await client.files('bench/big-GGUF');
    const plain: number[] = [];
    const downloader: number[] = [];
    const resumed: number[] = [];
    try {
      for (let i = 0; i < RUNS; i++) {
        let start = performance.now();
        const res = await client.open('bench/big-GGUF', 'main', 'big-Q8_0.gguf', 0);
        const reader = res.body.getReader();
        for (;;) {
          const { done } = await reader.read();
          if (done) {
            break;
          }
        }
        plain.push(SIZE / MIB / ((performance.now() - start) / 1000));

        const dir = mkdtempSync(join(tmpdir(), 'llamaproxy-bench-dl-'));
        try {
          const sut = new ModelDownloader({ modelsDir: dir, hub: client });
          const plan = planDownload({ repo: 'bench/big-GGUF', revision: 'main', files: ['big-Q8_0.gguf'], name: `big${i}` }, tree);
          const run = { repo: 'bench/big-GGUF', revision: 'main', plan, onProgress: async () => undefined, isCancelled: async () => false };
          start = performance.now();
          await sut.run(run);
          downloader.push(SIZE / MIB / ((performance.now() - start) / 1000));
          // A resume with 3/4 kept: that part is hashed from disk, the rest fetched with a Range.
          const plan2 = planDownload({ repo: 'bench/big-GGUF', revision: 'main', files: ['big-Q8_0.gguf'], name: `again${i}` }, tree);
          const { mkdir, writeFile } = await import('node:fs/promises');
          await mkdir(join(dir, '.downloads'), { recursive: true });
          await writeFile(sut.partialPath(plan2.files[0]!, 'bench/big-GGUF'), data.subarray(0, (SIZE / 4) * 3));
          start = performance.now();
          await sut.run({ ...run, plan: plan2 });
          resumed.push(SIZE / MIB / ((performance.now() - start) / 1000));
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      }
    } finally {
      await hub.close();
    }
    const median = (v: number[]): number => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)] ?? Number.NaN;
    const d = median(downloader);
    const p = median(plain);
    return [
      row({ figure: `download of ${SIZE / MIB} MiB: redirect, write, SHA-256, rename (median of ${RUNS})`, value: d, unit: 'MiB/s', baseline: p, baselineLabel: 'plain fetch, bytes dropped', target: '≥ 0.25x of a plain fetch', met: d >= 0.25 * p }),
      row({ figure: `resume with 3/4 on disk (hash kept part, fetch the rest), per file MiB`, value: median(resumed), unit: 'MiB/s', baseline: d, baselineLabel: 'fresh download' }),
    ];
  },
};

export default bench;
