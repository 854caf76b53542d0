/** Token figures of one response, as llama-server reported them (`usage`, `timings`). */
export interface UsageFigures {
  promptTokens: number | null;
  cachedTokens: number | null;
  completionTokens: number | null;
  tokensPerSec: number | null;
}

/** Largest non-streamed body kept to read its `usage` (embeddings of a long batch can be big). */
const MAX_JSON_BYTES = 8 * 1024 * 1024;

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const obj = (v: unknown): Record<string, unknown> | null => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : null);

/** Bytes of one unfinished SSE line kept at most (a line longer than this is not a figures event). */
const MAX_LINE_BYTES = 1024 * 1024;
const NEWLINE = 0x0a;
/** The keys whose presence marks an event worth parsing, as bytes (searched without decoding). */
const USAGE_MARKER = Buffer.from('"usage"');
const TIMINGS_MARKER = Buffer.from('"timings"');

/**
 * Reads token figures from the response bytes while they pass through, without holding up the
 * stream: an SSE body is searched as bytes for the `"usage"` / `"timings"` markers (they come in
 * the last events), and only complete lines of a chunk that holds one are decoded and parsed, so
 * an ordinary token chunk costs two byte searches and no string or JSON work; a JSON body is kept
 * (up to 8 MiB) and parsed at the end. Understands the
 * OpenAI shapes (`usage.prompt_tokens`, `completion_tokens`, `prompt_tokens_details.cached_tokens`),
 * Anthropic's and the Responses API's (`input_tokens`, `output_tokens`, nested under `message` or
 * `response`), and llama-server's `timings` (`prompt_n`, `cache_n`, `predicted_n`,
 * `predicted_per_second`). Later figures win over earlier ones.
 */
export class UsageTap {
  readonly figures: UsageFigures = { promptTokens: null, cachedTokens: null, completionTokens: null, tokensPerSec: null };
  private readonly sse: boolean;
  /** SSE: the bytes after the last newline seen (the start of a line still arriving). */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private readonly chunks: Buffer[] = [];
  private size = 0;

  constructor(contentType: string | undefined) {
    this.sse = (contentType ?? '').includes('text/event-stream');
  }

  /** Takes one chunk of the body as it is forwarded (the chunk is kept by reference, never changed). */
  push(chunk: Buffer): void {
    if (!this.sse) {
      this.size += chunk.length;
      if (this.size <= MAX_JSON_BYTES) {
        this.chunks.push(chunk);
      }
      return;
    }
    const nl = chunk.lastIndexOf(NEWLINE);
    if (nl < 0) {
      this.keep(chunk);
      return;
    }
    // '\n' never occurs inside a UTF-8 sequence, so the lines up to it decode whole.
    let complete = chunk.subarray(0, nl + 1);
    if (this.pending.length > 0) {
      complete = Buffer.concat([...this.pending, complete]);
      this.pending = [];
      this.pendingBytes = 0;
    }
    this.scan(complete);
    if (nl + 1 < chunk.length) {
      this.keep(chunk.subarray(nl + 1));
    }
  }

  /** Call once the body has ended; returns the figures. */
  end(): UsageFigures {
    if (this.sse) {
      this.scan(Buffer.concat(this.pending));
      this.pending = [];
      this.pendingBytes = 0;
    } else if (this.size > 0 && this.size <= MAX_JSON_BYTES) {
      try {
        this.read(JSON.parse(Buffer.concat(this.chunks).toString('utf8')));
      } catch {
        // Not JSON (an error page): no figures.
      }
    }
    return this.figures;
  }

  /** Keeps the start of an unfinished line (dropped past MAX_LINE_BYTES: no figures event is that long). */
  private keep(part: Buffer): void {
    this.pendingBytes += part.length;
    if (this.pendingBytes > MAX_LINE_BYTES) {
      this.pending = [];
      this.pendingBytes = 0;
      return;
    }
    this.pending.push(part);
  }

  /** Complete lines: parsed only when a marker is among their bytes. */
  private scan(lines: Buffer): void {
    if (!lines.includes(USAGE_MARKER) && !lines.includes(TIMINGS_MARKER)) {
      return;
    }
    for (const line of lines.toString('utf8').split('\n')) {
      this.line(line);
    }
  }

  private line(raw: string): void {
    const line = raw.trimEnd();
    if (!line.startsWith('data:') || !(line.includes('"usage"') || line.includes('"timings"'))) {
      return;
    }
    try {
      this.read(JSON.parse(line.slice(5).trim()));
    } catch {
      // A partial or foreign line: ignored.
    }
  }

  private read(value: unknown): void {
    const root = obj(value);
    if (root === null) {
      return;
    }
    // Anthropic's message_start has { message: { usage } }, the Responses API { response: { usage } }.
    for (const nested of [obj(root.message), obj(root.response)]) {
      if (nested !== null) {
        this.read(nested);
      }
    }
    const f = this.figures;
    const timings = obj(root.timings);
    if (timings !== null) {
      const promptN = num(timings.prompt_n);
      const cacheN = num(timings.cache_n);
      f.cachedTokens = cacheN ?? f.cachedTokens;
      f.promptTokens = promptN === null ? f.promptTokens : promptN + (cacheN ?? 0);
      f.completionTokens = num(timings.predicted_n) ?? f.completionTokens;
      f.tokensPerSec = num(timings.predicted_per_second) ?? f.tokensPerSec;
    }
    const usage = obj(root.usage);
    if (usage !== null) {
      f.promptTokens = num(usage.prompt_tokens) ?? num(usage.input_tokens) ?? f.promptTokens;
      f.completionTokens = num(usage.completion_tokens) ?? num(usage.output_tokens) ?? f.completionTokens;
      const cached = num(obj(usage.prompt_tokens_details)?.cached_tokens) ?? num(obj(usage.input_tokens_details)?.cached_tokens) ?? num(usage.cache_read_input_tokens);
      f.cachedTokens = cached ?? f.cachedTokens;
    }
  }
}
