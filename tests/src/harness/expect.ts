import { expect } from 'vitest';
import type { RequestEvent, ResponseData, ResponseEnvelope } from '@llamaproxy/shared';

/** Asserts a response succeeded and returns its data (fails with the error otherwise). */
export function expectOk<E extends RequestEvent>(response: ResponseEnvelope<E>): ResponseData[E] {
  if (!response.success) {
    expect.fail(`${response.event} failed: ${response.error.code} ${response.error.message}`);
  }
  return response.data;
}

/** Asserts a response failed with `code`. */
export function expectError<E extends RequestEvent>(response: ResponseEnvelope<E>, code: string): void {
  expect(response.success, `${response.event} should have failed with ${code}`).toBe(false);
  if (!response.success) {
    expect(response.error.code).toBe(code);
  }
}
