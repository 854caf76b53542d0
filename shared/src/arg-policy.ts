import { AppError, ErrorCode } from './errors.js';
import type { LlamaArg, LlamaArgCatalogue } from './llama.js';
import { indexArgs } from './llama-args.js';
import { PRESET_ONLY_KEYS, type PresetDocument } from './presets.js';

/**
 * The policy for llama-server flags: which arguments a dashboard user may set through extra
 * arguments, presets and per-model settings. Every argument of llama-server's `--help` is
 * classified here by its canonical key (`LlamaArg.key`: the first long flag without dashes, e.g.
 * `hf-repo` for `-hf, -hfr, --hf-repo`). Aliases, negations and env names are resolved through the
 * argument catalogue, so `-hfr` and `LLAMA_ARG_HF_REPO` are `hf-repo`.
 *
 * - allowed: performance, context, sampling, cache, batching, GPU placement, templates by name...
 * - path: the value names a file llama-server reads; it must lie inside the models directory.
 * - denied: it writes or serves files, reaches the network, enables tools, or belongs to the stack.
 *
 * Anything the table does not know is denied. Only the operator widens the policy, with the
 * environment variable `LLAMA_ALLOW_ARGS` (keys, comma or space separated); the web app never can.
 * The gateway and the web app check the same table as the supervisor, which enforces it last.
 */

/** Why a flag is refused, by reason key (the message completes "not allowed: ..."). */
export const ArgDenyReason = {
  writes: 'it writes files on the host',
  serves: 'it serves local files over HTTP',
  tools: 'it lets the model run tools, a CORS proxy or MCP servers',
  network: 'it downloads from or connects to other hosts',
  stack: 'the supervisor sets it from its environment',
  http: "it changes how llama-server's HTTP endpoint is exposed, which the stack owns",
  logs: "it changes llama-server's log output, which the supervisor reads",
  programs: 'it runs programs from the given directory',
  exits: 'it prints information and exits instead of serving',
  unknown: 'it is not in the flag policy',
} as const;
export type ArgDenyReason = keyof typeof ArgDenyReason;

/**
 * How a path-valued argument writes its value: one file (`path`), a comma-separated list
 * (`paths`, e.g. `--lora a.gguf,b.gguf`) or `FNAME:SCALE` items (`scaled-paths`).
 */
export type ArgPathFormat = 'path' | 'paths' | 'scaled-paths';

/** One entry of the table: `allow`, a path format, or the reason it is denied. */
export type ArgPolicyEntry = 'allow' | ArgPathFormat | ArgDenyReason;

/**
 * The table, by canonical key, in the order of llama-server's `--help` (node-llama-cpp 3.21.1 /
 * llama.cpp 80fb11a, see services/supervisor/src/services/__fixtures__/llama-server-help.txt), plus
 * flags other builds add (`rpc`). A unit test fails when the fixture has a key this table lacks.
 */
export const ARG_POLICY = {
  // ---- common ----
  help: 'exits',
  version: 'exits',
  'cache-list': 'exits',
  'completion-bash': 'exits',
  threads: 'allow',
  'threads-batch': 'allow',
  'cpu-mask': 'allow',
  'cpu-range': 'allow',
  'cpu-strict': 'allow',
  prio: 'allow',
  poll: 'allow',
  'cpu-mask-batch': 'allow',
  'cpu-range-batch': 'allow',
  'cpu-strict-batch': 'allow',
  'prio-batch': 'allow',
  'poll-batch': 'allow',
  'ctx-size': 'allow',
  predict: 'allow',
  'batch-size': 'allow',
  'ubatch-size': 'allow',
  keep: 'allow',
  'swa-full': 'allow',
  'flash-attn': 'allow',
  perf: 'allow',
  escape: 'allow',
  'rope-scaling': 'allow',
  'rope-scale': 'allow',
  'rope-freq-base': 'allow',
  'rope-freq-scale': 'allow',
  'yarn-orig-ctx': 'allow',
  'yarn-ext-factor': 'allow',
  'yarn-attn-factor': 'allow',
  'yarn-beta-slow': 'allow',
  'yarn-beta-fast': 'allow',
  'kv-offload': 'allow',
  repack: 'allow',
  'no-host': 'allow',
  'cache-type-k': 'allow',
  'cache-type-v': 'allow',
  'defrag-thold': 'allow',
  mlock: 'allow',
  mmap: 'allow',
  'direct-io': 'allow',
  'load-mode': 'allow',
  'lazy-mode': 'allow',
  numa: 'allow',
  device: 'allow',
  'list-devices': 'exits',
  'override-tensor': 'allow',
  'cpu-moe': 'allow',
  'n-cpu-moe': 'allow',
  'n-cpu-ffn': 'allow',
  'gpu-layers': 'allow',
  'split-mode': 'allow',
  'tensor-split': 'allow',
  'main-gpu': 'allow',
  fit: 'allow',
  'fit-target': 'allow',
  'fit-ctx': 'allow',
  'check-tensors': 'allow',
  'override-kv': 'allow',
  'op-offload': 'allow',
  lora: 'paths',
  'lora-scaled': 'scaled-paths',
  'control-vector': 'paths',
  'control-vector-scaled': 'scaled-paths',
  'control-vector-layer-range': 'allow',
  model: 'path',
  'model-url': 'network',
  'docker-repo': 'network',
  'hf-repo': 'network',
  'hf-file': 'network',
  'hf-token': 'network',
  'log-disable': 'logs',
  'log-file': 'writes',
  'log-colors': 'logs',
  verbose: 'allow',
  offline: 'allow',
  verbosity: 'allow',
  'log-prefix': 'logs',
  'log-timestamps': 'logs',
  'spec-draft-type-k': 'allow',
  'spec-draft-type-v': 'allow',
  // ---- sampling ----
  samplers: 'allow',
  seed: 'allow',
  'sampler-seq': 'allow',
  'ignore-eos': 'allow',
  temp: 'allow',
  'top-k': 'allow',
  'top-p': 'allow',
  'min-p': 'allow',
  'top-nsigma': 'allow',
  'xtc-probability': 'allow',
  'xtc-threshold': 'allow',
  typical: 'allow',
  'repeat-last-n': 'allow',
  'repeat-penalty': 'allow',
  'presence-penalty': 'allow',
  'frequency-penalty': 'allow',
  'dry-multiplier': 'allow',
  'dry-base': 'allow',
  'dry-allowed-length': 'allow',
  'dry-penalty-last-n': 'allow',
  'dry-sequence-breaker': 'allow',
  'adaptive-target': 'allow',
  'adaptive-decay': 'allow',
  'dynatemp-range': 'allow',
  'dynatemp-exp': 'allow',
  mirostat: 'allow',
  'mirostat-lr': 'allow',
  'mirostat-ent': 'allow',
  'logit-bias': 'allow',
  grammar: 'allow',
  'grammar-file': 'path',
  'json-schema': 'allow',
  'json-schema-file': 'path',
  'backend-sampling': 'allow',
  // ---- speculative ----
  'spec-draft-hf': 'network',
  'spec-draft-threads': 'allow',
  'spec-draft-threads-batch': 'allow',
  'spec-draft-cpu-mask': 'allow',
  'spec-draft-cpu-range': 'allow',
  'spec-draft-cpu-strict': 'allow',
  'spec-draft-prio': 'allow',
  'spec-draft-poll': 'allow',
  'spec-draft-cpu-mask-batch': 'allow',
  'spec-draft-cpu-range-batch': 'allow',
  'spec-draft-cpu-strict-batch': 'allow',
  'spec-draft-prio-batch': 'allow',
  'spec-draft-poll-batch': 'allow',
  'spec-draft-override-tensor': 'allow',
  'spec-draft-cpu-moe': 'allow',
  'spec-draft-n-cpu-moe': 'allow',
  'spec-draft-n-max': 'allow',
  'spec-draft-n-min': 'allow',
  'spec-synth-len': 'allow',
  'spec-synth-rates': 'allow',
  'spec-draft-p-split': 'allow',
  'spec-draft-p-min': 'allow',
  'spec-draft-backend-sampling': 'allow',
  'spec-draft-device': 'allow',
  'spec-draft-ngl': 'allow',
  'spec-draft-model': 'path',
  'spec-type': 'allow',
  'spec-ngram-mod-n-min': 'allow',
  'spec-ngram-mod-n-max': 'allow',
  'spec-ngram-mod-n-match': 'allow',
  'spec-ngram-simple-size-n': 'allow',
  'spec-ngram-simple-size-m': 'allow',
  'spec-ngram-simple-min-hits': 'allow',
  'spec-ngram-map-k-size-n': 'allow',
  'spec-ngram-map-k-size-m': 'allow',
  'spec-ngram-map-k-min-hits': 'allow',
  'spec-ngram-map-k4v-size-n': 'allow',
  'spec-ngram-map-k4v-size-m': 'allow',
  'spec-ngram-map-k4v-min-hits': 'allow',
  draft: 'allow',
  'draft-min': 'allow',
  'spec-ngram-size-n': 'allow',
  'spec-ngram-size-m': 'allow',
  'spec-ngram-min-hits': 'allow',
  // ---- example-specific (server) ----
  // Both caches are only read by llama-server (it never saves them).
  'lookup-cache-static': 'path',
  'lookup-cache-dynamic': 'path',
  'kv-unified-per-slot': 'allow',
  'ctx-checkpoints': 'allow',
  'checkpoint-min-step': 'allow',
  'cache-ram': 'allow',
  'kv-unified': 'allow',
  'cache-idle-slots': 'allow',
  'context-shift': 'allow',
  'reverse-prompt': 'allow',
  special: 'allow',
  warmup: 'allow',
  'spm-infill': 'allow',
  pooling: 'allow',
  parallel: 'allow',
  'cont-batching': 'allow',
  mmproj: 'path',
  'mmproj-url': 'network',
  'mmproj-auto': 'allow',
  'mmproj-offload': 'allow',
  'mmproj-device': 'allow',
  'image-min-tokens': 'allow',
  'image-max-tokens': 'allow',
  'mtmd-batch-max-tokens': 'allow',
  'video-fps': 'allow',
  'video-timestamp-interval': 'allow',
  'video-ffmpeg-dir': 'programs',
  alias: 'allow',
  tags: 'allow',
  'embd-normalize': 'allow',
  host: 'stack',
  port: 'stack',
  'reuse-port': 'http',
  path: 'serves',
  'cors-origins': 'http',
  'cors-methods': 'http',
  'cors-headers': 'http',
  'cors-credentials': 'http',
  'api-prefix': 'http',
  'ui-config': 'allow',
  'ui-config-file': 'path',
  'ui-mcp-proxy': 'tools',
  tools: 'tools',
  'tools-runtime': 'tools',
  'mcp-servers-config': 'tools',
  'mcp-servers-json': 'tools',
  agent: 'tools',
  // The built-in Web UI is compiled into the binary; it serves no files from disk.
  ui: 'allow',
  embedding: 'allow',
  rerank: 'allow',
  'api-key': 'stack',
  'api-key-file': 'stack',
  'ssl-key-file': 'stack',
  'ssl-cert-file': 'stack',
  'chat-template-kwargs': 'allow',
  timeout: 'allow',
  'sse-ping-interval': 'allow',
  'threads-http': 'allow',
  'cache-prompt': 'allow',
  'cache-reuse': 'allow',
  // The supervisor always sets --metrics; POST /props changes nothing in this llama-server.
  metrics: 'allow',
  props: 'allow',
  slots: 'allow',
  'slot-save-path': 'writes',
  'media-path': 'serves',
  'models-dir': 'stack',
  'models-preset': 'stack',
  'models-max': 'stack',
  'models-autoload': 'stack',
  jinja: 'allow',
  'reasoning-format': 'allow',
  reasoning: 'allow',
  'reasoning-effort': 'allow',
  'reasoning-budget': 'allow',
  'reasoning-budget-message': 'allow',
  'reasoning-preserve': 'allow',
  'chat-template': 'allow',
  'chat-template-file': 'path',
  'skip-chat-parsing': 'allow',
  'prefill-assistant': 'allow',
  'slot-prompt-similarity': 'allow',
  'lora-init-without-apply': 'allow',
  'sleep-idle-seconds': 'allow',
  'log-prompts-dir': 'writes',
  // Presets that download their models from Hugging Face.
  'embd-gemma-default': 'network',
  'fim-qwen-1.5b-default': 'network',
  'fim-qwen-3b-default': 'network',
  'fim-qwen-7b-default': 'network',
  'fim-qwen-7b-spec': 'network',
  'fim-qwen-14b-spec': 'network',
  'fim-qwen-30b-default': 'network',
  'gpt-oss-20b-default': 'network',
  'gpt-oss-120b-default': 'network',
  'vision-gemma-4b-default': 'network',
  'vision-gemma-12b-default': 'network',
  'spec-default': 'allow',
  // ---- only in some builds ----
  rpc: 'network',
} as const satisfies Record<string, ArgPolicyEntry>;

/** A key of the table. */
export type ArgPolicyKey = keyof typeof ARG_POLICY;

/** How the policy treats one argument. */
export type ArgRule =
  | { kind: 'allowed' }
  | { kind: 'path'; format: ArgPathFormat }
  | { kind: 'denied'; reason: ArgDenyReason };

/** A refused argument, preset key or value. */
export interface ArgPolicyProblem {
  /** The name as given: `-hfr`, `--log-file`, `log-file` or `LLAMA_ARG_LOG_FILE`. */
  flag: string;
  /** Its canonical key, or null when it could not be resolved. */
  key: string | null;
  /** Why it is refused, e.g. "not allowed: it writes files on the host". */
  reason: string;
  /** The preset section it was found in (`*` for the global one); absent for command-line arguments. */
  section?: string;
}

/**
 * A second check of a path value that passed the lexical one; returns why it is refused, or null.
 * The supervisor passes one that resolves symlinks (the gateway and the browser cannot see files).
 * `path` is the value as written; relative paths are relative to `modelsDir`.
 */
export type ArgPathCheck = (path: string, modelsDir: string) => string | null;

/** What a policy check needs to know. */
export interface ArgPolicyContext {
  /**
   * The binary's argument catalogue, used only to resolve aliases, negations and env names. Null
   * before a supervisor reported it: then only canonical keys (and `no-<key>`) resolve, and any other
   * name is refused.
   */
  args: readonly LlamaArg[] | null;
  /** The models directory as llama-server sees it (absolute); path values must lie inside. */
  modelsDir: string;
  /** Keys (or any of their names) that the operator allowed through `LLAMA_ALLOW_ARGS`. */
  allow?: readonly string[];
  /** Extra check of path values, after the lexical one (the supervisor's realpath check). */
  checkPath?: ArgPathCheck;
}

const NO_ALLOW: readonly string[] = [];

/** The rule for a canonical key; keys the table does not know are denied as `unknown`. */
export function argRule(key: string): ArgRule {
  const entry = (ARG_POLICY as Record<string, ArgPolicyEntry>)[key];
  if (entry === undefined) {
    return { kind: 'denied', reason: 'unknown' };
  }
  if (entry === 'allow') {
    return { kind: 'allowed' };
  }
  if (entry === 'path' || entry === 'paths' || entry === 'scaled-paths') {
    return { kind: 'path', format: entry };
  }
  return { kind: 'denied', reason: entry };
}

/**
 * `LLAMA_ALLOW_ARGS` as a list of names: entries are trimmed of leading dashes, so `--log-file`,
 * `log-file` and `-hfr` all work (they are resolved like any other name when checked).
 */
export function parseAllowArgs(value: string | readonly string[]): string[] {
  const list = typeof value === 'string' ? value.split(/[\s,]+/) : value;
  return list.map((s) => s.trim().replace(/^-+/, '')).filter((s) => s.length > 0);
}

/**
 * Resolves a flag, preset key or env name to its canonical key. With a catalogue every name it
 * knows resolves; without one, only canonical keys and their `no-` forms. Null when unresolved.
 */
export function resolveArgKey(name: string, index: ReadonlyMap<string, LlamaArg> | null): string | null {
  if (index !== null) {
    return index.get(name)?.key ?? index.get(name.replace(/^-+/, ''))?.key ?? null;
  }
  const bare = name.replace(/^-+/, '');
  if (Object.hasOwn(ARG_POLICY, bare)) {
    return bare;
  }
  const positive = bare.replace(/^no-/, '');
  return positive !== bare && Object.hasOwn(ARG_POLICY, positive) ? positive : null;
}

/**
 * The path values inside an argument's value: `a,b` for `paths`, `a:1.0,b:0.5` for `scaled-paths`
 * (the scale after the last colon is dropped).
 */
export function argPathValues(value: string, format: ArgPathFormat): string[] {
  if (format === 'path') {
    return [value];
  }
  const items = value.split(',');
  return format === 'paths' ? items : items.map((item) => item.replace(/:[^:/]*$/, ''));
}

/** Normalises a POSIX path lexically: `.`, `..` and repeated slashes resolved; no trailing slash. */
export function normalizePosixPath(path: string): string {
  const absolute = path.startsWith('/');
  const parts: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') {
      continue;
    }
    if (part === '..') {
      if (parts.length > 0 && parts[parts.length - 1] !== '..') {
        parts.pop();
      } else if (!absolute) {
        parts.push('..');
      }
      continue;
    }
    parts.push(part);
  }
  return (absolute ? '/' : '') + parts.join('/');
}

/**
 * Why `path` is not a file inside `modelsDir`, judged lexically (symlinks are the supervisor's
 * `checkPath`), or null. Relative paths are taken relative to the models directory, which is
 * llama-server's working directory.
 */
export function modelsPathProblem(path: string, modelsDir: string): string | null {
  if (path.trim() === '') {
    return 'expects a path inside the models directory';
  }
  if (path.includes('\0')) {
    return 'the path contains a NUL character';
  }
  const root = normalizePosixPath(modelsDir);
  const resolved = normalizePosixPath(path.startsWith('/') ? path : `${root}/${path}`);
  const inside = root === '/' ? resolved !== '/' : resolved.startsWith(`${root}/`);
  return inside ? null : `"${path}" is outside the models directory ${root}`;
}

/**
 * Checks one argument: `name` is a flag (`--lora`, `-hfr`), a preset key (`lora`) or an env name;
 * `value` is its value (null for a switch or when it has none). `index` is `indexArgs(ctx.args)`,
 * for callers that already built it. Returns the problem, or null when the policy allows it.
 */
export function checkArg(name: string, value: string | null, ctx: ArgPolicyContext, index: ReadonlyMap<string, LlamaArg> | null = ctx.args === null ? null : indexArgs(ctx.args)): ArgPolicyProblem | null {
  const key = resolveArgKey(name, index);
  if (isWidened(name, key, index, ctx.allow ?? NO_ALLOW)) {
    return null;
  }
  if (key === null) {
    return { flag: name, key, reason: 'not allowed: it is not a known llama-server argument' };
  }
  const rule = argRule(key);
  switch (rule.kind) {
    case 'allowed':
      return null;
    case 'denied':
      return { flag: name, key, reason: `not allowed: ${ArgDenyReason[rule.reason]}` };
    case 'path': {
      if (value === null) {
        return { flag: name, key, reason: 'expects a path inside the models directory' };
      }
      for (const path of argPathValues(value, rule.format)) {
        const problem = modelsPathProblem(path, ctx.modelsDir) ?? ctx.checkPath?.(path, ctx.modelsDir) ?? null;
        if (problem !== null) {
          return { flag: name, key, reason: problem };
        }
      }
      return null;
    }
  }
}

function isWidened(name: string, key: string | null, index: ReadonlyMap<string, LlamaArg> | null, allow: readonly string[]): boolean {
  if (allow.length === 0) {
    return false;
  }
  const allowed = new Set(allow.map((a) => a.replace(/^-+/, '')));
  if (allowed.has(name.replace(/^-+/, '')) || (key !== null && allowed.has(key))) {
    return true;
  }
  // An allowed alias (e.g. "hfr") widens its argument under every name.
  return key !== null && index !== null && [...allowed].some((a) => index.get(a)?.key === key);
}

/**
 * Policy problems of extra command-line arguments (one token per element, as passed to
 * llama-server). Values are the next token (or the part after `=`); a value is only read as such
 * when the catalogue says the flag takes one, or the table says it is a path. Unresolved names are
 * refused only without a catalogue: with one, `extraArgsProblems` reports them as unknown.
 */
export function extraArgsPolicyProblems(extra: readonly string[], ctx: ArgPolicyContext): ArgPolicyProblem[] {
  const index = ctx.args === null ? null : indexArgs(ctx.args);
  const problems: ArgPolicyProblem[] = [];
  for (let i = 0; i < extra.length; i++) {
    const token = extra[i] ?? '';
    if (!token.startsWith('-') || /^-\d/.test(token)) {
      continue;
    }
    const eq = token.indexOf('=');
    const flag = eq > 0 ? token.slice(0, eq) : token;
    let value: string | null = eq > 0 ? token.slice(eq + 1) : null;
    const arg = index?.get(flag);
    const key = resolveArgKey(flag, index);
    const takesValue = arg !== undefined ? arg.valueType !== 'flag' && !isNegation(flag, arg) : key !== null && argRule(key).kind === 'path';
    const next = extra[i + 1];
    // llama-server takes the next token as the value whatever it looks like; a token that names a
    // known flag is still checked as one, so that a wrongly parsed catalogue cannot hide it.
    if (value === null && takesValue && next !== undefined && !(next.startsWith('-') && resolveArgKey(next, index) !== null)) {
      value = next;
      i++;
    }
    if (index !== null && key === null) {
      continue;
    }
    const problem = checkArg(flag, value, ctx, index);
    if (problem !== null) {
      problems.push(problem);
    }
  }
  return problems;
}

function isNegation(flag: string, arg: LlamaArg): boolean {
  return arg.negation !== null && /^--?no-/.test(flag);
}

/**
 * Policy problems of a preset document, per section: keys resolve like flags (`c`, `ctx-size`,
 * `LLAMA_ARG_CTX_SIZE`); preset-only keys are allowed; `model` (a custom entry's GGUF file) is a
 * path like any other. Unresolved keys are refused only without a catalogue (see above).
 */
export function presetPolicyProblems(preset: PresetDocument, ctx: ArgPolicyContext): ArgPolicyProblem[] {
  const index = ctx.args === null ? null : indexArgs(ctx.args);
  const problems: ArgPolicyProblem[] = [];
  const check = (section: string, values: Record<string, string>): void => {
    for (const [key, value] of Object.entries(values)) {
      if ((PRESET_ONLY_KEYS as readonly string[]).includes(key)) {
        continue;
      }
      if (index !== null && resolveArgKey(key, index) === null) {
        continue;
      }
      const problem = checkArg(key, value, ctx, index);
      if (problem !== null) {
        problems.push({ ...problem, section });
      }
    }
  };
  check('*', preset.global);
  for (const section of preset.sections) {
    check(section.name, section.values);
  }
  return problems;
}

/** One line per problem: `--log-file: not allowed: ...`, or `[section] key: ...` for presets. */
export function formatArgPolicyProblem(problem: ArgPolicyProblem): string {
  return `${problem.section === undefined ? '' : `[${problem.section}] `}${problem.flag}: ${problem.reason}`;
}

/** The error for refused arguments (code ARG_NOT_ALLOWED, every problem in the message), or null. */
export function argPolicyError(problems: readonly ArgPolicyProblem[]): AppError | null {
  return problems.length === 0 ? null : new AppError(ErrorCode.ARG_NOT_ALLOWED, problems.map(formatArgPolicyProblem).join('; '));
}

/**
 * The context a gateway or browser checks with: the catalogue's arguments and the policy its
 * supervisor published (models directory, keys allowed by its environment); before a supervisor
 * reported one, `fallbackModelsDir` and nothing widened.
 */
export function argPolicyContext(catalogue: LlamaArgCatalogue | null, fallbackModelsDir: string): ArgPolicyContext {
  return {
    args: catalogue?.args ?? null,
    modelsDir: catalogue?.policy?.modelsDir ?? fallbackModelsDir,
    allow: catalogue?.policy?.allow ?? NO_ALLOW,
  };
}
