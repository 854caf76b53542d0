import type { ActivityRecord } from '@llamaproxy/shared';

/** What the playground sends: the model, the prompts and the sampling settings. */
export interface PlaygroundRequest {
  model: string;
  system: string;
  user: string;
  temperature: number;
  topP: number;
  maxTokens: number;
  /** An image for a multimodal model, as a `data:` URL; absent or null: text only. */
  image?: string | null;
}

/**
 * The `/v1/chat/completions` body of a playground request (always streamed). With an image, the
 * user message is OpenAI's content array (text, then `image_url` with the data URL), which
 * llama-server accepts for a model loaded with its mmproj.
 */
export function chatBody(r: PlaygroundRequest): Record<string, unknown> {
  const user = r.image === undefined || r.image === null
    ? { role: 'user', content: r.user }
    : { role: 'user', content: [{ type: 'text', text: r.user }, { type: 'image_url', image_url: { url: r.image } }] };
  const messages = [...(r.system.trim() === '' ? [] : [{ role: 'system', content: r.system }]), user];
  return { model: r.model, messages, temperature: r.temperature, top_p: r.topP, max_tokens: r.maxTokens, stream: true };
}

/** `'it''s'` quoting for a POSIX shell. */
const shellQuote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** The same request as a curl command against `endpoint` (the dashboard's `/v1` URL), with a key placeholder. */
export function curlCommand(endpoint: string, r: PlaygroundRequest): string {
  return [
    `curl -N ${shellQuote(`${endpoint.replace(/\/$/, '')}/chat/completions`)}`,
    // Double quotes: the shell fills in the key from the variable.
    '  -H "Authorization: Bearer $LLAMAPROXY_API_KEY"',
    `  -H 'Content-Type: application/json'`,
    `  -d ${shellQuote(JSON.stringify(chatBody(r)))}`,
  ].join(' \\\n');
}

/**
 * Reads an OpenAI chat stream (SSE) as it arrives: `push` takes decoded text and returns the
 * content deltas of the complete events in it; partial lines wait for the next chunk.
 */
export class ChatStreamReader {
  private pending = '';
  /** llama-server's own generation speed (`timings.predicted_per_second` of its last event), once sent. */
  serverTokensPerSec: number | null = null;

  push(text: string): string[] {
    this.pending += text;
    const out: string[] = [];
    let nl = this.pending.indexOf('\n');
    while (nl >= 0) {
      const line = this.pending.slice(0, nl).trim();
      this.pending = this.pending.slice(nl + 1);
      nl = this.pending.indexOf('\n');
      if (!line.startsWith('data:')) {
        continue;
      }
      const data = line.slice(5).trim();
      if (data === '[DONE]') {
        continue;
      }
      try {
        const event = JSON.parse(data) as { choices?: { delta?: { content?: unknown } }[]; timings?: { predicted_per_second?: unknown } };
        const delta = event.choices?.[0]?.delta?.content;
        if (typeof delta === 'string' && delta !== '') {
          out.push(delta);
        }
        const speed = event.timings?.predicted_per_second;
        if (typeof speed === 'number' && Number.isFinite(speed)) {
          this.serverTokensPerSec = speed;
        }
      } catch {
        // Not JSON: skipped.
      }
    }
    return out;
  }
}

const CSV_COLUMNS = [
  'id', 'ts', 'keyId', 'keyName', 'username', 'model', 'endpoint', 'status', 'stream', 'promptTokens', 'cachedTokens',
  'completionTokens', 'ttftMs', 'tokensPerSec', 'durationMs', 'address', 'error',
] as const satisfies readonly (keyof ActivityRecord)[];

const csvCell = (v: string | number | boolean | null): string => {
  const s = v === null ? '' : typeof v === 'number' ? String(Math.round(v * 1000) / 1000) : String(v);
  // A leading = + - @ would be a formula in a spreadsheet: quoted with a leading apostrophe.
  const safe = /^[=+\-@]/.test(s) && typeof v !== 'number' ? `'${s}` : s;
  return /[",\n\r]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
};

/** The activity records as CSV (header first; time as ISO 8601). */
export function activityCsv(records: readonly ActivityRecord[]): string {
  const rows = records.map((r) => CSV_COLUMNS.map((c) => csvCell(c === 'ts' ? new Date(r.ts).toISOString() : r[c])).join(','));
  return [CSV_COLUMNS.join(','), ...rows].join('\n') + '\n';
}

/** New records (newest first) put before what the table shows, without duplicates, capped. */
export function mergeNewer(shown: readonly ActivityRecord[], newer: readonly ActivityRecord[], cap = 1000): ActivityRecord[] {
  const known = new Set(shown.map((r) => r.id));
  return [...newer.filter((r) => !known.has(r.id)), ...shown].slice(0, cap);
}

/** The Activity page's filters, as `activity:query` takes them. */
export interface ActivityFilterValues {
  model?: string;
  keyId?: string;
  status?: 'ok' | 'error';
}

/** True when a pushed record passes the filters the table shows (the same rules as `activity:query`). */
export function matchesActivityFilter(r: ActivityRecord, f: ActivityFilterValues): boolean {
  const ok = r.status >= 200 && r.status <= 299;
  return (f.model === undefined || r.model === f.model) && (f.keyId === undefined || r.keyId === f.keyId) && (f.status === undefined || (f.status === 'ok') === ok);
}
