// Prometheus text exposition format (version 0.0.4): a reader for llama-server's /metrics. The
// collector's own endpoint is written with prom-client (prometheus-writer.ts).
import type { MetricType } from './prometheus-writer.js';

export interface ParsedFamily {
  value: number;
  type: MetricType;
  help: string;
}

/**
 * The unlabelled samples of an exposition, by metric name, with their HELP and TYPE. Labelled
 * samples are skipped: llama-server's figures of interest carry no labels.
 */
export function parsePrometheusText(text: string): Map<string, ParsedFamily> {
  const families = new Map<string, ParsedFamily>();
  const meta = new Map<string, { type: MetricType; help: string }>();
  const metaOf = (name: string): { type: MetricType; help: string } => {
    let m = meta.get(name);
    if (m === undefined) {
      m = { type: 'untyped', help: '' };
      meta.set(name, m);
    }
    return m;
  };
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '') {
      continue;
    }
    if (line.startsWith('#')) {
      const m = /^#\s+(HELP|TYPE)\s+(\S+)\s*(.*)$/.exec(line);
      if (m?.[1] === 'HELP' && m[2] !== undefined) {
        metaOf(m[2]).help = (m[3] ?? '').replace(/\\n/g, '\n').replace(/\\\\/g, '\\');
      } else if (m?.[1] === 'TYPE' && m[2] !== undefined) {
        const type = m[3]?.trim();
        metaOf(m[2]).type = type === 'gauge' || type === 'counter' || type === 'summary' ? type : 'untyped';
      }
      continue;
    }
    const space = line.indexOf(' ');
    const brace = line.indexOf('{');
    if (space < 0 || (brace >= 0 && brace < space)) {
      continue;
    }
    const name = line.slice(0, space);
    const value = parseSampleValue(line.slice(space + 1).trim().split(/\s+/)[0] ?? '');
    if (value !== null) {
      families.set(name, { value, ...metaOf(name) });
    }
  }
  return families;
}

function parseSampleValue(text: string): number | null {
  switch (text) {
    case '+Inf':
      return Number.POSITIVE_INFINITY;
    case '-Inf':
      return Number.NEGATIVE_INFINITY;
    case 'NaN':
      return Number.NaN;
    default: {
      const n = Number(text);
      return text === '' || Number.isNaN(n) ? null : n;
    }
  }
}

export type { MetricType } from './prometheus-writer.js';
