import type { LogLevel } from '@llamaproxy/shared';

export interface ParsedLine {
  level: LogLevel;
  modelId: string | null;
  message: string;
}

const LEVELS: Record<string, LogLevel> = { E: 'error', W: 'warn', I: 'info', D: 'debug' };

/**
 * Reads llama-server's log lines. The router prints `<time> <L> <module> <text>`; model instance
 * output is forwarded as `[ <port>] <time> <L> ...`. The router announces which instance listens on
 * which port ("spawning server instance with name=X on port P"), so instance lines are attributed
 * to their model; router lines that name a model (`name=X`) are attributed too.
 */
export class LlamaLogParser {
  private readonly portToModel = new Map<number, string>();
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

    const spawned = /spawning server instance with name=(\S+) on port (\d+)/.exec(message);
    if (spawned?.[1] !== undefined && spawned[2] !== undefined) {
      this.portToModel.set(Number(spawned[2]), spawned[1]);
    }
    if (modelId === null) {
      modelId = /\bname=([^\s,]+)/.exec(message)?.[1] ?? null;
    }
    return { level, modelId, message };
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
