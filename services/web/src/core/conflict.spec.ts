import { describe, expect, it } from 'vitest';
import type { ConflictCurrent } from '@llamaproxy/shared';
import { conflictOf, sendRevisioned } from './conflict.js';
import { RequestError } from './transport.js';

const current: ConflictCurrent = { document: 'config', revision: 7, value: { ctxSize: 1024 } };
const conflict = (): RequestError => new RequestError({ code: 'CONFLICT', message: 'changed meanwhile', current });

/** A server that holds one document at `revision` and refuses any other. */
function server(revision: number) {
  const sent: number[] = [];
  return {
    sent,
    send: async (r: number): Promise<string> => {
      sent.push(r);
      if (r !== revision) {
        throw conflict();
      }
      return `saved at ${r}`;
    },
  };
}

describe(sendRevisioned.name, () => {
  it('sends once under the edited revision when nobody changed it', async () => {
    const s = server(7);
    expect(await sendRevisioned(7, s.send, () => 'overwrite', () => undefined)).toBe('saved at 7');
    expect(s.sent).toEqual([7]);
  });

  it('overwrites by sending again under the current revision when the user says so', async () => {
    const s = server(7);
    const asked: ConflictCurrent[] = [];
    const result = await sendRevisioned(6, s.send, (c) => (asked.push(c), 'overwrite'), () => undefined);
    expect(result).toBe('saved at 7');
    expect(s.sent).toEqual([6, 7]);
    expect(asked).toEqual([current]);
  });

  it('reloads: hands over the current document, sends nothing more and rejects with CONFLICT', async () => {
    const s = server(7);
    const reloaded: ConflictCurrent[] = [];
    const outcome = await sendRevisioned(6, s.send, () => 'reload', (c) => reloaded.push(c)).then(
      () => null,
      (e: unknown) => e,
    );
    expect(conflictOf(outcome)).toEqual(current);
    expect(reloaded).toEqual([current]);
    expect(s.sent).toEqual([6]);
  });

  it('passes any other error through without asking', async () => {
    let asked = false;
    const failure = new RequestError({ code: 'QUEUE_UNAVAILABLE', message: 'down' });
    const outcome = await sendRevisioned(1, () => Promise.reject(failure), () => ((asked = true), 'overwrite'), () => undefined).then(
      () => null,
      (e: unknown) => e,
    );
    expect(outcome).toBe(failure);
    expect(asked).toBe(false);
    expect(conflictOf(failure)).toBeNull();
  });
});
