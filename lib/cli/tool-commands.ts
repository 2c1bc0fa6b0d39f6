// generate, info and demo: tools for trying tensorzip (the benches: bench-commands.ts), and the
// options they share with the benches. Their code (lib/tools) loads only when one of them runs.
import { Option, type Command } from 'commander';
import { backendInfo } from '../backend';
import { DEMO_METHODS } from '../tools/presets';
import { version } from '../version';
import { byteSize, methodList, positiveInt } from './options';
import { interruptSignal, lazy, note, print } from './run';

/** The model-shape options of `generate` and the benches on generated checkpoints. */
export function shapeOptions(cmd: Command): Command {
  return cmd
    .option('--hidden <n>', 'hidden size', positiveInt)
    .option('--intermediate <n>', 'MLP size', positiveInt)
    .option('--layers <n>', 'transformer layers', positiveInt)
    .option('--heads <n>', 'attention heads', positiveInt)
    .option('--kv-heads <n>', 'key/value heads', positiveInt)
    .option('--vocab <n>', 'vocabulary size', positiveInt);
}
export type ShapeOptions = { hidden?: number; intermediate?: number; layers?: number; heads?: number; kvHeads?: number; vocab?: number };
export const shapeOf = (o: ShapeOptions): ShapeOptions =>
  Object.fromEntries(Object.entries({ hidden: o.hidden, intermediate: o.intermediate, layers: o.layers, heads: o.heads, kvHeads: o.kvHeads, vocab: o.vocab }).filter(([, v]) => v !== undefined));

/** The options of a command that runs several methods; every spec is parsed before any work starts. */
export function methodOptions(cmd: Command, defaults: string[]): Command {
  return cmd
    .option('--methods <list>', `comma-separated method specs (default: ${defaults.join(',')})`, methodList)
    .option('--threads <n>', 'CPU threads (default: all)', positiveInt)
    .option('--json', 'print JSON');
}
export type MethodOptions = { methods?: string[]; threads?: number; json?: boolean };
/** methodOptions with the model-shape options: for commands on a generated model. */
export const methodRunOptions = (cmd: Command, defaults: string[]): Command => methodOptions(shapeOptions(cmd), defaults);
export type MethodRunOptions = ShapeOptions & MethodOptions;

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
}
