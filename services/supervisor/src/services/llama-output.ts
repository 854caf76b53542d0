import { EventEmitter } from 'node:events';
import type { LogRecord } from '@llamaproxy/shared';
import { explainFailure, LlamaLogParser, LogTail } from './llama-log.js';
import type { ModelStates } from './model-states.js';
import type { Clock } from './supervisor-ports.js';

export interface LlamaOutputDeps {
  nodeId: string;
  /** Told when the router says it is stopping a model's instance on purpose. */
  models: Pick<ModelStates, 'expectStop'>;
  clock: Pick<Clock, 'now'>;
}

interface LlamaOutputEvents {
  log: [record: LogRecord];
}

/** Where the model ids that the log parser recognises come from; the parser knows their union. */
export type KnownModelsSource = 'catalogue' | 'router';

/**
 * Reads llama-server's output: attributes each line to its model, keeps the recent lines that
 * explain a crash or a failed load, and emits every line as a structured `log` record.
 */
export class LlamaOutput extends EventEmitter<LlamaOutputEvents> {
  private readonly deps: LlamaOutputDeps;
  private readonly parser = new LlamaLogParser();
  private readonly tail = new LogTail(40);
  private readonly known: Record<KnownModelsSource, string[]> = { catalogue: [], router: [] };

  constructor(deps: LlamaOutputDeps) {
    super();
    this.deps = deps;
  }

  /** One line of llama-server's stdout or stderr. */
  push(line: string): void {
    const parsed = this.parser.parse(line);
    if (parsed.message.length === 0) {
      return;
    }
    this.tail.push(parsed);
    if (parsed.stopping === true && parsed.modelId !== null) {
      this.deps.models.expectStop(parsed.modelId);
    }
    this.emit('log', {
      ts: this.deps.clock.now(),
      level: parsed.level,
      source: 'llama-server',
      nodeId: this.deps.nodeId,
      modelId: parsed.modelId,
      message: parsed.message.slice(0, 16_000),
    });
  }

  /** A new llama-server process: its instances' ports mean nothing yet. */
  reset(): void {
    this.parser.reset();
  }

  /** The last `n` lines, of every source. */
  lines(n: number): string[] {
    return this.tail.lines(n);
  }

  /** A new load of `modelId` starts: its earlier lines no longer explain anything. */
  clearModel(modelId: string): void {
    this.tail.clearModel(modelId);
  }

  /** The model ids that `source` lists now, so that names holding blanks are read whole. */
  knowModels(source: KnownModelsSource, ids: readonly string[]): void {
    this.known[source] = [...ids];
    this.parser.setKnownModels([...this.known.catalogue, ...this.known.router]);
  }

  /** Why an instance of `modelId` exited with `exitCode`, from its own lines. */
  explainExit(modelId: string, exitCode: number | null): { message: string; logTail: string[] } {
    const lines = this.tail.modelLines(modelId);
    const reason = explainFailure(lines);
    return {
      message: `model instance exited with code ${exitCode ?? '?'}${reason ? `: ${reason}` : ''}`,
      logTail: lines.slice(-15),
    };
  }
}
