/**
 * The GPU check, run on a lent NVIDIA machine by run.sh: a real Redis, the supervisor running a
 * CUDA build of llama-server, and the metrics collector against the real nvidia-smi. Drives them
 * through the same queue and streams the gateway uses and writes what it saw to $OUT/summary.json.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Queue, QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import {
  controlJobId,
  controlQueueName,
  JobName,
  LogBatchSchema,
  MetricsEventSchema,
  QUEUE_PREFIX,
  RedisKeys,
  STREAM_FIELD,
  StatusEventSchema,
} from '@llamaproxy/shared';

const env = process.env;
const out = env.OUT ?? '/tmp/out';
const redisUrl = env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const nodeId = env.SUPERVISOR_NODE_ID ?? 'gpu';
const llamaUrl = env.LLAMA_SERVER_URL ?? 'http://127.0.0.1:8080';
const summary: Record<string, unknown> = { startedAt: new Date().toISOString() };
const save = (): void => writeFileSync(join(out, 'summary.json'), JSON.stringify(summary, null, 2));

async function readStream(redis: Redis, stream: string): Promise<unknown[]> {
  const entries = await redis.xrange(stream, '-', '+');
  return entries.map(([, fields]) => JSON.parse(fields[fields.indexOf(STREAM_FIELD) + 1] ?? 'null') as unknown);
}

async function waitUntil<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn().catch(() => undefined);
    if (value !== undefined) {
      return value;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function main(): Promise<void> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const statuses = async () => (await readStream(redis, RedisKeys.statusStream)).map((e) => StatusEventSchema.parse(e));

  const running = await waitUntil('llama-server running', async () => {
    const llama = (await statuses()).flatMap((e) => (e.kind === 'llama' && e.status.state === 'running' ? [e.status] : []));
    return llama.at(-1);
  }, 120_000);
  summary.llama = { state: running.state, args: running.args, pid: running.pid };
  save();

  const queue = new Queue(controlQueueName(nodeId), { connection: redis, prefix: QUEUE_PREFIX });
  const events = new QueueEvents(controlQueueName(nodeId), { connection: new Redis(redisUrl, { maxRetriesPerRequest: null }), prefix: QUEUE_PREFIX });
  await events.waitUntilReady();
  const modelId = env.MODEL_ID ?? 'tiny-llama-a';
  const t0 = Date.now();
  const job = await queue.add(JobName.modelLoad, { modelId }, { jobId: controlJobId(JobName.modelLoad, { modelId }), removeOnComplete: true });
  summary.load = { result: await job.waitUntilFinished(events, 120_000), ms: Date.now() - t0 };
  save();

  const chat = await fetch(`${llamaUrl}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: modelId, messages: [{ role: 'user', content: 'hello there' }], max_tokens: 64 }),
  });
  const chatBody = (await chat.json()) as { timings?: unknown; usage?: unknown };
  summary.chat = { status: chat.status, usage: chatBody.usage, timings: chatBody.timings };
  // A few more completions so the collector sees live rates.
  for (let i = 0; i < 5; i++) {
    await fetch(`${llamaUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: modelId, messages: [{ role: 'user', content: `count to ${i}` }], max_tokens: 64 }),
    });
  }
  const models = (await (await fetch(`${llamaUrl}/models`)).json()) as { data: { id: string; status: unknown }[] };
  summary.routerModels = models.data.map((m) => ({ id: m.id, status: m.status }));
  save();

  const sample = await waitUntil('a metrics sample with GPUs and the loaded model', async () => {
    const samples = (await readStream(redis, RedisKeys.metricsStream)).map((e) => MetricsEventSchema.parse(e).sample);
    return samples.reverse().find((s) => s.gpus.length > 0 && s.models.some((m) => m.genTokensTotal > 0));
  }, 60_000).catch((err: unknown) => ({ error: (err as Error).message }));
  summary.metricsSample = sample;
  save();

  // Placement (issue #14): the GPU budget from nvidia-smi, and the model's footprint estimated from
  // its header against the one measured with nvidia-smi --query-compute-apps after the load.
  summary.placement = await waitUntil('a memory report with the loaded model measured', async () => {
    const reports = (await statuses()).flatMap((e) => (e.kind === 'memory' ? [e.report] : []));
    const report = reports.reverse().find((r) => r.footprints.some((f) => f.modelId === modelId && f.measured !== null));
    return report === undefined ? undefined : { devices: report.devices, models: report.models, footprint: report.footprints.find((f) => f.modelId === modelId) };
  }, 60_000).catch((err: unknown) => ({ error: (err as Error).message }));
  save();

  const logs = (await readStream(redis, RedisKeys.logStream)).flatMap((e) => LogBatchSchema.parse(e).records);
  summary.cudaLogLines = logs
    .map((r) => `${r.modelId ?? '-'} ${r.level} ${r.message}`)
    .filter((l) => /CUDA|cuda|offload|GPU|VRAM|ggml_cuda/i.test(l))
    .slice(0, 60);
  summary.finishedAt = new Date().toISOString();
  save();
  await queue.close();
  await events.close();
  redis.disconnect();
  // QueueEvents keeps the connection it was given; nothing else is left to wait for.
  process.exit(0);
}

main().catch((err: unknown) => {
  summary.error = (err as Error).stack ?? String(err);
  save();
  process.exit(1);
});
