// `tensorzip bench …`: the kernel suite, the end-to-end run (on a generated checkpoint or the
// user's own model), quality on the shipped model, and queue mode. kernels and e2e write their
// rows as JSON (--out), the format --compare reads back as a baseline; a row that regressed past
// its noise tolerance exits EXIT.regressed (4), apart from errors (1) and usage errors (2), so that
// a CI job can tell a slower build from a broken run. A baseline is read and checked, and the
// output path tried, before the minutes of a benchmark run.
import type { Command } from 'commander';
import { backendInfo } from '../backend';
import { resolveDevice, type DeviceSpec } from '../device';
import { resolveModel } from '../io/hf-cache';
import type { BenchFile, RecordedRow } from '../tools/bench/compare';
import { CUDA_SUITES, E2E_METHODS, SUITES, type SuiteName } from '../tools/presets';
import { deviceSpec, optionValue, positiveInt, queueUrl } from './options';
import { EXIT, interruptSignal, lazy, print } from './run';
import { methodRunOptions, shapeOf, shapeOptions, type MethodRunOptions, type ShapeOptions } from './tool-commands';

const suiteList = optionValue((value): SuiteName[] => {
  const names = value.split(',').map((s) => s.trim());
  const unknown = names.filter((n) => !(SUITES as readonly string[]).includes(n));
  if (unknown.length) throw new Error(`unknown suite ${unknown.map((n) => `'${n}'`).join(', ')} (suites: ${SUITES.join(', ')})`);
  return names as SuiteName[];
});

/** The kernels' --device: cpu or a GPU, never auto, so that what a baseline measured does not
 * depend on the machine it ran on. */
const kernelDevice = optionValue((value): DeviceSpec => {
  if (value === 'cpu' || value === 'cuda' || /^cuda:[0-9]{1,3}$/.test(value)) return value as DeviceSpec;
  throw new Error(`must be cpu, cuda or cuda:N, got '${value}'`);
});

/** The GPU of --device cuda / cuda:N, or undefined for cpu and auto. Without a usable GPU the run
 * cannot start: an error (exit 1) saying why; a GPU index past the GPUs is a usage error. */
function gpuOf(spec: DeviceSpec): number | undefined {
  if (spec === 'cpu' || spec === 'auto') return undefined;
  const { cuda } = backendInfo();
  if (!('gpus' in cuda)) throw new Error(`--device ${spec}: no usable GPU: ${cuda.unavailable}`);
  return resolveDevice(spec).cuda;
}

const benchFile = () => lazy<typeof import('../tools/bench/bench-file')>('../tools/bench/bench-file');

/** --compare: this run's rows against the baseline's rows of the suites (or methods) and device
 * that ran; the table, the JSON, and whether a gated row regressed. */
function judge(baseline: BenchFile, file: string, now: RecordedRow[], gateFallback = false) {
  const { compareRuns, formatComparison, madeBy, regressions } = lazy<typeof import('../tools/bench/compare')>('../tools/bench/compare');
  const rows = compareRuns(baseline, now, { expected: madeBy(now), gateFallback });
  const regressed = regressions(rows).map((c) => c.id);
  return { text: formatComparison(rows, baseline, file), json: { baseline: file, rows, regressed }, regressed: regressed.length > 0 };
}

const SHAPE_FLAGS: Record<keyof ShapeOptions, string> = { hidden: '--hidden', intermediate: '--intermediate', layers: '--layers', heads: '--heads', kvHeads: '--kv-heads', vocab: '--vocab' };

type KernelsOptions = { only?: SuiteName[]; runs: number; out: string; compare?: string; peers: boolean; threads?: number; device: DeviceSpec; gateScalar?: boolean; smoke?: boolean; json?: boolean };
type E2eCliOptions = MethodRunOptions & { model?: string; dir?: string; evalChunks?: number; device?: DeviceSpec; out?: string; compare?: string };

export function addBenchCommands(program: Command): void {
  const bench = program.command('bench').description('benchmarks: the kernels, a whole model end to end, quality, queue mode; kernels and e2e judge a run against a baseline (exit 4 on a regression)');

  bench
    .command('kernels')
    .description("every kernel as a share of the machine's limits measured in the same run (FMA peak, copy bandwidth; with --device cuda the GPU's copy bandwidth), peers side by side; writes JSON, and with --compare judges each row against a baseline")
    .option('--only <suites>', `comma-separated suites (default: all): ${SUITES.join(', ')}`, suiteList)
    .option('--runs <n>', 'run the suites n times: each row the median, with its spread (a baseline written with 3 gets its tolerances from that spread)', positiveInt, 1)
    .option('--out <file.json>', 'where to write the JSON, relative to the current directory', 'bench-results/latest.json')
    .option('--compare <baseline.json>', 'judge each row against this file (a --out of an earlier run): exit 4 when a row regressed past its noise tolerance')
    .option('--no-peers', 'skip the peers (xz, numpy, scikit-learn, faiss)')
    .option('--threads <n>', 'CPU threads (default: all)', positiveInt)
    .option('--device <device>', `cpu, or cuda / cuda:N: the GPU rows of the suites with CUDA kernels (${CUDA_SUITES.join(', ')}) instead of their CPU rows`, kernelDevice, 'cpu')
    .option('--gate-scalar', 'also fail on the rows of the forced scalar kernels where AVX2 is in use (by default printed, not gated; without AVX2 they are the path in use and always gated)')
    .option('--smoke', 'time each task once: checks that every row runs, in seconds; its figures are too noisy to judge')
    .option('--json', 'print the JSON (and the comparison) instead of the tables')
    .action(async (o: KernelsOptions) => {
      const cuda = gpuOf(o.device);
      const { checkWritable, readBenchFile, writeBenchFile } = benchFile();
      const baseline = o.compare === undefined ? undefined : readBenchFile(o.compare, 'kernels');
      checkWritable(o.out);
      const { formatKernels, runKernels } = lazy<typeof import('../tools/bench/run')>('../tools/bench/run');
      const file = await runKernels({ suites: o.only, runs: o.runs, peers: o.peers, threads: o.threads, cuda, smoke: o.smoke, log: (l) => !o.json && console.error(l) });
      writeBenchFile(o.out, file);
      const verdict = baseline && judge(baseline, o.compare!, file.rows, o.gateScalar);
      print(o.json, { ...file, ...(verdict ? { comparison: verdict.json } : {}) }, () => [formatKernels(file), '', `JSON: ${o.out}`, ...(verdict ? ['', verdict.text] : [])].join('\n'));
      if (verdict?.regressed) process.exitCode = EXIT.regressed;
    });

  methodRunOptions(
    bench
      .command('e2e')
      .description('compress a model with each method preset and decompress it, each in a process of its own, next to zstd and xz on the same files: a generated 1.5B-class checkpoint (about 1.78B bf16 parameters; smaller with --layers), or your own with --model'),
    E2E_METHODS,
  )
    .option('--model <dir>', 'your own model folder (config.json and *.safetensors; a Hugging Face cache snapshot, or org/name[@rev] in the local cache) instead of a generated checkpoint: only read, never changed')
    .option('--dir <dir>', 'work dir for the generated checkpoint and the containers (default: a temp dir); what the run makes there is removed afterwards')
    .option('--eval-chunks <n>', 'also time eval of the original over n chunks of 512 tokens, and add KL and top-1 of each container against it', positiveInt)
    .option('--device <device>', 'where compress and decompress run: auto (default: the first GPU when CUDA is available), cpu, cuda or cuda:N', deviceSpec)
    .option('--out <file.json>', 'write the rows as JSON (the format of --compare)')
    .option('--compare <baseline.json>', 'judge this run against a bench e2e --out file of the same model: throughput as a ratio to zstd -1 in the same run, ratio and error within 0.5 %; exit 4 when a row regressed')
    .action(async (o: E2eCliOptions, cmd: Command) => {
      const shape = shapeOf(o);
      const given = Object.keys(shape) as Array<keyof ShapeOptions>;
      if (o.model !== undefined && given.length)
        cmd.error(`error: --model runs your model as it is: it takes no ${given.map((k) => SHAPE_FLAGS[k]).join(', ')} (they shape a generated checkpoint)`, { exitCode: EXIT.usage });
      gpuOf(o.device ?? 'auto');
      const { checkWritable, readBenchFile, writeBenchFile } = benchFile();
      const baseline = o.compare === undefined ? undefined : readBenchFile(o.compare, 'e2e');
      if (o.out !== undefined) checkWritable(o.out);
      const model = o.model === undefined ? undefined : await resolveModel(o.model);
      const { formatE2e, runE2e } = lazy<typeof import('../tools/bench/e2e')>('../tools/bench/e2e');
      const { checkSameModel, e2eFile } = lazy<typeof import('../tools/bench/e2e-rows')>('../tools/bench/e2e-rows');
      const result = await runE2e({ shape, model, methods: o.methods, threads: o.threads, dir: o.dir, evalChunks: o.evalChunks, device: o.device, signal: interruptSignal(), log: (l) => !o.json && console.error(l) });
      const file = e2eFile(result);
      if (o.out !== undefined) writeBenchFile(o.out, file);
      if (baseline) checkSameModel(baseline, o.compare!, file.model);
      const verdict = baseline && judge(baseline, o.compare!, file.rows);
      print(o.json, verdict ? { ...result, comparison: verdict.json } : result, () =>
        [formatE2e(result), ...(o.out !== undefined ? ['', `JSON: ${o.out}`] : []), ...(verdict ? ['', verdict.text] : [])].join('\n'),
      );
      if (verdict?.regressed) process.exitCode = EXIT.regressed;
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
