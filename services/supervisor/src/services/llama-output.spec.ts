import { readFileSync } from 'node:fs';
import type { LogRecord } from '@llamaproxy/shared';
import { describe, expect, it } from 'vitest';
import { LlamaOutput } from './llama-output.js';

const LOG = readFileSync(new URL('./__fixtures__/router-session/router.log', import.meta.url), 'utf8').split('\n');

function subject() {
  const stops: string[] = [];
  const sut = new LlamaOutput({ nodeId: 'node-a', models: { expectStop: (id) => stops.push(id) }, clock: { now: () => 42 } });
  const records: LogRecord[] = [];
  sut.on('log', (r) => records.push(r));
  return { sut, stops, records };
}

describe(LlamaOutput.name, () => {
  it('emits every non-empty line of the recorded router output as a record of this node, attributed to its model', () => {
    const { sut, records } = subject();
    LOG.forEach((line) => sut.push(line));
    expect(records.length).toBeGreaterThan(50);
    expect(records.length).toBe(LOG.filter((l) => l.trim().length > 0).length);
    expect(records.every((r) => r.nodeId === 'node-a' && r.source === 'llama-server' && r.ts === 42)).toBe(true);
    expect(records.find((r) => r.message.includes("loading model '/tmp/rec/models/tiny.gguf'"))?.modelId).toBe('tiny');
  });

  it("tells the model states when the router stops an instance on purpose", () => {
    const { sut, stops } = subject();
    sut.push('0.02.607.604 I srv          load: spawning server instance with name=tiny on port 45643');
    sut.push('0.05.000.000 I srv    operator(): stopping model instance name=tiny');
    expect(stops).toEqual(['tiny']);
  });

  it("explains a model's exit by its own last error line, and forgets it when the model loads again", () => {
    const { sut } = subject();
    LOG.forEach((line) => sut.push(line));
    const explained = sut.explainExit('broken', 1);
    expect(explained.message).toBe('model instance exited with code 1: srv  llama_server: exiting due to model loading error');
    expect(explained.logTail.length).toBeGreaterThan(0);
    sut.clearModel('broken');
    expect(sut.explainExit('broken', 1)).toEqual({ message: 'model instance exited with code 1', logTail: [] });
  });

  it('attributes a name with blanks whole once a source lists it', () => {
    const { sut, records } = subject();
    sut.knowModels('catalogue', ['my model']);
    sut.push('0.02.607.604 I srv          load: spawning server instance with name=my model on port 45700');
    sut.push('[45700] 0.00.003.617 I srv    load_model: loading model');
    expect(records.map((r) => r.modelId)).toEqual(['my model', 'my model']);
  });
});
