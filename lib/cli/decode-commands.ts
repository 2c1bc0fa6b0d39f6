// The commands that read a container: decompress, verify, inspect, export.
import { Option, type Command } from 'commander';
import { resolveModel } from '../io/hf-cache';
import { decompress } from '../pipeline/decompress';
import { inspect } from '../pipeline/inspect';
import { verify } from '../pipeline/verify';
import { exportGguf, type RequantType } from '../pipeline/export';
import { deviceSpec, FORCE, positiveInt } from './options';
import type { DeviceSpec } from '../device';
import { formatExport, formatInspect, formatVerify } from './report';
import { EXIT, interruptSignal, note, print, withProgress } from './run';

const DEVICE = ['--device <device>', 'where the decoders run: auto (default: the first GPU when CUDA is available), cpu, cuda or cuda:N; the output is the same on every device', deviceSpec] as const;

export function addDecodeCommands(program: Command): void {
  program
    .command('decompress')
    .description('rebuild the model (directory or .safetensors) from a container')
    .argument('<container>', '.tzip file')
    .requiredOption('-o, --output <path>', 'output directory (for a directory model) or .safetensors file')
    .option('--threads <n>', 'CPU threads (default: all)', positiveInt)
    .option(...DEVICE)
    .option(...FORCE)
    .option('--json', 'print the report as JSON')
    .action(async (container: string, opts: { output: string; threads?: number; device?: DeviceSpec; force?: boolean; json?: boolean }) => {
      const r = await withProgress(opts.json, (update) =>
        decompress(container, opts.output, { threads: opts.threads, device: opts.device, force: opts.force, onNote: note, signal: interruptSignal(), onProgress: update }),
      );
      print(opts.json, r, () => `wrote ${r.files.length} file(s), ${r.tensors} tensors, to ${r.output} in ${r.seconds.toFixed(2)} s on ${r.device}`);
    });


    program
    .command('verify')
    .description('decode everything and check every checksum; with --against, compare with the original model too (without: an integrity test, as xz -t)')
    .argument('<container>', '.tzip file')
    .option('--against <original>', 'the original model directory, .safetensors file, or repo id org/name[@rev] in the local Hugging Face cache')
    .option('--threads <n>', 'CPU threads (default: all)', positiveInt)
    .option(...DEVICE)
    .option('--json', 'print the report as JSON')
    .action(async (container: string, opts: { against?: string; threads?: number; device?: DeviceSpec; json?: boolean }) => {
      const against = opts.against === undefined ? undefined : await resolveModel(opts.against);
      const r = await withProgress(opts.json, (update) =>
        verify(container, against, { threads: opts.threads, device: opts.device, signal: interruptSignal(), onProgress: update }),
      );
      print(opts.json, r, () => formatVerify(r));
      // Against the original, a difference is its own exit code; a container that fails its own test exits 1.
      if (!r.ok) process.exitCode = against === undefined ? EXIT.error : EXIT.verifyFailed;
    });


    program
    .command('export')
    .description('write a Llama-family model (container or model directory) as a GGUF file llama.cpp runs; ggml block types are copied without re-quantizing')
    .argument('<input>', '.tzip container, model directory, or repo id org/name[@rev] in the local Hugging Face cache')
    .requiredOption('-o, --output <file>', 'the .gguf file to write')
    .addOption(new Option('--type <type>', 're-quantize every matrix that is not a ggml block type already (rtn, groups of 32; the report gives the error it adds); default: store it in its dtype').choices(['q8_0', 'q5_0', 'q4_0']))
    .option('--threads <n>', 'CPU threads (default: all)', positiveInt)
    .option(...FORCE)
    .option('--json', 'print the report as JSON')
    .action(async (input: string, opts: { output: string; type?: string; threads?: number; force?: boolean; json?: boolean }) => {
      const resolved = input.endsWith('.tzip') ? input : await resolveModel(input);
      const type = opts.type?.toUpperCase() as RequantType | undefined;
      const r = await exportGguf(resolved, opts.output, { type, threads: opts.threads, force: opts.force, onNote: note, signal: interruptSignal() });
      print(opts.json, r, () => formatExport(r));
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
}
