// generate, info, demo and the benches: tools for trying tensorzip and measuring it. Their code
// (lib/tools) loads only when one of them runs.
import { Option, type Command } from 'commander';
import { backendInfo } from '../backend';
import { DEMO_METHODS, E2E_METHODS } from '../tools/presets';
import { version } from '../version';
import { byteSize, methodList, positiveInt, queueUrl } from './options';
import { interruptSignal, lazy, note, print } from './run';

/** The model-shape options of `generate` and the benches on generated checkpoints. */
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

/** The options of a command that runs several methods; every spec is parsed before any work starts. */
function methodOptions(cmd: Command, defaults: string[]): Command {
  return cmd
    .option('--methods <list>', `comma-separated method specs (default: ${defaults.join(',')})`, methodList)
    .option('--threads <n>', 'CPU threads (default: all)', positiveInt)
    .option('--json', 'print JSON');
}
type MethodOptions = { methods?: string[]; threads?: number; json?: boolean };
/** methodOptions with the model-shape options: for commands on a generated model. */
const methodRunOptions = (cmd: Command, defaults: string[]): Command => methodOptions(shapeOptions(cmd), defaults);
type MethodRunOptions = ShapeOptions & MethodOptions;

export function addToolCommands(program: Command): void {
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
      const { generateCheckpoint } = lazy<typeof import('../tools/generate')>('../tools/generate');
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

  methodOptions(
    program
      .command('demo')
      .description('run every method preset on the trained model that ships with tensorzip and print a comparison table (ratio, errors, and KL and top-1 against the original on held-out text)')
      .option('--model <dir>', 'a Llama-family model folder (default: the shipped models/kjv-llama)')
      .option('--text <file>', 'the text KL and top-1 are measured on (default: the model\'s held-out eval.txt)'),
    DEMO_METHODS,
  ).action(async (o: MethodOptions & { model?: string; text?: string }) => {
    const { formatDemo, runDemo } = lazy<typeof import('../tools/demo')>('../tools/demo');
    const result = await runDemo({
      model: o.model,
      text: o.text,
      methods: o.methods,
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
      const { formatE2e, runE2e } = lazy<typeof import('../tools/bench/e2e')>('../tools/bench/e2e');
      const result = await runE2e({ shape: shapeOf(o), methods: o.methods, threads: o.threads, dir: o.dir, evalChunks: o.evalChunks, signal: interruptSignal(), log: (l) => !o.json && console.error(l) });
      print(o.json, result, () => formatE2e(result));
    });

  bench
    .command('quality')
    .description('what each method costs the shipped trained model (models/kjv-llama): KL, top-1 and perplexity against the original on held-out text, next to rtn at the same bits, and the bit budgets (docs/METHODS.md)')
    .option('--model <dir>', 'a Llama-family model folder (default: the shipped models/kjv-llama)')
    .option('--text <file>', 'the text every figure is measured on (default: the model\'s eval.txt)')
    .option('--calibration <file>', 'the text the importance matrix and the budget plans come from (default: the model\'s calibration.txt)')
    .option('--ctx <n>', 'tokens per chunk', positiveInt, 256)
    .option('--methods <list>', 'comma-separated method specs besides the rtn ladder, each optionally followed by " +imatrix" (default: every method with and without :rot)', (v: string) => v.split(',').map((m) => m.trim()))
    .option('--no-budgets', 'skip the bit budgets (the --target-size and --target-bpw runs)')
    .option('--threads <n>', 'CPU threads (default: all)', positiveInt)
    .option('--json', 'print JSON')
    .action(async (o: { model?: string; text?: string; calibration?: string; ctx: number; methods?: string[]; budgets: boolean; threads?: number; json?: boolean }) => {
      const { formatQuality, runQuality } = lazy<typeof import('../tools/bench/quality')>('../tools/bench/quality');
      const result = await runQuality({ ...o, budgets: o.budgets ? undefined : [], signal: interruptSignal(), log: (l) => !o.json && console.error(l) });
      print(o.json, result, () => formatQuality(result));
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
      const { formatQueueBench, runQueueBench } = lazy<typeof import('../tools/bench/queue')>('../tools/bench/queue');
      const result = await runQueueBench({ shape: shapeOf(o), method: o.method, workers: o.workers, queue: o.queue, signal: interruptSignal(), log: (l) => !o.json && console.error(l) });
      print(o.json, result, () => formatQueueBench(result));
    });
}
