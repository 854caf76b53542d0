import { z } from 'zod';

export const LogLevel = { error: 'error', warn: 'warn', info: 'info', debug: 'debug' } as const;
export type LogLevel = (typeof LogLevel)[keyof typeof LogLevel];
export const LogLevelSchema = z.enum(LogLevel);

/** Severity order: a filter for `warn` keeps `error` and `warn`. */
export const LOG_LEVEL_RANK: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };

export const LogSource = {
  gateway: 'gateway',
  supervisor: 'supervisor',
  llamaServer: 'llama-server',
  metrics: 'metrics',
  /** Audit records (who changed what), mirrored from the audit log. */
  audit: 'audit',
} as const;
export type LogSource = (typeof LogSource)[keyof typeof LogSource];
export const LogSourceSchema = z.enum(LogSource);

/** One log line as it travels from a service to the gateway (no id yet). */
export const LogRecordSchema = z.object({
  ts: z.number(),
  level: LogLevelSchema,
  source: LogSourceSchema,
  nodeId: z.string().nullable(),
  /** The model the line is about, when it names one. */
  modelId: z.string().nullable(),
  message: z.string().max(16_384),
});
export type LogRecord = z.infer<typeof LogRecordSchema>;

/** A stored log line; `id` increases monotonically and is the resume cursor. */
export const LogEntrySchema = LogRecordSchema.extend({ id: z.number().int().positive() });
export type LogEntry = z.infer<typeof LogEntrySchema>;
