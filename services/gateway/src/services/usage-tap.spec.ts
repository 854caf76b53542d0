import { describe, expect, it } from 'vitest';
import { UsageTap } from './usage-tap.js';

const sse = (...events: unknown[]): string => events.map((e) => `data: ${JSON.stringify(e)}\n\n`).join('') + 'data: [DONE]\n\n';

describe(UsageTap.name, () => {
  it('reads usage from a JSON body split across chunks', () => {
    const sut = new UsageTap('application/json; charset=utf-8');
    const body = Buffer.from(JSON.stringify({ usage: { prompt_tokens: 12, completion_tokens: 7, prompt_tokens_details: { cached_tokens: 4 } }, timings: { predicted_per_second: 55.5 } }));
    sut.push(body.subarray(0, 10));
    sut.push(body.subarray(10));
    expect(sut.end()).toEqual({ promptTokens: 12, cachedTokens: 4, completionTokens: 7, tokensPerSec: 55.5 });
  });

  it('reads llama-server timings from the last event of a stream, lines split anywhere', () => {
    const sut = new UsageTap('text/event-stream');
    const text = Buffer.from(sse({ choices: [{ delta: { content: 'a' } }] }, { choices: [], timings: { cache_n: 3, prompt_n: 20, predicted_n: 16, predicted_per_second: 100 } }));
    for (let i = 0; i < text.length; i += 7) {
      sut.push(text.subarray(i, i + 7));
    }
    expect(sut.end()).toEqual({ promptTokens: 23, cachedTokens: 3, completionTokens: 16, tokensPerSec: 100 });
  });

  it('understands Anthropic and Responses API usage', () => {
    const anthropic = new UsageTap('text/event-stream');
    anthropic.push(Buffer.from(sse({ type: 'message_start', message: { usage: { input_tokens: 9, output_tokens: 1 } } }, { type: 'message_delta', usage: { output_tokens: 30 } })));
    expect(anthropic.end()).toMatchObject({ promptTokens: 9, completionTokens: 30 });
    const responses = new UsageTap('application/json');
    responses.push(Buffer.from(JSON.stringify({ response: { usage: { input_tokens: 5, output_tokens: 6 } } })));
    expect(responses.end()).toMatchObject({ promptTokens: 5, completionTokens: 6 });
  });

  it('gives nulls for a body without figures or that is not JSON', () => {
    const sut = new UsageTap('text/html');
    sut.push(Buffer.from('<html>bad gateway</html>'));
    expect(sut.end()).toEqual({ promptTokens: null, cachedTokens: null, completionTokens: null, tokensPerSec: null });
  });

  it('reads figures whose line is split inside a multi-byte character and a marker', () => {
    const sut = new UsageTap('text/event-stream');
    const text = Buffer.from(sse({ choices: [{ delta: { content: 'é€😀' } }], usage: { prompt_tokens: 4, completion_tokens: 2 } }));
    const cut = text.indexOf('€') + 1;
    const marker = text.indexOf('"usage"') + 3;
    sut.push(text.subarray(0, cut));
    sut.push(text.subarray(cut, marker));
    sut.push(text.subarray(marker));
    expect(sut.end()).toMatchObject({ promptTokens: 4, completionTokens: 2 });
  });

  it('reads a last event that ends without a newline', () => {
    const sut = new UsageTap('text/event-stream');
    sut.push(Buffer.from('data: {"choices":[]}\n\ndata: {"timings":{"prompt_n":3,"predicted_n":5}}'));
    expect(sut.end()).toMatchObject({ promptTokens: 3, completionTokens: 5 });
  });

  it('drops a line that grows past the bound instead of keeping it', () => {
    const sut = new UsageTap('text/event-stream');
    sut.push(Buffer.from('data: {"usage":{"prompt_tokens":1,"x":"'));
    sut.push(Buffer.alloc(2 * 1024 * 1024, 0x61));
    sut.push(Buffer.from('"}}\n\ndata: {"usage":{"completion_tokens":9}}\n\n'));
    expect(sut.end()).toEqual({ promptTokens: null, cachedTokens: null, completionTokens: 9, tokensPerSec: null });
  });
});
