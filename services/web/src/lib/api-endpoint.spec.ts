import { describe, expect, it } from 'vitest';
import type { ActivityRecord } from '@llamaproxy/shared';
import { activityCsv, ChatStreamReader, chatBody, curlCommand, matchesActivityFilter, mergeNewer } from './api-endpoint.js';

const REQUEST = { model: 'tiny', system: '', user: "it's me", temperature: 0.7, topP: 0.9, maxTokens: 64 };

const record = (id: number, extra: Partial<ActivityRecord> = {}): ActivityRecord => ({
  id, ts: 0, keyId: 'k', keyName: 'key', userId: 'u', username: 'ann', model: 'tiny', endpoint: '/chat/completions', status: 200, stream: true,
  promptTokens: 3, cachedTokens: 0, completionTokens: 5, ttftMs: 12.3456, tokensPerSec: 100, durationMs: 50, address: '::1', error: null, ...extra,
});

describe(ChatStreamReader.name, () => {
  it('returns deltas of complete events only, across chunk boundaries', () => {
    const sut = new ChatStreamReader();
    const event = (c: string): string => `data: ${JSON.stringify({ choices: [{ delta: { content: c } }] })}\n\n`;
    const all = event('Hel') + event('lo') + 'data: [DONE]\n\n';
    const cut = 20;
    expect(sut.push(all.slice(0, cut))).toEqual([]);
    expect(sut.push(all.slice(cut))).toEqual(['Hel', 'lo']);
  });

  it("keeps llama-server's own generation speed from its last event", () => {
    const sut = new ChatStreamReader();
    expect(sut.serverTokensPerSec).toBeNull();
    sut.push(`data: ${JSON.stringify({ choices: [{ delta: {}, finish_reason: 'stop' }], timings: { predicted_n: 24, predicted_per_second: 812.5 } })}\n\n`);
    expect(sut.serverTokensPerSec).toBe(812.5);
  });
});

describe('chatBody and curlCommand', () => {
  it('sends an image as OpenAI\'s content array, text first', () => {
    const body = chatBody({ ...REQUEST, image: 'data:image/png;base64,iVBOR' });
    expect(body.messages).toEqual([{ role: 'user', content: [{ type: 'text', text: "it's me" }, { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBOR' } }] }]);
    expect(chatBody({ ...REQUEST, image: null }).messages).toEqual([{ role: 'user', content: "it's me" }]);
  });

  it('omits an empty system prompt and always streams', () => {
    expect(chatBody(REQUEST)).toEqual({ model: 'tiny', messages: [{ role: 'user', content: "it's me" }], temperature: 0.7, top_p: 0.9, max_tokens: 64, stream: true });
    expect((chatBody({ ...REQUEST, system: 'be brief' }).messages as unknown[])[0]).toEqual({ role: 'system', content: 'be brief' });
  });

  it('quotes the body for a POSIX shell and leaves the key as a variable', () => {
    const cmd = curlCommand('https://dash.example/v1/', REQUEST);
    expect(cmd).toContain("curl -N 'https://dash.example/v1/chat/completions'");
    expect(cmd).toContain('"Authorization: Bearer $LLAMAPROXY_API_KEY"');
    expect(cmd).toContain(`it'\\''s me`);
  });
});

describe('activityCsv and mergeNewer', () => {
  it('writes a header and one line per record, neutralising formulas', () => {
    const csv = activityCsv([record(1, { error: '=cmd()' })]).trim().split('\n');
    expect(csv).toHaveLength(2);
    expect(csv[0]).toMatch(/^id,ts,keyId/);
    expect(csv[1]).toContain(",'=cmd()");
    expect(csv[1]).toContain('12.346');
  });

  it('puts newer records first without duplicates', () => {
    expect(mergeNewer([record(2), record(1)], [record(3), record(2)]).map((r) => r.id)).toEqual([3, 2, 1]);
  });
});

describe(matchesActivityFilter.name, () => {
  it.each([
    [{}, {}, true],
    [{ model: 'tiny' }, {}, true],
    [{ model: 'other' }, {}, false],
    [{ keyId: 'k' }, {}, true],
    [{ keyId: 'x' }, {}, false],
    [{ status: 'ok' }, { status: 204 }, true],
    [{ status: 'ok' }, { status: 499 }, false],
    [{ status: 'error' }, { status: 429 }, true],
    [{ status: 'error' }, {}, false],
    [{ model: 'tiny', status: 'error' }, { status: 500 }, true],
  ] as const)('filter %o on a record with %o: %s', (filter, extra, shown) => {
    expect(matchesActivityFilter(record(1, extra), filter)).toBe(shown);
  });
});
