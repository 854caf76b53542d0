/**
 * npm run llama-server:build   build (or reuse) the cached llama-server
 * npm run llama-server:ensure  print the binary in use, building it only when none is found
 */
import { buildLlamaServer, ensureLlamaServer, locateLlamaServer } from '../harness/llama-server-binary.js';

const log = (line: string): void => console.log(`[llama-server] ${line}`);

async function main(command: string | undefined): Promise<void> {
  switch (command) {
    case 'build': {
      const path = await buildLlamaServer(log);
      log(`ready: ${path}`);
      return;
    }
    case 'ensure': {
      const found = locateLlamaServer();
      const path = found ? found.path : await ensureLlamaServer(log);
      log(`using ${path}${found ? ` (from ${found.source})` : ''}`);
      return;
    }
    case undefined:
    default:
      throw new Error(`usage: llama-server.ts build|ensure (got ${command ?? 'nothing'})`);
  }
}

main(process.argv[2]).catch((err: unknown) => {
  console.error(`[llama-server] ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
