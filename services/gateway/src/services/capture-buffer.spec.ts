import { describe, expect, it } from 'vitest';
import { CaptureBuffer } from './capture-buffer.js';

describe(CaptureBuffer.name, () => {
  it('keeps the request body and the streamed answer as they passed', () => {
    const sut = new CaptureBuffer(1024, Buffer.from('{"messages":[]}'));
    sut.push(Buffer.from('data: {"a":1}\n\n'));
    sut.push(Buffer.from('data: [DONE]\n\n'));
    expect(sut.result()).toEqual({ request: '{"messages":[]}', requestTruncated: false, response: 'data: {"a":1}\n\ndata: [DONE]\n\n', responseTruncated: false });
  });

  it('keeps at most maxBytes of each side and says which was cut', () => {
    const sut = new CaptureBuffer(8, Buffer.from('0123456789'));
    sut.push(Buffer.from('abcde'));
    sut.push(Buffer.from('fghij'));
    sut.push(Buffer.from('klmno'));
    expect(sut.result()).toEqual({ request: '01234567', requestTruncated: true, response: 'abcdefgh', responseTruncated: true });
  });
});
