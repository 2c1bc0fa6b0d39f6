#!/usr/bin/env node
// The `tensorzip` command line. Exit codes: 0 success; 1 error (bad input, I/O, corrupted
// container); 2 usage error (bad option, method spec or policy); 3 verify found a difference;
// 130 / 129 / 143 interrupted by SIGINT (Ctrl-C) / SIGHUP / SIGTERM, leaving no output behind.
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { SingleBar } from 'cli-progress';
import { backendInfo } from './backend';
import { compress, compressShard, type CompressProgress } from './compress';
import { merge } from './merge';
import { parseQueueTarget } from './queue/connection';
import { compressQueued } from './queue/coordinator';
import { runWorker } from './queue/worker';
import { parseShard, type ShardSpec } from './shard';
import { decompress } from './decompress';
import { parseDevice, parseDeviceList, type DeviceSpec } from './device';
import { runDeviceWorkers } from './queue/devices';
import { E2E_METHODS, formatE2e, runE2e } from './bench/e2e';
import { formatQueueBench, runQueueBench } from './bench/queue';
import { DEMO_METHODS, formatDemo, runDemo } from './demo';
import { writeImportance } from './eval/imatrix';
import { evaluate } from './eval/perplexity';
import { generateCheckpoint } from './generate';
import { inspect } from './inspect';
import { resolveModel } from './io/hf-cache';
import { SpecError } from './methods/method';
import { parseSpec } from './methods/registry';
import { loadPolicyFile } from './policy';
import { formatBytes, formatCompress, formatEval, formatImatrix, formatInspect, formatVerify } from './report';
import { verify } from './verify';
import { version } from './version';

const EXIT = { error: 1, usage: 2, verifyFailed: 3 } as const;

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

/** A --queue URL, checked when the options are parsed (a bad one is a usage error). */
function queueUrl(value: string): string {
  try {
    parseQueueTarget(value);
  } catch (e) {
    throw new InvalidArgumentError(e instanceof Error ? e.message : String(e));
  }
  return value;
}

function deviceSpec(value: string): DeviceSpec {
  try {
    return parseDevice(value);
  } catch (e) {
    throw new InvalidArgumentError(e instanceof Error ? e.message : String(e));
  }
}

/** A repeatable option's values, in order. */
const collect = (value: string, previous: string[]) => [...previous, value];

/** A size with its unit (500KB, 20MB, 2GB, 1.5GiB): a bare number is refused, not read as bytes. */
function byteSize(value: string): number {
  const m = /^([0-9]+(?:\.[0-9]+)?)\s*([kmgt]?)(i?)b$/i.exec(value.trim());
  if (!m) throw new InvalidArgumentError('must be a size with its unit, such as 500KB, 20MB or 2GB');
  return Math.round(Number(m[1]) * (m[3] ? 1024 : 1000) ** ' kmgt'.indexOf((m[2] || ' ').toLowerCase()));
}

/** Notes that are not errors (leftovers removed, a possible lack of space) go to stderr. */
const note = (line: string) => console.error(`tensorzip: ${line}`);

const FORCE = ['-f, --force', 'replace an existing output'] as const;

const SIGNAL_EXIT = { SIGINT: 130, SIGHUP: 129, SIGTERM: 143 } as const;
let interruptedBy: keyof typeof SIGNAL_EXIT | undefined;

/** Ctrl-C, a closed terminal or `kill` abort the running job, which then removes its temp files;
 * a second signal exits at once. */
function interruptSignal(): AbortSignal {
  const controller = new AbortController();
  for (const sig of Object.keys(SIGNAL_EXIT) as Array<keyof typeof SIGNAL_EXIT>)
    process.once(sig, () => {
      interruptedBy ??= sig;
      controller.abort();
      process.once(sig, () => process.exit(SIGNAL_EXIT[sig]));
    });
  return controller.signal;
}

/** A progress bar on stderr when it is a terminal and output is not JSON. */
function progressBar(json: boolean | undefined) {
  if (json || !process.stderr.isTTY) return undefined;
  const bar = new SingleBar(
    { format: '{bar} {percentage}% | ETA {eta_formatted} | {item}', stream: process.stderr, etaBuffer: 50, hideCursor: true, clearOnComplete: true },
  );
  let started = false;
  return {
    update(done: number, total: number, item: string) {
      if (!started) bar.start(total, 0, { item }), (started = true);
      bar.setTotal(total);
      bar.update(done, { item });
    },
    stop() {
      if (started) bar.stop();
    },
  };
}

/** Runs fn with a progress callback that drives a bar (when there is one), always stopping it. */
async function withProgress<T>(json: boolean | undefined, fn: (update: (done: number, total: number, item: string) => void) => Promise<T>): Promise<T> {
  const bar = progressBar(json);
  try {
    return await fn((done, total, item) => bar?.update(done, total, item));
  } finally {
    bar?.stop();
  }
}

function print(json: boolean | undefined, value: unknown, human: () => string) {
  console.log(json ? JSON.stringify(value, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v), 2) : human());
}

const program = new Command()
  .name('tensorzip')
  .description('Compress LLM checkpoints; every ratio and error is measured on the files themselves')
  .version(version)
  .exitOverride();

program
  .command('compress')
  .description('compress a model directory or .safetensors file into a .tzip container')
  .argument('<model>', 'Hugging Face model directory, .safetensors file, or repo id org/name[@rev] in the local Hugging Face cache')
  .requiredOption('-o, --output <file>', 'container to write (.tzip)')
  .option('-m, --method <spec>', 'method for weight matrices: lossless, rtn:<bits>[:g<group>], ternary[:g<N>|:row|:tensor][:p3|:p2][:opt], seedlm:4|3[:fast], vptq:2|3|4|2:large or vptq:v<N>:k<N>[:r<N>][:norm][:i<N>]', 'lossless')
  .option('--policy <file.json>', 'JSON object of "glob": "method spec" rules, first match wins')
  .option('--importance <file.safetensors>', 'per-input-column importance, one F32 vector per weight tensor (from tensorzip imatrix; weights vptq\'s k-means, rtn\'s scales and ternary :opt)')
  .option('--lzma <setting>', 'LZMA stage: auto, off, or a preset 0-9 (9e = extreme)', 'auto')
  .option('--threads <n>', 'CPU threads (default: all)', positiveInt)
  .option('--device <device>', 'where the kernels with a GPU version (rtn, ternary, seedlm\'s search, vptq\'s k-means) run: auto (a GPU when CUDA is available), cpu, cuda or cuda:N; the container is the same', deviceSpec, 'auto')
  .addOption(new Option('--nonfinite <action>', 'tensors with NaN/Inf, or with weights the lossy method cannot represent (e.g. |w| >= 458640 under rtn:4): store lossless with a note, or stop with an error').choices(['lossless', 'error']).default('lossless'))
  .option('--exclude <glob>', 'do not carry the model folder\'s files matching this glob (repeatable)', collect, [])
  .option('--include <glob>', 'carry files matching this glob even if skipped (weight files in other formats such as *.bin or *.pth are skipped by default) or excluded (repeatable)', collect, [])
  .option('--resume', 'reuse the tensors an interrupted run finished (kept in <output>.resume)')
  .option('-f, --force', 'replace an existing output (and the <output>.resume of an interrupted run); the input is never replaced')
  .option('--shard <i/n>', 'encode only shard i of n (0-based) into a part file at --output; then tensorzip merge', (v: string) => {
    try {
      return parseShard(v);
    } catch (e) {
      throw new InvalidArgumentError(e instanceof Error ? e.message : String(e));
    }
  })
  .addOption(
    new Option('--queue <redis://host:port>', 'hand out one job per tensor on this Redis (BullMQ) to `tensorzip worker` processes, then write the container from their results')
      .argParser(queueUrl)
      .conflicts(['shard', 'resume', 'device']), // each worker has its own --device
  )
  .option('--queue-name <name>', 'BullMQ queue name (as given to the workers)', 'tensorzip')
  .option('--work-dir <dir>', 'with --queue: where workers write results, at the same path on every worker (default: <output>.queue)')
  .option('--json', 'print the report as JSON')
  .action(async (modelArg: string, opts: { output: string; method: string; policy?: string; importance?: string; lzma: string; threads?: number; nonfinite: 'lossless' | 'error'; exclude: string[]; include: string[]; resume?: boolean; force?: boolean; shard?: ShardSpec; queue?: string; queueName: string; workDir?: string; device: DeviceSpec; json?: boolean }) => {
    const model = await resolveModel(modelArg);
    const policy = opts.policy ? await loadPolicyFile(opts.policy) : undefined;
    const options = {
      method: opts.method,
      policy,
      importance: opts.importance,
      lzma: opts.lzma,
      threads: opts.threads,
      device: opts.device,
      nonFinite: opts.nonfinite,
      exclude: opts.exclude,
      include: opts.include,
      resume: opts.resume,
      force: opts.force,
      onNote: note,
      signal: interruptSignal(),
    };
    const shard = opts.shard;
    if (opts.queue) {
      const queue = opts.queue;
      const report = await withProgress(opts.json, (update) =>
        compressQueued(model, opts.output, {
          ...options,
          queue,
          queueName: opts.queueName,
          workDir: opts.workDir,
          onQueue: (q) => update(q.bytesDone, q.bytesTotal, `${q.done}/${q.tensors} tensors, ${q.active} running, ${q.workers} worker${q.workers === 1 ? '' : 's'}`),
          onProgress: (p) => update(p.done, p.total, 'writing the container'),
        }),
      );
      print(opts.json, report, () => `${formatCompress(report)}\nqueue: ${report.queue.jobs} jobs on ${report.queue.workers.length} worker${report.queue.workers.length === 1 ? '' : 's'}${report.queue.reused ? `, ${report.queue.reused} tensors reused from an earlier run` : ''}; container written in ${report.queue.mergeSeconds.toFixed(1)} s`);
      return;
    }
    if (shard) {
      const r = await withProgress(opts.json, (update) => compressShard(model, opts.output, { ...options, shard, onProgress: (p) => update(p.done, p.total, `shard ${shard.index}/${shard.count}`) }));
      print(opts.json, r, () => `wrote part ${shard.index}/${shard.count} to ${r.output}: ${r.tensors.length} of ${r.tensorCount} tensors, ${formatBytes(r.originalBytes)} of weights in ${formatBytes(r.partBytes)}, ${r.seconds.toFixed(1)} s`);
      return;
    }
    const report = await withProgress(opts.json, (update) =>
      compress(model, opts.output, {
        ...options,
        onProgress: (p: CompressProgress) => update(p.done, p.total, `tensor ${Math.min(p.tensorIndex + 1, p.tensorCount)}/${p.tensorCount} ${p.tensorName}`),
      }),
    );
    print(opts.json, report, () => formatCompress(report));
  });

program
  .command('worker')
  .description('encode tensor jobs of compress --queue until stopped (Ctrl-C or SIGTERM puts a job under way back in the queue)')
  .requiredOption('--queue <redis://host:port>', 'the Redis (BullMQ) the coordinator uses', queueUrl)
  .option('--queue-name <name>', 'BullMQ queue name', 'tensorzip')
  .option('--threads <n>', 'CPU threads (default: all)', positiveInt)
  .option('--lock-timeout <s>', 'seconds without a sign of life after which this worker\'s job is given to another worker', positiveInt, 30)
  .option('--device <device>', 'where the kernels with a GPU version run: auto, cpu, cuda or cuda:N', deviceSpec, 'auto')
  .addOption(new Option('--devices <list>', 'one worker process per GPU: all, or indices such as 0,1 (CPU threads shared among them)').conflicts('device'))
  .action(async (opts: { queue: string; queueName: string; threads?: number; lockTimeout: number; device: DeviceSpec; devices?: string }) => {
    const signal = interruptSignal();
    if (opts.devices) {
      const devices = parseDeviceList(opts.devices);
      await runDeviceWorkers({ queue: opts.queue, queueName: opts.queueName, devices, threads: opts.threads, lockSeconds: opts.lockTimeout, signal });
      return;
    }
    let on = ''; // the device, once known: lines of several workers (--devices) say whose they are
    const say = (line: string) => console.error(`tensorzip worker${on}: ${line}`);
    const summary = await runWorker({
      queue: opts.queue,
      queueName: opts.queueName,
      threads: opts.threads,
      device: opts.device,
      lockSeconds: opts.lockTimeout,
      signal,
      onEvent: (e) => {
        if (e.kind === 'ready') say(`${e.worker} on ${e.device} waiting for jobs on ${e.queue}`), (on = ` ${e.device.split(' ')[0]}`);
        else if (e.kind === 'start') say(`${e.tensor}${e.attempt > 1 ? ` (attempt ${e.attempt})` : ''}`);
        else if (e.kind === 'done') say(`${e.tensor} done in ${e.seconds.toFixed(2)} s (${formatBytes(e.bytes)})`);
        else say(`${e.tensor} failed: ${e.error}`);
      },
    });
    say(`stopped after ${summary.jobs} job${summary.jobs === 1 ? '' : 's'}${summary.failed ? ` (${summary.failed} failed)` : ''}`);
  });

program
  .command('merge')
  .description('assemble the part files of compress --shard (one per shard) into the container a single compress writes, byte for byte')
  .argument('<parts...>', 'part files, one per shard, in any order')
  .requiredOption('-o, --output <file>', 'container to write (.tzip)')
  .option('--input <model>', 'the input model, when it is not at the path the parts recorded')
  .option(...FORCE)
  .option('--threads <n>', 'CPU threads (default: all)', positiveInt)
  .option('--json', 'print the report as JSON')
  .action(async (parts: string[], opts: { output: string; input?: string; threads?: number; force?: boolean; json?: boolean }) => {
    const report = await withProgress(opts.json, (update) =>
      merge(parts, opts.output, { input: opts.input, threads: opts.threads, force: opts.force, onNote: note, signal: interruptSignal(), onProgress: (p) => update(p.done, p.total, 'copying pieces') }),
    );
    print(opts.json, report, () => formatCompress(report));
  });

program
  .command('decompress')
  .description('rebuild the model (directory or .safetensors) from a container')
  .argument('<container>', '.tzip file')
  .requiredOption('-o, --output <path>', 'output directory (for a directory model) or .safetensors file')
  .option('--threads <n>', 'CPU threads (default: all)', positiveInt)
  .option(...FORCE)
  .option('--json', 'print the report as JSON')
  .action(async (container: string, opts: { output: string; threads?: number; force?: boolean; json?: boolean }) => {
    const r = await withProgress(opts.json, (update) =>
      decompress(container, opts.output, { threads: opts.threads, force: opts.force, onNote: note, signal: interruptSignal(), onProgress: (d, t) => update(d, t, 'tensors') }),
    );
    print(opts.json, r, () => `wrote ${r.files.length} file(s), ${r.tensors} tensors, to ${r.output} in ${r.seconds.toFixed(2)} s`);
  });

program
  .command('verify')
  .description('decode everything, check every checksum, and compare with the original model')
  .argument('<container>', '.tzip file')
  .requiredOption('--against <original>', 'the original model directory, .safetensors file, or repo id org/name[@rev] in the local Hugging Face cache')
  .option('--threads <n>', 'CPU threads (default: all)', positiveInt)
  .option('--json', 'print the report as JSON')
  .action(async (container: string, opts: { against: string; threads?: number; json?: boolean }) => {
    const against = await resolveModel(opts.against);
    const r = await withProgress(opts.json, (update) =>
      verify(container, against, { threads: opts.threads, signal: interruptSignal(), onProgress: (d, t) => update(d, t, 'tensors') }),
    );
    print(opts.json, r, () => formatVerify(r));
    if (!r.ok) process.exitCode = EXIT.verifyFailed;
  });

program
  .command('inspect')
  .description("show a container's metadata: methods, bits/weight, recorded errors, files")
  .argument('<container>', '.tzip file')
  .option('--json', 'print the metadata as JSON')
  .action(async (container: string, opts: { json?: boolean }) => {
    const r = await inspect(container);
    print(opts.json, r, () => formatInspect(r));
  });

/** The token input and chunking options of `eval` and `imatrix`. */
function tokenOptions(cmd: Command): Command {
  return cmd
    .option('--text <file>', "UTF-8 text, tokenized with the model's tokenizer.json")
    .option('--tokens <file>', 'token ids instead of text: a .json array, or little-endian uint32 values')
    .option('--ctx <n>', 'tokens per chunk', positiveInt, 512)
    .option('--chunks <n>', 'use at most this many chunks (default: all whole chunks)', positiveInt)
    .option('--threads <n>', 'CPU threads (default: all)', positiveInt)
    .option('--json', 'print the report as JSON');
}
type TokenCliOptions = { text?: string; tokens?: string; ctx: number; chunks?: number; threads?: number; json?: boolean };

function tokenInput(cmd: Command, o: TokenCliOptions) {
  if (!o.text === !o.tokens) cmd.error('error: give exactly one of --text <file> or --tokens <file>', { exitCode: EXIT.usage });
  return { text: o.text, tokens: o.tokens };
}

tokenOptions(
  program
    .command('eval')
    .description('perplexity of a model (directory, .safetensors or .tzip) on a text, with --against the original: KL divergence and top-1 agreement')
    .argument('<model>', 'model directory, .safetensors file, .tzip container, or repo id org/name[@rev] in the local Hugging Face cache')
    .option('--against <original>', 'the original model (also a repo id): adds KL divergence, top-1 agreement and both perplexities'),
).action(async function (this: Command, modelArg: string, o: TokenCliOptions & { against?: string }) {
  const input = tokenInput(this, o);
  const model = await resolveModel(modelArg);
  const against = o.against === undefined ? undefined : await resolveModel(o.against);
  const r = await withProgress(o.json, (update) =>
    evaluate(model, input, { ctx: o.ctx, chunks: o.chunks, against, threads: o.threads, signal: interruptSignal(), onProgress: update }),
  );
  print(o.json, r, () => formatEval(r));
});

tokenOptions(
  program
    .command('imatrix')
    .description('importance matrix: the mean squared input activation of every input column of every linear layer, for --importance')
    .argument('<model>', 'model directory, .safetensors file, .tzip container, or repo id org/name[@rev] in the local Hugging Face cache')
    .requiredOption('-o, --output <file>', 'importance file to write (.safetensors)')
    .option(...FORCE),
).action(async function (this: Command, modelArg: string, o: TokenCliOptions & { output: string; force?: boolean }) {
  const input = tokenInput(this, o);
  const model = await resolveModel(modelArg);
  const r = await withProgress(o.json, (update) =>
    writeImportance(model, input, o.output, { ctx: o.ctx, chunks: o.chunks, threads: o.threads, force: o.force, onNote: note, signal: interruptSignal(), onProgress: update }),
  );
  print(o.json, r, () => formatImatrix(r));
});

/** The model-shape options of `generate`, `demo` and `bench e2e`. */
function shapeOptions(cmd: Command): Command {
  return cmd
    .option('--hidden <n>', 'hidden size', positiveInt)
    .option('--intermediate <n>', 'MLP size', positiveInt)
    .option('--layers <n>', 'transformer layers', positiveInt)
    .option('--heads <n>', 'attention heads', positiveInt)
    .option('--kv-heads <n>', 'key/value heads', positiveInt)
    .option('--vocab <n>', 'vocabulary size', positiveInt);
}
type ShapeOptions = { hidden?: number; intermediate?: number; layers?: number; heads?: number; kvHeads?: number; vocab?: number };
const shapeOf = (o: ShapeOptions): ShapeOptions =>
  Object.fromEntries(Object.entries({ hidden: o.hidden, intermediate: o.intermediate, layers: o.layers, heads: o.heads, kvHeads: o.kvHeads, vocab: o.vocab }).filter(([, v]) => v !== undefined));

shapeOptions(
  program
    .command('generate')
    .description('write a Llama-shaped checkpoint with realistic weight statistics (for trying tensorzip)')
    .argument('<dir>', 'output directory')
    .option('--size <bytes>', 'aim for about this much weight data, with its unit (e.g. 100KB, 2GB)', byteSize)
    .option('-f, --force', 'replace the files of an earlier checkpoint in <dir>'),
)
  .addOption(new Option('--dtype <dtype>', 'weight dtype').choices(['BF16', 'F16', 'F32']).default('BF16'))
  .option('--shards <n>', 'safetensors shards', positiveInt, 1)
  .option('--seed <n>', 'generator seed', positiveInt, 1)
  .action(async (dir: string, o: ShapeOptions & { size?: number; dtype: 'BF16' | 'F16' | 'F32'; shards: number; seed: number; force?: boolean }) => {
    const g = await generateCheckpoint(dir, { ...shapeOf(o), dtype: o.dtype, shards: o.shards, seed: o.seed, targetBytes: o.size, force: o.force, onNote: note, signal: interruptSignal() });
    console.log(`wrote ${g.files.join(', ')} to ${dir}: ${g.parameters} parameters, ${JSON.stringify(g.shape)}`);
    if (g.noTokenizer) note(`no tokenizer.json: ${g.noTokenizer}; eval --text needs one (use --tokens, or a larger --size or --vocab)`);
  });

program
  .command('info')
  .description('show the CPU kernel path and the CUDA backend (or why it is unavailable)')
  .option('--json', 'print JSON')
  .action((opts: { json?: boolean }) => {
    const info = backendInfo();
    print(opts.json, info, () => {
      const lines = [`tensorzip ${version}`, `CPU kernels: ${info.cpu} (${info.cpuReason})`];
      if ('gpus' in info.cuda) {
        lines.push(`CUDA library: ${info.cuda.library}`);
        for (const g of info.cuda.gpus) lines.push(`  ${g.name}, compute capability ${g.computeCapability}, ${(g.memoryBytes / 2 ** 30).toFixed(1)} GiB`);
      } else {
        lines.push(`CUDA: unavailable (${info.cuda.unavailable})`);
      }
      return lines.join('\n');
    });
  });

/** The options of a command that runs several methods on a generated model; every spec is
 * parsed before any work starts. */
function methodRunOptions(cmd: Command, defaults: string[]): Command {
  const methodList = (value: string) =>
    value.split(',').map((m) => {
      const spec = m.trim();
      try {
        parseSpec(spec);
        return spec;
      } catch (e) {
        throw new InvalidArgumentError(e instanceof Error ? e.message : String(e));
      }
    });
  return shapeOptions(cmd)
    .option('--methods <list>', `comma-separated method specs (default: ${defaults.join(',')})`, methodList)
    .option('--threads <n>', 'CPU threads (default: all)', positiveInt)
    .option('--json', 'print JSON');
}
type MethodRunOptions = ShapeOptions & { methods?: string[]; threads?: number; json?: boolean };

methodRunOptions(
  program
    .command('demo')
    .description('generate a small Llama-shaped checkpoint, run every method preset on it and print a comparison table'),
  DEMO_METHODS,
)
  .option('--seed <n>', 'generator seed', positiveInt, 1)
  .action(async (o: MethodRunOptions & { seed: number }) => {
    const result = await runDemo({
      shape: shapeOf(o),
      methods: o.methods,
      seed: o.seed,
      threads: o.threads,
      signal: interruptSignal(),
      onStep: (i, n, spec) => process.stderr.isTTY && !o.json && process.stderr.write(`[${i + 1}/${n}] ${spec}\n`),
    });
    print(o.json, result, () => formatDemo(result));
  });

const bench = program.command('bench').description('benchmarks (the per-kernel suite is `npm run bench` in a source checkout)');
methodRunOptions(
  bench
    .command('e2e')
    .description('generate a 1.5B-class checkpoint (about 1.78B bf16 parameters; smaller with --layers) and compress it with each method preset, in separate processes'),
  E2E_METHODS,
)
  .option('--dir <dir>', 'generate the checkpoint here (default: a temp dir); it is removed afterwards')
  .option('--eval-chunks <n>', 'also time eval of the original over n chunks of 512 tokens, and add KL and top-1 of each container against it', positiveInt)
  .action(async (o: MethodRunOptions & { dir?: string; evalChunks?: number }) => {
    const result = await runE2e({ shape: shapeOf(o), methods: o.methods, threads: o.threads, dir: o.dir, evalChunks: o.evalChunks, signal: interruptSignal(), log: (l) => !o.json && console.error(l) });
    print(o.json, result, () => formatE2e(result));
  });

shapeOptions(
  bench
    .command('queue')
    .description('queue mode against single-process compress on a generated checkpoint: speed-up of N workers over 1 and the queue overhead per tensor'),
)
  .option('-m, --method <spec>', 'method for weight matrices', 'rtn:4')
  .option('--workers <n>', 'worker processes (1 thread each) of the larger run', positiveInt, 2)
  .option('--queue <redis://host:port>', 'a Redis to use (default: a redis-server started on loopback for the run)', queueUrl)
  .option('--json', 'print JSON')
  .action(async (o: ShapeOptions & { method: string; workers: number; queue?: string; json?: boolean }) => {
    const result = await runQueueBench({ shape: shapeOf(o), method: o.method, workers: o.workers, queue: o.queue, signal: interruptSignal(), log: (l) => !o.json && console.error(l) });
    print(o.json, result, () => formatQueueBench(result));
  });

program.parseAsync(process.argv).catch((e: unknown) => {
  if (e instanceof CommanderError) {
    // Commander has already printed its message (and help after errors).
    process.exitCode = e.exitCode === 0 ? 0 : EXIT.usage;
    return;
  }
  const err = e instanceof Error ? e : new Error(String(e));
  if (err.name === 'AbortError') {
    const kept = err.message.replace(/^The operation was aborted/, ''); // what an interrupted run keeps for the next one
    console.error(`tensorzip: interrupted${interruptedBy && interruptedBy !== 'SIGINT' ? ` (${interruptedBy})` : ''}; no output was written${kept}`);
    process.exitCode = SIGNAL_EXIT[interruptedBy ?? 'SIGINT'];
    return;
  }
  console.error(`tensorzip: ${err.message}`);
  process.exitCode = err instanceof SpecError ? EXIT.usage : EXIT.error;
});
