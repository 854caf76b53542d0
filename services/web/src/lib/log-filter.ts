/** The Logs page's filter: the same rules on live entries (here) as the gateway applies to queries. */
import type { LogEntry, LogLevel, LogSource, RequestPayload } from '@llamaproxy/shared';
import { LOG_LEVEL_RANK, LOG_LEVELS, LOG_SOURCES } from '../core/contract.js';

export interface LogFilter {
  /** Entries at this level or more severe; null for all. */
  level: LogLevel | null;
  source: LogSource | null;
  modelId: string | null;
  /** One supervisor node's lines; null for every node. */
  nodeId: string | null;
  text: string;
}

export const NO_FILTER: LogFilter = { level: null, source: null, modelId: null, nodeId: null, text: '' };

/**
 * The level the Logs page shows when its link names none: info and worse. Debug lines are mostly
 * llama-server's "proxying request" line, printed once a second per loaded model for our own
 * collector's polls; they would fill the page. `?level=all` shows every level.
 */
export const DEFAULT_LOG_LEVEL: LogLevel = 'info';

export function matchesLog(entry: LogEntry, f: LogFilter): boolean {
  if (f.level !== null && LOG_LEVEL_RANK[entry.level] > LOG_LEVEL_RANK[f.level]) {
    return false;
  }
  if (f.source !== null && entry.source !== f.source) {
    return false;
  }
  if (f.modelId !== null && entry.modelId !== f.modelId) {
    return false;
  }
  if (f.nodeId !== null && entry.nodeId !== f.nodeId) {
    return false;
  }
  const text = f.text.trim().toLowerCase();
  return text === '' || entry.message.toLowerCase().includes(text);
}

/** The `logs:query` payload for a filter. */
export function toQuery(f: LogFilter, limit: number, beforeId?: number): RequestPayload<'logs:query'> {
  return {
    limit,
    ...(f.level !== null && { level: f.level }),
    ...(f.source !== null && { source: f.source }),
    ...(f.modelId !== null && { modelId: f.modelId }),
    ...(f.nodeId !== null && { nodeId: f.nodeId }),
    ...(f.text.trim() !== '' && { text: f.text.trim() }),
    ...(beforeId !== undefined && { beforeId }),
  };
}

/**
 * Reads `?level=warn&source=supervisor&model=qwen&node=gpu-1&q=text` (links from other pages).
 * Without `level` the filter is DEFAULT_LOG_LEVEL; `level=all` is every level.
 */
export function filterFromSearch(search: string): LogFilter {
  const params = new URLSearchParams(search);
  const level = params.get('level');
  const source = params.get('source');
  return {
    level: level === 'all' ? null : (LOG_LEVELS as readonly string[]).includes(level ?? '') ? (level as LogLevel) : DEFAULT_LOG_LEVEL,
    source: (LOG_SOURCES as readonly string[]).includes(source ?? '') ? (source as LogSource) : null,
    modelId: params.get('model'),
    nodeId: params.get('node'),
    text: params.get('q') ?? '',
  };
}
