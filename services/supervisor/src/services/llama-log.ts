import type { LogLevel } from '@llamaproxy/shared';

export interface ParsedLine {
  level: LogLevel;
  modelId: string | null;
  message: string;
  /** The router is stopping this model's instance on purpose (unload, LRU eviction, reload). */
  stopping?: boolean;
}

const LEVELS: Record<string, LogLevel> = { E: 'error', W: 'warn', I: 'info', D: 'debug' };

/**
 * Reads llama-server's log lines. The router prints `<time> <L> <module> <text>`; model instance
 * output is forwarded as `[ <port>] <time> <L> ...`. The router announces which instance listens on
 * which port ("spawning server instance with name=X on port P"), so instance lines are attributed
 * to their model; router lines that name a model (`name=X`) are attributed too. Model ids may hold
 * blanks and any other character, so a name is read up to the fixed text that follows it in the
 * router's format, or as the longest known model id, never as "up to the first blank".
 *
 * The router prints "proxying request to model X on port P" at info for every request it forwards,
 * including the collector's `/metrics` and `/slots` polls (two lines per loaded model per poll); the
 * line names neither method nor path, so it is kept at debug. A real request also leaves the
 * instance's own lines (slot launch, timings), which stay at their level.
 */
export class LlamaLogParser {
  private readonly portToModel = new Map<number, string>();
  /** Known model ids, longest first, to read a `name=` that is followed by more text. */
  private known: string[] = [];
  /** Sources (the router: "", or a model) inside the notice printed between dashed lines at start-up. */
  private readonly inBanner = new Set<string>();

  parse(raw: string): ParsedLine {
    // Drop ANSI colours in case the binary was forced to use them.
    // eslint-disable-next-line no-control-regex -- matching the ESC of colour codes is the point
    let line = raw.replace(/\x1b\[[0-9;]*m/g, '').trimEnd();
    let modelId: string | null = null;

    const instance = /^\[\s*(\d+)\]\s?(.*)$/.exec(line);
    if (instance?.[1] !== undefined) {
      modelId = this.portToModel.get(Number(instance[1])) ?? null;
      line = instance[2] ?? '';
    }

    let level: LogLevel = 'info';
    const prefixed = /^(?:\d+\.\d+\.\d+\.\d+\s+)?([EWID])\s(.*)$/.exec(line);
    if (prefixed?.[1] !== undefined) {
      level = LEVELS[prefixed[1]] ?? 'info';
      line = prefixed[2] ?? '';
    } else if (/^\s*warn(ing)?\b/i.test(line)) {
      level = 'warn';
    } else if (/\b(error|failed|fatal)\b/i.test(line)) {
      level = 'error';
    }
    const message = line.replace(/^\s+/, '');

    // The start-up notice (CORS, enabled features) is printed at warning level every start. It is
    // kept, but as info, so that the dashboard's "recent warnings" shows what actually went wrong.
    const source = modelId ?? '';
    if (/^srv\s+llama_server: -{5,}\s*$/.test(message)) {
      if (!this.inBanner.delete(source)) {
        this.inBanner.add(source);
      }
      return { level: 'info', modelId, message };
    }
    if (this.inBanner.has(source) && level === 'warn' && /^srv\s+llama_server: /.test(message)) {
      level = 'info';
    }

    const spawned = /spawning server instance with name=(.+) on port (\d+)$/.exec(message);
    if (spawned?.[1] !== undefined && spawned[2] !== undefined) {
      this.portToModel.set(Number(spawned[2]), spawned[1]);
    }
    if (modelId === null) {
      const proxied = /^srv\s+\S+: proxying request to model (.+) on port \d+$/.exec(message);
      if (proxied?.[1] !== undefined) {
        return { level: level === 'info' ? 'debug' : level, modelId: proxied[1], message };
      }
      modelId = this.nameIn(message);
    }
    if (modelId !== null && /: stopping model instance name=/.test(message)) {
      return { level, modelId, message, stopping: true };
    }
    return { level, modelId, message };
  }

  /** Model ids the router knows (catalogue and `/models`), to attribute `name=` with blanks in it. */
  setKnownModels(ids: Iterable<string>): void {
    this.known = [...new Set(ids)].sort((a, b) => b.length - a.length);
  }

  /** The model a router line names with `name=`, or null. */
  private nameIn(message: string): string | null {
    // Formats whose name ends the line or is followed by fixed text (tools/server/server-models.cpp).
    const fixed =
      /\binstance name=(.+) exited with status -?\d+$/.exec(message) ??
      /\bname=(.+?) (?:on port \d+|joined the queue, \d+ waiting|queued at position \d+|went idle, giving up .*|is not loaded, loading\.\.\.|is still loading, force-killing|is not running|after \d+ seconds timeout|did not go through: .*|is fully loaded\.\.\.|to make room for name=.*|\(.*\))$/.exec(message) ??
      /\b(?:stopping model instance|removing LRU|loading queued model|hiding cache model|child process for) name=(.+)$/.exec(message);
    const at = message.indexOf('name=');
    if (at < 0) {
      return null;
    }
    const rest = message.slice(at + 5);
    const known = this.known.find((id) => rest.startsWith(id) && (rest.length === id.length || /[\s,:)]/.test(rest[id.length] ?? '')));
    return known ?? fixed?.[1] ?? /^[^\s,]+/.exec(rest)?.[0] ?? null;
  }

  /** Forget port mappings, e.g. after llama-server restarted. */
  reset(): void {
    this.portToModel.clear();
    this.inBanner.clear();
  }
}

/** Keeps the last N lines, overall and per model, to explain a crash or a failed load. */
export class LogTail {
  private readonly limit: number;
  private readonly all: string[] = [];
  private readonly byModel = new Map<string, string[]>();

  constructor(limit = 30) {
    this.limit = limit;
  }

  push(line: ParsedLine): void {
    push(this.all, line.message, this.limit);
    if (line.modelId !== null) {
      let lines = this.byModel.get(line.modelId);
      if (!lines) {
        lines = [];
        this.byModel.set(line.modelId, lines);
      }
      push(lines, line.message, this.limit);
    }
  }

  lines(n = this.limit): string[] {
    return this.all.slice(-n);
  }

  modelLines(modelId: string, n = this.limit): string[] {
    return (this.byModel.get(modelId) ?? []).slice(-n);
  }

  clearModel(modelId: string): void {
    this.byModel.delete(modelId);
  }
}

function push(lines: string[], line: string, limit: number): void {
  lines.push(line);
  if (lines.length > limit) {
    lines.splice(0, lines.length - limit);
  }
}

/**
 * The line that best explains a failure: the last error, else the last warning-looking line,
 * else the last line.
 */
export function explainFailure(lines: string[]): string | null {
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i] ?? '';
    if (/\b(error|failed|fatal|invalid|unable|cannot)\b/i.test(line)) {
      return line;
    }
  }
  return lines.at(-1) ?? null;
}
