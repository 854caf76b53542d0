import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** What the stand-in prints, in nvidia-smi's real format (captured from an H100 and a GeForce card). */
export const STANDIN_GPUS = {
  h100: { uuid: 'GPU-cca07263-9b43-d41d-48e7-b48b41aa68b3', name: 'NVIDIA H100 80GB HBM3' },
  geforce: { uuid: 'GPU-5b7e1a9c-0f3d-4b2e-9c61-3f0a2d8e7b14', name: 'NVIDIA GeForce RTX 3060' },
} as const;

export interface Standin {
  /** Folder to put first on PATH. */
  binDir: string;
  /** Each start, as "<query> <-lms> <pid>". */
  invocations(): string[];
}

/**
 * A real `nvidia-smi` executable (a shell script) that loops like `nvidia-smi --query-... -lms N`:
 * per iteration one CSV line per GPU (GPU 0's utilization is 10 × its start count, so a restart is
 * visible), or one line per compute process with nvidia-smi's timestamp. With `dieAfter`, the GPU
 * query exits with an error after that many iterations on its first start only.
 */
export function writeNvidiaSmiStandin(dir: string, options: { dieAfter?: number; exitCode?: number; stderr?: string } = {}): Standin {
  const binDir = join(dir, 'bin');
  const stateDir = join(dir, 'state');
  mkdirSync(binDir, { recursive: true });
  mkdirSync(stateDir, { recursive: true });
  const { h100, geforce } = STANDIN_GPUS;
  const script = `#!/bin/sh
state='${stateDir}'
${options.exitCode === undefined ? '' : `echo ${shellQuote(options.stderr ?? 'failed')} >&2\nexit ${options.exitCode}`}
ms=1000; query=none
while [ $# -gt 0 ]; do
  case "$1" in
    -lms) ms="$2"; shift ;;
    --query-gpu=*) query=gpu ;;
    --query-compute-apps=*) query=apps ;;
  esac
  shift
done
echo "$query $ms $$" >> "$state/invocations"
n=$(cat "$state/starts-$query" 2>/dev/null || echo 0); n=$((n + 1)); echo $n > "$state/starts-$query"
secs=$((ms / 1000)).$(printf %03d $((ms % 1000)))
i=0
while :; do
  if [ $query = gpu ]; then
    echo "0, ${h100.uuid}, ${h100.name}, $((n * 10)), 1643, 81559, 38, 87.09, 700.00, [N/A], 1980, 2619"
    echo "1, ${geforce.uuid}, ${geforce.name}, [Not Supported], 512, 12288, 45, [N/A], 170.00, 30, 1807, 7501"
  else
    echo "$(date '+%Y/%m/%d %H:%M:%S').$(printf %03d $((i % 1000))), ${h100.uuid}, $$, /usr/local/bin/llama-server, 1634"
  fi
  i=$((i + 1))
  ${options.dieAfter === undefined ? '' : `if [ $query = gpu ] && [ $n -eq 1 ] && [ $i -ge ${options.dieAfter} ]; then echo 'Unable to determine the device handle for GPU0000:01:00.0: Unknown Error' >&2; exit 255; fi`}
  sleep $secs
done
`;
  writeFileSync(join(binDir, 'nvidia-smi'), script, { mode: 0o755 });
  return {
    binDir,
    invocations: () => {
      try {
        return readFileSync(join(stateDir, 'invocations'), 'utf8').trim().split('\n').filter(Boolean);
      } catch {
        return [];
      }
    },
  };
}

function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}
