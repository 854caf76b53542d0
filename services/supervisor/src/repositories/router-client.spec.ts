import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { RouterClient } from './router-client.js';

let server: Server | undefined;
afterEach(() => server?.close());

/** A server that drops the first `drops` requests' connections without an answer, then answers. */
async function dropping(drops: number): Promise<{ url: string; requests: () => number }> {
  let requests = 0;
  server = createServer((req, res) => {
    requests++;
    if (requests <= drops) {
      req.socket.destroy();
      return;
    }
    res.setHeader('content-type', 'application/json').end(JSON.stringify({ data: [{ id: 'm', status: { value: 'loaded' } }] }));
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests: () => requests };
}

describe(RouterClient.name, () => {
  it('sends a request again on a new connection when the connection closes under it', async () => {
    const router = await dropping(1);
    const sut = new RouterClient(router.url);
    expect((await sut.listModels()).map((m) => m.id)).toEqual(['m']);
    expect(router.requests()).toBe(2);
  });

  it('gives up after one more try', async () => {
    const router = await dropping(2);
    const sut = new RouterClient(router.url);
    await expect(sut.unload('m')).rejects.toThrow('fetch failed');
    expect(router.requests()).toBe(2);
  });
});
