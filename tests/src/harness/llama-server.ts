import { ensureLlamaServer } from './llama-server-binary.js';
import { freePort } from './ports.js';
import { ManagedProcess } from './process.js';
import { waitFor } from './wait-for.js';

export interface LlamaRouterOptions {
  modelsDir: string;
  modelsMax?: number;
  extraArgs?: string[];
  echo?: boolean;
}

export interface LlamaRouter {
  url: string;
  port: number;
  process: ManagedProcess;
  stop(): Promise<void>;
}

/** Arguments for a small, quick router on a 2-core machine. */
export function routerArgs(port: number, options: LlamaRouterOptions): string[] {
  return [
    '--host', '127.0.0.1',
    '--port', String(port),
    '--models-dir', options.modelsDir,
    '--models-max', String(options.modelsMax ?? 1),
    '--no-models-autoload',
    '--metrics',
    '-c', '512',
    '-t', '1',
    '-np', '1',
    ...(options.extraArgs ?? []),
  ];
}

/** Starts a real llama-server in router mode and waits until /health answers 200. */
export async function startLlamaRouter(options: LlamaRouterOptions): Promise<LlamaRouter> {
  const bin = await ensureLlamaServer();
  const port = await freePort();
  const proc = new ManagedProcess(bin, routerArgs(port, options), { name: 'llama-server', echo: options.echo ?? false });
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor(
      async () => {
        if (!proc.running) {
          throw new Error(`llama-server exited: ${proc.exitCode ?? proc.exitSignal}`);
        }
        const res = await fetch(`${url}/health`);
        return res.ok;
      },
      { timeoutMs: 30_000, what: 'llama-server /health' },
    );
  } catch (err) {
    await proc.stop();
    throw new Error(`${(err as Error).message}\n${proc.tail()}`);
  }
  return { url, port, process: proc, stop: () => proc.stop(5000) };
}

export interface RouterModel {
  id: string;
  path?: string;
  status: { value: string; args?: string[]; failed?: boolean; exit_code?: number };
}

export async function listRouterModels(url: string, reload = false): Promise<RouterModel[]> {
  const res = await fetch(`${url}/models${reload ? '?reload=1' : ''}`);
  if (!res.ok) {
    throw new Error(`GET /models: HTTP ${res.status}`);
  }
  const body = (await res.json()) as { data: RouterModel[] };
  return body.data;
}

export async function waitForModelStatus(url: string, id: string, value: string, timeoutMs = 60_000): Promise<RouterModel> {
  return waitFor(
    async () => {
      const model = (await listRouterModels(url)).find((m) => m.id === id);
      return model?.status.value === value ? model : undefined;
    },
    { timeoutMs, intervalMs: 100, what: `model ${id} to be ${value}` },
  );
}

export interface SseEvent {
  model: string;
  event: string;
  data?: unknown;
}

/** Reads `GET /models/sse` into an array until `close()` is called. */
export function collectModelEvents(url: string): { events: SseEvent[]; ready: Promise<void>; close(): void } {
  const events: SseEvent[] = [];
  const controller = new AbortController();
  let markReady!: () => void;
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  void (async () => {
    try {
      const res = await fetch(`${url}/models/sse`, { signal: controller.signal });
      markReady();
      if (!res.body) {
        return;
      }
      const decoder = new TextDecoder();
      let buffer = '';
      for await (const chunk of res.body) {
        buffer += decoder.decode(chunk as Uint8Array, { stream: true });
        let sep: number;
        while ((sep = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, sep);
          buffer = buffer.slice(sep + 2);
          const data = block
            .split('\n')
            .filter((l) => l.startsWith('data:'))
            .map((l) => l.slice(5).trim())
            .join('\n');
          if (data) {
            events.push(JSON.parse(data) as SseEvent);
          }
        }
      }
    } catch {
      markReady();
    }
  })();
  return { events, ready, close: () => controller.abort() };
}
