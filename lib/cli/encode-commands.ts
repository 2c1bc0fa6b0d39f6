// compress, and the commands that split it across processes: worker (queue mode) and merge
// (the parts of --shard). The queue modules (BullMQ) load only when a queue is used.
import { Command, Option } from 'commander';
import { parseDeviceList, type DeviceSpec } from '../device';
import { resolveModel } from '../io/hf-cache';
import { compressShard } from '../parts/part';
import { merge } from '../parts/merge';
import type { ShardSpec } from '../parts/shard';
import { compress, dryRun } from '../pipeline/compress';
import { loadPolicyFile } from '../pipeline/policy';
import { byteSize, collect, deviceSpec, FORCE, methodList, positiveInt, positiveNumber, queueUrl, shardSpec, tensorMethod } from './options';
import { DEFAULT_CANDIDATES } from '../budget/candidates';
import { formatBytes } from '../core/format';
import { formatBudget, formatCompress, formatDryRun } from './report';
import { EXIT, interruptSignal, lazy, note, print, withProgress } from './run';

export function addEncodeCommands(program: Command): void {
  program
    .command('compress')
    .description('compress a model directory or .safetensors file into a .tzip container')
    .argument('<model>', 'Hugging Face model directory, .safetensors file, or repo id org/name[@rev] in the local Hugging Face cache')
    .option('-o, --output <file>', 'container to write (.tzip); required unless --dry-run')
    .option('-m, --method <spec>', 'method for weight matrices: lossless, rtn:<bits>[:g<group>], ternary[:g<N>|:row|:tensor][:p3|:p2][:opt], seedlm:4|3[:fast], vptq:2|3|4|2:large or vptq:v<N>:k<N>[:r<N>][:norm][:i<N>]; or gguf:q8_0|q5_0|q4_0|tq2_0 for containers `tensorzip export` copies into llama.cpp block types', 'lossless')
    .option('--policy <file.json>', 'JSON object of "glob": "method spec" rules, first match wins')
    .option('--tensor-method <glob=spec>', 'a rule before those of --policy, e.g. \'*down_proj*=rtn:6\' (repeatable; first match wins)', tensorMethod, [])
    .option('--target-bpw <bits>', 'choose a method per weight matrix from --candidates so that the container has at most this many bits per weight, losing least (docs/METHODS.md, "Bit budgets")', positiveNumber)
    .option('--target-size <bytes>', 'as --target-bpw, for a container of at most this size (e.g. 700KB, 3.5GB)', byteSize)
    .option('--candidates <list>', `with a target: the method specs to choose from (default: ${DEFAULT_CANDIDATES.join(',')})`, methodList)
    .option('--calibration <text>', 'with a target: a text file to measure each matrix\'s sensitivity (the KL divergence it causes alone) and the result\'s KL with; without it a data-free proxy plans')
    .option('--dry-run', 'print the method, projected bytes and bits/weight of every tensor from the plan; read no weights, write nothing')
    .option('-q, --quiet', 'print the summary only (no per-tensor table)')
    .option('--importance <file.safetensors>', 'per-input-column importance, one F32 vector per weight tensor (from tensorzip imatrix; weights vptq\'s k-means, rtn\'s scales and ternary :opt)')
    .addOption(new Option('--coder <coder>', 'entropy coder of the tensors\' pieces: rans (default; config and tokenizer files then go through LZMA), lzma (every piece) or off').choices(['rans', 'lzma', 'off']))
    .option('--lzma <setting>', 'LZMA setting: auto (default), off, or a preset 0-9 (9e = extreme); given without --coder, it selects --coder lzma')
    .option('--threads <n>', 'CPU threads (default: all)', positiveInt)
    .option('--device <device>', 'where the kernels with a GPU version (rtn, ternary, seedlm\'s search, vptq\'s k-means) run: auto (a GPU when CUDA is available), cpu, cuda or cuda:N; the container is the same', deviceSpec, 'auto')
    .addOption(new Option('--nonfinite <action>', 'tensors with NaN/Inf, or with weights the lossy method cannot represent (e.g. |w| >= 458640 under rtn:4): store lossless with a note, or stop with an error').choices(['lossless', 'error']).default('lossless'))
    .option('--exclude <glob>', 'do not carry the model folder\'s files matching this glob (repeatable)', collect, [])
    .option('--include <glob>', 'carry files matching this glob even if skipped (weight files in other formats such as *.bin or *.pth are skipped by default) or excluded (repeatable)', collect, [])
    .option('--resume', 'reuse the tensors an interrupted run finished (kept in <output>.resume)')
    .option('-f, --force', 'replace an existing output (and the <output>.resume of an interrupted run); the input is never replaced')
    .option('--shard <i/n>', 'encode only shard i of n (0-based) into a part file at --output; then tensorzip merge', shardSpec)
    .addOption(
      new Option('--queue <redis://host:port>', 'hand out one job per tensor on this Redis (BullMQ) to `tensorzip worker` processes, then write the container from their results')
        .argParser(queueUrl)
        .conflicts(['shard', 'resume', 'device']), // each worker has its own --device
    )
    .option('--queue-name <name>', 'BullMQ queue name (as given to the workers)', 'tensorzip')
    .option('--work-dir <dir>', 'with --queue: where workers write results, at the same path on every worker (default: <output>.queue)')
    .option('--queue-patience <s>', 'with --queue: seconds to wait for a queue that does not answer before stopping (finished tensors are kept)', positiveInt, 30)
    .option('--json', 'print the report as JSON')
    .action(async (modelArg: string, opts: { output?: string; dryRun?: boolean; quiet?: boolean; tensorMethod: Array<[string, string]>; method: string; policy?: string; importance?: string; coder?: string; lzma?: string; threads?: number; nonfinite: 'lossless' | 'error'; exclude: string[]; include: string[]; resume?: boolean; force?: boolean; shard?: ShardSpec; queue?: string; queueName: string; workDir?: string; queuePatience: number; device: DeviceSpec; json?: boolean; targetBpw?: number; targetSize?: number; candidates?: string[]; calibration?: string }, cmd: Command) => {
      const model = await resolveModel(modelArg);
      // Inline rules first, then the file's (a glob given inline keeps its inline spec).
      const policy: Record<string, string> | undefined = opts.tensorMethod.length || opts.policy ? Object.fromEntries(opts.tensorMethod) : undefined;
      if (opts.policy) for (const [glob, spec] of Object.entries(await loadPolicyFile(opts.policy))) if (!(glob in policy!)) policy![glob] = spec;
      const options = {
        method: opts.method,
        policy,
        importance: opts.importance,
        coder: opts.coder,
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
      const budgeted = opts.targetBpw !== undefined || opts.targetSize !== undefined;
      if (!budgeted && (opts.candidates || opts.calibration)) cmd.error('error: --candidates and --calibration go with --target-bpw or --target-size', { exitCode: EXIT.usage });
      if (budgeted) {
        const clash = [['--target-bpw and --target-size', opts.targetBpw !== undefined && opts.targetSize !== undefined], ['--method', cmd.getOptionValueSource('method') === 'cli'], ['--policy', opts.policy], ['--tensor-method', opts.tensorMethod.length], ['--dry-run', opts.dryRun], ['--shard', opts.shard], ['--queue', opts.queue], ['--resume', opts.resume]].find(([, on]) => on);
        if (clash) cmd.error(`error: a target chooses the method of every weight matrix itself: it takes no ${clash[0]}`, { exitCode: EXIT.usage });
        if (opts.output === undefined) cmd.error("error: required option '-o, --output <file>' not specified", { exitCode: EXIT.usage });
        const { compressToBudget } = lazy<typeof import('../budget/plan')>('../budget/plan');
        const report = await compressToBudget(model, opts.output, {
          ...options,
          target: { bitsPerWeight: opts.targetBpw, bytes: opts.targetSize },
          candidates: opts.candidates,
          calibration: opts.calibration === undefined ? undefined : { text: opts.calibration },
          onStage: (line) => !opts.json && note(line),
        });
        print(opts.json, report, () => formatBudget(report, opts.quiet));
        return;
      }
      if (opts.dryRun) {
        if (opts.queue || opts.shard || opts.resume) cmd.error('error: --dry-run plans a compress: it takes no --queue, --shard or --resume', { exitCode: EXIT.usage });
        const report = await dryRun(model, options);
        print(opts.json, report, () => formatDryRun(report, opts.quiet));
        return;
      }
      if (opts.output === undefined) cmd.error("error: required option '-o, --output <file>' not specified", { exitCode: EXIT.usage });
      const output = opts.output;
      const shard = opts.shard;
      if (opts.queue) {
        const queue = opts.queue;
        const { compressQueued } = lazy<typeof import('../queue/coordinator')>('../queue/coordinator');
        const report = await withProgress(opts.json, (update) =>
          compressQueued(model, output, {
            ...options,
            queue,
            queueName: opts.queueName,
            workDir: opts.workDir,
            patience: opts.queuePatience,
            onQueue: (q) => update({ done: q.bytesDone, total: q.bytesTotal, unit: 'bytes', item: `${q.done}/${q.tensors} tensors, ${q.active} running, ${q.workers} worker${q.workers === 1 ? '' : 's'}` }),
            onProgress: (p) => update({ ...p, item: 'writing the container' }),
          }),
        );
        print(opts.json, report, () => `${formatCompress(report)}\nqueue: ${report.queue.jobs} jobs on ${report.queue.workers.length} worker${report.queue.workers.length === 1 ? '' : 's'}${report.queue.reused ? `, ${report.queue.reused} tensors reused from an earlier run` : ''}; container written in ${report.queue.mergeSeconds.toFixed(1)} s`);
        return;
      }
      if (shard) {
        const r = await withProgress(opts.json, (update) => compressShard(model, output, { ...options, shard, onProgress: (p) => update({ ...p, item: `shard ${shard.index}/${shard.count}: ${p.item}` }) }));
        print(opts.json, r, () => `wrote part ${shard.index}/${shard.count} to ${r.output}: ${r.tensors.length} of ${r.tensorCount} tensors, ${formatBytes(r.originalBytes)} of weights in ${formatBytes(r.partBytes)}, ${r.seconds.toFixed(1)} s`);
        return;
      }
      const report = await withProgress(opts.json, (update) =>
        compress(model, output, {
          ...options,
          onProgress: update,
        }),
      );
      print(opts.json, report, () => formatCompress(report, opts.quiet));
    });


    program
    .command('worker')
    .description('encode tensor jobs of compress --queue until stopped (Ctrl-C or SIGTERM puts a job under way back in the queue)')
    .requiredOption('--queue <redis://host:port>', 'the Redis (BullMQ) the coordinator uses', queueUrl)
    .option('--queue-name <name>', 'BullMQ queue name', 'tensorzip')
    .option('--root <dir>', 'a tree jobs may read and write, symlinks resolved (repeatable; required): the model and work directories, or / to trust whoever can add jobs', collect, [])
    .option('--threads <n>', 'CPU threads (default: all)', positiveInt)
    .option('--lock-timeout <s>', 'seconds without a sign of life after which this worker\'s job is given to another worker', positiveInt, 30)
    .option('--device <device>', 'where the kernels with a GPU version run: auto, cpu, cuda or cuda:N', deviceSpec, 'auto')
    .addOption(new Option('--devices <list>', 'one worker process per GPU: all, or indices such as 0,1 (CPU threads shared among them)').conflicts('device'))
    .action(async (opts: { queue: string; queueName: string; root: string[]; threads?: number; lockTimeout: number; device: DeviceSpec; devices?: string }, cmd: Command) => {
      if (!opts.root.length) cmd.error('error: give --root <dir> for each tree the jobs may read and write (the model and the work directory), or --root / to let whoever can add jobs use any file this worker can read', { exitCode: EXIT.usage });
      const signal = interruptSignal();
      if (opts.devices) {
        const devices = parseDeviceList(opts.devices);
        const { runDeviceWorkers } = lazy<typeof import('../queue/devices')>('../queue/devices');
        await runDeviceWorkers({ queue: opts.queue, queueName: opts.queueName, roots: opts.root, devices, threads: opts.threads, lockSeconds: opts.lockTimeout, signal });
        return;
      }
      let on = ''; // the device, once known: lines of several workers (--devices) say whose they are
      const say = (line: string) => console.error(`tensorzip worker${on}: ${line}`);
      const { runWorker } = lazy<typeof import('../queue/worker')>('../queue/worker');
    const summary = await runWorker({
        queue: opts.queue,
        queueName: opts.queueName,
        roots: opts.root,
        threads: opts.threads,
        device: opts.device,
        lockSeconds: opts.lockTimeout,
        signal,
        onEvent: (e) => {
          if (e.kind === 'ready') say(`${e.worker} on ${e.device} waiting for jobs on ${e.queue}, reading and writing only in ${e.roots.join(', ')}`), (on = ` ${e.device.split(' ')[0]}`);
          else if (e.kind === 'start') say(`${e.tensor}${e.attempt > 1 ? ` (attempt ${e.attempt})` : ''}`);
          else if (e.kind === 'done') say(`${e.tensor} done in ${e.seconds.toFixed(2)} s (${formatBytes(e.bytes)})`);
          else if (e.kind === 'lost') say(`lost the connection to the queue (${e.error}); waiting for it to come back`);
          else say(`${e.tensor} failed: ${e.error}`);
        },
      });
      say(`stopped after ${summary.jobs} job${summary.jobs === 1 ? '' : 's'}${summary.failed ? ` (${summary.failed} failed)` : ''}`);
    });


    program
    .command('merge')
    .description('assemble the part files of compress --shard (one per shard) into the container a single compress writes, byte for byte')
    .argument('<parts...>', 'part files, one per shard, in any order')
    .option('-o, --output <file>', 'container to write (.tzip); required unless --dry-run')
    .option('--input <model>', 'the input model, when it is not at the path the parts recorded')
    .option(...FORCE)
    .option('--threads <n>', 'CPU threads (default: all)', positiveInt)
    .option('--json', 'print the report as JSON')
    .action(async (parts: string[], opts: { output: string; input?: string; threads?: number; force?: boolean; json?: boolean }) => {
      const report = await withProgress(opts.json, (update) =>
        merge(parts, opts.output, { input: opts.input, threads: opts.threads, force: opts.force, onNote: note, signal: interruptSignal(), onProgress: (p) => update({ ...p, item: 'copying pieces' }) }),
      );
      print(opts.json, report, () => formatCompress(report));
    });
}
