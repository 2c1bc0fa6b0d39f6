// The commands that run the model: eval (perplexity, KL divergence) and imatrix.
import type { Command } from 'commander';
import { writeImportance } from '../eval/imatrix';
import { evaluate } from '../eval/perplexity';
import { resolveModel } from '../io/hf-cache';
import { FORCE, positiveInt } from './options';
import { formatEval, formatImatrix } from './report';
import { EXIT, interruptSignal, note, print, withProgress } from './run';

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

export function addModelCommands(program: Command): void {
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
}
