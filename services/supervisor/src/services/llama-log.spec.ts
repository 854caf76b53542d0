import { describe, expect, it } from 'vitest';
import { explainFailure, LlamaLogParser, LogTail } from './llama-log.js';

describe(LlamaLogParser.name, () => {
  it.each([
    ['0.00.007.243 W srv  llama_server: CORS is set to allow all origins', 'warn', 'srv  llama_server: CORS is set to allow all origins'],
    ['0.00.008.622 I srv  llama_server: listening on http://127.0.0.1:18999', 'info', 'srv  llama_server: listening on http://127.0.0.1:18999'],
    ['0.01.000.000 E llama_model_load: error loading model', 'error', 'llama_model_load: error loading model'],
    ['0.01.000.000 D slot update', 'debug', 'slot update'],
    ['gguf_init: failed to read magic', 'error', 'gguf_init: failed to read magic'],
    ['warning: no usable GPU found', 'warn', 'warning: no usable GPU found'],
    ['plain text', 'info', 'plain text'],
  ])('reads the level of %j', (line, level, message) => {
    const sut = new LlamaLogParser();
    expect(sut.parse(line)).toEqual({ level, modelId: null, message });
  });

  it('attributes instance output to the model spawned on that port', () => {
    const sut = new LlamaLogParser();
    expect(sut.parse('0.00.1 I srv  load: spawning server instance with name=tiny-a on port 39001').modelId).toBe('tiny-a');
    expect(sut.parse('[39001] 0.00.020.000 E llama_model_load: error loading model')).toEqual({
      level: 'error',
      modelId: 'tiny-a',
      message: 'llama_model_load: error loading model',
    });
    expect(sut.parse('[39002] something').modelId).toBeNull();
  });

  it("reads the router's start-up notice as info, and warnings after it as warnings", () => {
    const sut = new LlamaLogParser();
    const levels = [
      '0.00.007.243 W srv  llama_server: -----------------',
      "0.00.007.247 W srv  llama_server: CORS is set to allow all origins ('*') and no API key is set",
      '0.00.007.249 W srv  llama_server: -----------------',
      '0.00.008.000 W srv  llama_server: something else is off',
    ].map((l) => sut.parse(l).level);
    expect(levels).toEqual(['info', 'info', 'info', 'warn']);
  });

  it('does the same for the notice of each model instance', () => {
    const sut = new LlamaLogParser();
    sut.parse('0.00.1 I srv  load: spawning server instance with name=tiny-a on port 39001');
    const lines = ['[39001] 0.00.007.243 W srv  llama_server: -----', '[39001] 0.00.007.244 W srv  llama_server: router mode', '[39001] 0.00.007.245 W srv  llama_server: -----'];
    expect(lines.map((l) => sut.parse(l))).toEqual(lines.map((l) => ({ level: 'info', modelId: 'tiny-a', message: l.replace(/^\[39001\] \S+ W /, '') })));
  });

  it('attributes router lines that name a model', () => {
    const sut = new LlamaLogParser();
    expect(sut.parse('0.1.2.3 I srv  unload: stopping model instance name=tiny-b').modelId).toBe('tiny-b');
  });
});

describe(LogTail.name, () => {
  it('keeps the last lines overall and per model', () => {
    const sut = new LogTail(2);
    sut.push({ level: 'info', modelId: 'a', message: '1' });
    sut.push({ level: 'info', modelId: null, message: '2' });
    sut.push({ level: 'info', modelId: 'a', message: '3' });
    sut.push({ level: 'info', modelId: 'a', message: '4' });
    expect(sut.lines()).toEqual(['3', '4']);
    expect(sut.modelLines('a')).toEqual(['3', '4']);
    expect(sut.modelLines('b')).toEqual([]);
  });
});

describe(explainFailure.name, () => {
  it('prefers the last line that reads like an error', () => {
    expect(explainFailure(['loading', 'gguf_init_from_file: failed to read magic', 'exiting'])).toBe('gguf_init_from_file: failed to read magic');
    expect(explainFailure(['a', 'b'])).toBe('b');
    expect(explainFailure([])).toBeNull();
  });
});

describe(`${LlamaLogParser.name} with model ids the router allows`, () => {
  it.each([
    ['0.05.743.175 I srv        unload: stopping model instance name=my model (Q4) ü', 'my model (Q4) ü', true],
    ['0.05.746.082 I srv    operator(): instance name=my model (Q4) ü exited with status 1', 'my model (Q4) ü', false],
    ['0.01.000.000 I srv  load: model name=org/m:Q4_K_M is not loaded, loading...', 'org/m:Q4_K_M', false],
    ['0.01.000.000 I srv  x: evicting idle LRU name=a b to make room for name=c', 'a b', false],
  ])('attributes %j', (line, modelId, stopping) => {
    const sut = new LlamaLogParser();
    const parsed = sut.parse(line);
    expect(parsed.modelId).toBe(modelId);
    expect(parsed.stopping === true).toBe(stopping);
  });

  it('attributes instance lines of a model whose id holds blanks, so a failed load keeps its cause', () => {
    const sut = new LlamaLogParser();
    sut.parse('0.13.225.453 I srv          load: spawning server instance with name=broken model ü on port 56121');
    expect(sut.parse('[56121] 0.00.003.514 E srv    load_model: failed to load model').modelId).toBe('broken model ü');
  });

  it('prefers the longest known id that the text continues with', () => {
    const sut = new LlamaLogParser();
    sut.setKnownModels(['a', 'a b']);
    expect(sut.parse('0.1 I srv  f: request for name=a b joined the queue, 2 waiting').modelId).toBe('a b');
    expect(sut.parse('0.1 I srv  f: something about name=a b c').modelId).toBe('a b');
  });

  it("keeps the router's proxying lines (our own polls among them) at debug, not info", () => {
    const sut = new LlamaLogParser();
    expect(sut.parse('0.20.000.000 I srv  proxy_reques: proxying request to model tiny one on port 45643')).toEqual({
      level: 'debug',
      modelId: 'tiny one',
      message: 'srv  proxy_reques: proxying request to model tiny one on port 45643',
    });
  });
});
