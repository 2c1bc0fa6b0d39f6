// `tensorzip bench e2e`: a generated checkpoint shaped like a 1.5B-class model (Qwen2.5-1.5B's
// dimensions, untied lm_head: about 1.78B parameters, 3.6 GB of bf16) through each method preset,
// each compress in its own process: wall time, peak RSS, container bytes, ratio, bits/weight and
// the mean relative error of the tensors stored with the method, and the wall time of a
// `tensorzip decompress` of the container (a process of its own, as a user runs it). SeedLM's
// exhaustive search would take hours on a few CPU cores, so it runs on a subset and its row is
// extrapolated (lib/tools/runs.ts). The peers, `zstd -1 -T<threads>` and `xz -0 -T<threads>` (when
// installed), compress and decompress the same shard files in the same run. With `model`, the
// user's own model folder (a Hugging Face cache snapshot too, its files symlinks into blobs/) runs
// instead of a generated one: it is only read, and nothing is ever written or removed in it.
import { fork, spawnSync } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { closeSync, fsyncSync, openSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, realpath, rm, stat } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { AbortError } from '../../core/errors';
import { AppendFile } from '../../io/append-file';
import { backendInfo } from '../../backend';
import { resolveDevice, type DeviceSpec } from '../../device';
import { parseLlamaConfig } from '../../model/config';
import type { CompressReport } from '../../pipeline/compress';
import { evaluate, type EvalResult } from '../../eval/perplexity';
import { writeSeededTokens } from '../../eval/tokens';
import { describeShape, generateCheckpoint, type ModelShape } from '../generate';
import { formatBytes, table } from '../../core/format';
import { extrapolationNote, REFERENCE, runMethods, SUBSET, type RunSummary } from '../runs';
import { defaultThreads } from '../../core/threads';
import type { ChildReply, ChildRequest } from './compress-child';

export const E2E_SHAPE: ModelShape = { hidden: 1536, intermediate: 8960, layers: 28, heads: 12, kvHeads: 2, vocab: 151936 };
import { E2E_METHODS } from '../presets';

export interface E2eOptions {
  shape?: Partial<ModelShape>;
  methods?: string[];
  threads?: number;
  /** Where to generate the checkpoint and write the containers (default: a temp dir, removed
   * afterwards; a given dir keeps everything but what the run made). */
  dir?: string;
  /** The user's model folder, run as it is instead of a generated checkpoint (shape unused). */
  model?: string;
  /** Where compress and decompress run (default: auto, as the commands: the first GPU when CUDA is available). */
  device?: DeviceSpec;
  /** Also evaluate: the original over this many chunks of EVAL_CTX seeded token ids (timed), and
   * each whole-model container against it (KL divergence, top-1 agreement, perplexity). 0: off. */
  evalChunks?: number;
  signal?: AbortSignal;
  log?: (line: string) => void;
}

export const EVAL_CTX = 512;

export interface E2eQuality {
  klMean: number;
  klP99: number;
  top1Agreement: number;
  perplexity: number;
  /** Seconds of `eval --against` (both models' forward passes and the scoring). */
  seconds: number;
}

export interface E2eRow extends RunSummary {
  /** Peak resident memory of the compress process (for an extrapolated row: the larger of the subset's and the reference's). */
  peakRssBytes: number;
  /** Wall time of `tensorzip decompress` of the whole container (not for an extrapolated row). */
  decompressSeconds?: number;
  quality?: E2eQuality;
}

/** A peer compressor run on the checkpoint's shard files in the same run. */
export interface E2ePeer {
  name: string;
  seconds: number;
  decompressSeconds: number;
  /** Seconds to fsync the peer's decompressed files afterwards: what tensorzip's decompress,
   * which syncs its output before renaming it into place, includes in its time. */
  decompressSyncSeconds: number;
  ratio: number;
}

export interface E2eResult {
  machine: string;
  backend: ReturnType<typeof backendInfo>;
  /** The user's model folder (`model`), or absent for a generated checkpoint. */
  model?: string;
  /** The generated checkpoint's shape and the seconds generating it took. */
  shape?: ModelShape;
  generateSeconds?: number;
  parameters: number;
  modelBytes: number;
  /** Where compress and decompress ran: cpu or cuda:N. */
  device: DeviceSpec;
  threads: number;
  subset: string;
  rows: E2eRow[];
  /** zstd and xz on the same files, or why each did not run. */
  peers: Array<E2ePeer | { name: string; skipped: string }>;
  /** The disk's own limit in the same run: the model's bytes written once as decompress writes
   * them (O_DIRECT where the file system takes it, then an fsync). */
  disk?: { bytes: number; writeSeconds: number };
  /** With evalChunks: the original model's evaluation (its time is the forward-pass figure). */
  originalEval?: Pick<EvalResult, 'perplexity' | 'chunks' | 'ctx' | 'scored' | 'seconds'>;
}

const seconds = (t: bigint) => Number(process.hrtime.bigint() - t) / 1e9;

/** `tensorzip decompress` of the container in a process of its own; its wall time. */
function timeDecompress(container: string, output: string, threads: number, device: DeviceSpec): number {
  const t = process.hrtime.bigint();
  const args = ['decompress', container, '-o', output, '--threads', String(threads), '--device', device];
  const r = spawnSync(process.execPath, [path.join(__dirname, '..', '..', 'cli.js'), ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  if (r.status !== 0) throw new Error(`decompress ${container} failed: ${r.stderr.toString().trim()}`);
  return seconds(t);
}

/** Seconds to write `bytes` bytes to new file `file` as decompress writes its shards (staged,
 * O_DIRECT where the file system takes it, then an fsync); the file is removed after. */
async function timeDiskWrite(file: string, bytes: number): Promise<number> {
  const block = new Uint8Array(8 << 20);
  randomFillSync(block); // not zeros: nothing on the way may shortcut them
  const t = process.hrtime.bigint();
  const out = await AppendFile.create(file, { direct: true });
  try {
    for (let done = 0; done < bytes; done += block.byteLength) await out.write(block.subarray(0, Math.min(block.byteLength, bytes - done)));
    await out.finish();
    return seconds(t);
  } finally {
    await out.abort();
    await rm(file, { force: true });
  }
}

/** A command-line compressor run as a peer: its compress and decompress arguments. */
interface PeerTool {
  tool: 'zstd' | 'xz';
  compress: string[];
}

/** The peers, fastest presets with all threads: zstd -1 (its default level is 3) and xz -0 (xz's
 * default -6 runs at a few MB/s per thread: an hour for this model on 2 cores). */
const PEER_TOOLS = (threads: number): PeerTool[] => [
  { tool: 'zstd', compress: ['-1', `-T${threads}`] },
  { tool: 'xz', compress: ['-0', `-T${threads}`] },
];

/** Runs `tool args` from file `from` to file `to` (both tools stream stdin to stdout); its status,
 * and with `sync` the seconds an fsync of `to` took after the tool ended. */
function filter(tool: string, args: string[], from: string, to: string, sync = false): { status: number | null; syncSeconds: number } {
  const input = openSync(from, 'r'), output = openSync(to, 'w');
  try {
    const { status } = spawnSync(tool, args, { stdio: [input, output, 'ignore'] });
    const t = process.hrtime.bigint();
    if (sync) fsyncSync(output);
    return { status, syncSeconds: sync ? seconds(t) : 0 };
  } finally {
    closeSync(input);
    closeSync(output);
  }
}

/** The peer on each shard file (compress, then decompress with as many threads); the sums. */
async function toolPeer({ tool, compress }: PeerTool, modelDir: string, work: string, threads: number): Promise<E2ePeer | { name: string; skipped: string }> {
  const name = `${tool} ${compress.join(' ')}`;
  if (spawnSync(tool, ['--version']).status !== 0) return { name, skipped: `${tool} not installed` };
  const shards = (await readdir(modelDir)).filter((f) => f.endsWith('.safetensors')).map((f) => path.join(modelDir, f));
  let raw = 0, packed = 0, c = 0, d = 0, sync = 0;
  for (const shard of shards) {
    const z = path.join(work, 'peer.z'), back = path.join(work, 'peer.out');
    let t = process.hrtime.bigint();
    if (filter(tool, [...compress, '-q', '-c'], shard, z).status !== 0) return { name, skipped: `${tool} failed on ${shard}` };
    c += seconds(t);
    t = process.hrtime.bigint();
    const decompressed = filter(tool, ['-d', `-T${threads}`, '-q', '-c'], z, back, true);
    if (decompressed.status !== 0) return { name, skipped: `${tool} -d failed on ${shard}` };
    d += seconds(t) - decompressed.syncSeconds;
    sync += decompressed.syncSeconds;
    raw += (await stat(shard)).size;
    packed += (await stat(z)).size;
    await rm(z, { force: true });
    await rm(back, { force: true });
  }
  return { name, seconds: c, decompressSeconds: d, decompressSyncSeconds: sync, ratio: raw / packed };
}

function compressInChild(req: ChildRequest, signal?: AbortSignal): Promise<{ report: CompressReport; maxRssBytes: number }> {
  return new Promise((resolve, reject) => {
    // 'advanced' serialization keeps Infinity (the SNR of exact tensors) intact.
    const child = fork(path.join(__dirname, 'compress-child.js'), [], { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let reply: ChildReply | undefined;
    const abort = () => child.kill('SIGTERM');
    signal?.addEventListener('abort', abort, { once: true });
    child.on('message', (m: ChildReply) => (reply = m));
    child.on('error', reject);
    child.on('exit', (code, sig) => {
      signal?.removeEventListener('abort', abort);
      if (signal?.aborted) reject(new AbortError());
      else if (reply && 'report' in reply) resolve(reply);
      else reject(new Error(`compress ${req.options.method} failed: ${reply && 'error' in reply ? reply.error : `exit ${code ?? sig}`}`));
    });
    child.send(req);
  });
}

/** `p` with its symlinks resolved as far as it exists (a work dir may not exist yet). */
async function resolved(p: string): Promise<string> {
  try {
    return await realpath(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || path.dirname(p) === p) throw e;
    return path.join(await resolved(path.dirname(p)), path.basename(p));
  }
}

/** The work dir holds the containers, the decompressed copies and the peers' files: it must not
 * be the user's model folder, nor lie inside it or hold it. Checked before the work dir is made. */
async function checkApart(model: string, work: string): Promise<void> {
  const [m, w] = await Promise.all([resolved(path.resolve(model)), resolved(path.resolve(work))]);
  const inside = (a: string, b: string) => a === b || a.startsWith(b + path.sep);
  if (inside(w, m) || inside(m, w)) throw new Error(`the work dir ${work} and the model ${model} must be apart: the run writes and removes files in its work dir and never touches the model`);
}

/** The vocabulary of the user's model, for eval's seeded token ids. */
async function vocabOf(modelDir: string): Promise<number> {
  const file = path.join(modelDir, 'config.json');
  return parseLlamaConfig(JSON.parse(await readFile(file, 'utf8')), file).vocab;
}

export async function runE2e(options: E2eOptions = {}): Promise<E2eResult> {
  const log = options.log ?? (() => undefined);
  const threads = options.threads ?? defaultThreads();
  const methods = options.methods ?? E2E_METHODS;
  // auto resolved here, so that the result says which device ran (and a GPU run's rows are its own).
  const gpu = resolveDevice(options.device ?? 'auto').cuda;
  const device: DeviceSpec = gpu === undefined ? 'cpu' : `cuda:${gpu}`;
  if (options.model) {
    if (!(await stat(options.model)).isDirectory()) throw new Error(`${options.model}: bench e2e --model takes a model folder (config.json and *.safetensors), not a file`);
    await checkApart(options.model, options.dir ?? path.join(os.tmpdir(), 'tensorzip-e2e-'));
  }
  const work = options.dir ?? (await mkdtemp(path.join(os.tmpdir(), 'tensorzip-e2e-')));
  await mkdir(work, { recursive: true });
  // What the run makes in `work`, and removes again; never the user's model.
  const made = ['subset.safetensors', 'out.tzip', 'out.tzip.resume', 'out.tzip.resume.data', 'tokens.bin', 'decompressed', 'peer.z', 'peer.out', ...(options.model ? [] : ['model'])];
  try {
    let model: { dir: string; shape?: ModelShape; parameters?: number };
    let generateSeconds: number | undefined;
    if (options.model) {
      model = { dir: options.model };
      log(`model: ${options.model} (read only)`);
    } else {
      const t = process.hrtime.bigint();
      log(`generating the checkpoint in ${work}`);
      model = await generateCheckpoint(path.join(work, 'model'), { ...E2E_SHAPE, ...options.shape, shards: 4 });
      generateSeconds = seconds(t);
    }
    const evalChunks = options.evalChunks ?? 0;
    const tokens = { tokens: path.join(work, 'tokens.bin') };
    const evalOptions = { ctx: EVAL_CTX, chunks: evalChunks, threads, signal: options.signal };
    let originalEval: E2eResult['originalEval'];
    if (evalChunks) {
      await writeSeededTokens(tokens.tokens, evalChunks * EVAL_CTX, model.shape?.vocab ?? (await vocabOf(model.dir)), 1);
      log(`eval of the original: ${evalChunks} chunks of ${EVAL_CTX} tokens`);
      const { perplexity, chunks, ctx, scored, seconds } = await evaluate(model.dir, tokens, evalOptions);
      originalEval = { perplexity, chunks, ctx, scored, seconds };
      log(`  ${seconds.toFixed(1)} s, perplexity ${perplexity.toFixed(2)}`);
    }
    const runs = await runMethods(model.dir, work, methods, async (input, spec) => {
      log(`compress ${spec}${input === model.dir ? '' : ` (${SUBSET.what})`}`);
      const output = path.join(work, 'out.tzip');
      const r = await compressInChild({ input, output, options: { method: spec, threads, device } }, options.signal);
      log(`  ${r.report.seconds.toFixed(1)} s, ratio ${r.report.ratio.toFixed(3)}`);
      let decompressSeconds: number | undefined;
      if (input === model.dir) {
        decompressSeconds = timeDecompress(output, path.join(work, 'decompressed'), threads, device);
        await rm(path.join(work, 'decompressed'), { recursive: true, force: true });
        log(`  decompress ${decompressSeconds.toFixed(1)} s`);
      }
      let quality: E2eQuality | undefined;
      if (evalChunks && input === model.dir) {
        const e = await evaluate(output, tokens, { ...evalOptions, against: model.dir });
        quality = { klMean: e.kl!.mean, klP99: e.kl!.p99, top1Agreement: e.top1Agreement!, perplexity: e.perplexity, seconds: e.seconds };
        log(`  eval --against: ${e.seconds.toFixed(1)} s, mean KL ${e.kl!.mean.toExponential(3)}`);
      }
      await rm(output, { force: true });
      return { ...r, quality, decompressSeconds };
    });
    const peers: E2eResult['peers'] = [];
    for (const tool of PEER_TOOLS(threads)) {
      log(`${tool.tool} on the same files`);
      peers.push(await toolPeer(tool, model.dir, work, threads));
    }
    const modelBytes = runs[0]?.summary.originalBytes ?? 0;
    log('the disk: writing as many bytes as the model holds');
    const disk = { bytes: modelBytes, writeSeconds: await timeDiskWrite(path.join(work, 'disk.bin'), modelBytes) };
    // An extrapolated row's memory: the larger of its subset run and the reference run.
    const rows: E2eRow[] = runs.map(({ summary, runs: used }) => ({
      ...summary,
      peakRssBytes: Math.max(...used.map((u) => u.maxRssBytes)),
      decompressSeconds: summary.extrapolated ? undefined : used[0].decompressSeconds,
      quality: summary.extrapolated ? undefined : used[0].quality,
    }));
    const info = backendInfo();
    const cpu = os.cpus();
    const whole = runs.flatMap((r) => r.runs).find((r) => r.report.input === model.dir);
    return {
      machine: `${cpu[0]?.model ?? 'unknown CPU'} (${cpu.length} logical CPUs), ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, CPU path ${info.cpu}`,
      backend: info,
      ...(options.model ? { model: options.model } : { shape: model.shape, generateSeconds }),
      parameters: model.parameters ?? whole?.report.weights ?? 0,
      modelBytes,
      device,
      threads,
      subset: SUBSET.what,
      rows,
      peers,
      disk,
      originalEval,
    };
  } finally {
    // A temp work dir goes as a whole (the user's model is never in it: checkApart); a given one
    // loses only what the run made.
    if (!options.dir) await rm(work, { recursive: true, force: true });
    else for (const name of made) await rm(path.join(work, name), { recursive: true, force: true });
  }
}

export function formatE2e(r: E2eResult): string {
  const body = r.rows.map((x) => {
    const est = x.extrapolated ? '≈' : '';
    return [
      x.spec + (x.extrapolated ? ' *' : ''),
      `${est}${x.seconds.toFixed(1)} s`,
      `${est}${formatBytes(x.originalBytes / x.seconds)}/s`,
      x.decompressSeconds === undefined ? '-' : `${x.decompressSeconds.toFixed(1)} s (${formatBytes(x.originalBytes / x.decompressSeconds)}/s)`,
      formatBytes(x.peakRssBytes),
      est + formatBytes(x.containerBytes),
      `${est}${x.ratio.toFixed(3)}x`,
      est + x.bitsPerWeight.toFixed(3),
      x.methodBitsPerWeight.toFixed(3),
      x.meanRelativeError === 0 ? 'exact' : x.meanRelativeError.toFixed(4),
      ...(r.originalEval ? [x.quality ? x.quality.klMean.toExponential(3) : '-', x.quality ? `${(100 * x.quality.top1Agreement).toFixed(1)} %` : '-'] : []),
    ];
  });
  const lines = [
    `machine: ${r.machine}, ${r.threads} threads, device ${r.device}`,
    r.shape
      ? `model: generated, ${r.parameters.toLocaleString('en-US')} parameters, bf16, ${formatBytes(r.modelBytes)} in 4 shards (${describeShape(r.shape)}, ` +
        `untied lm_head); generated in ${(r.generateSeconds ?? 0).toFixed(1)} s`
      : `model: ${r.model}, ${r.parameters.toLocaleString('en-US')} parameters, ${formatBytes(r.modelBytes)}`,
    '',
    table(['method', 'compress', 'throughput', 'decompress', 'peak RSS', 'container', 'ratio', 'bits/w', 'bits/w (method)', 'mean rel. error', ...(r.originalEval ? ['mean KL', 'top-1'] : [])], body),
    '',
    'Each method ran as one `compress` in its own process (compress: the time it reports, from opening the model to the container written;',
    'peak RSS: that process\'s), then one `tensorzip decompress` (its process\'s wall time, start included). bits/w: container bits over all',
    'weights; bits/w (method) and mean rel. error: the tensors stored with the method (embeddings and lm_head get rtn:8, 1-D tensors lossless).',
    ...r.peers.map((p) =>
      'skipped' in p
        ? `peer ${p.name}: skipped (${p.skipped})`
        : `peer ${p.name} on the same shard files: compress ${p.seconds.toFixed(1)} s (${formatBytes(r.modelBytes / p.seconds)}/s), ratio ${p.ratio.toFixed(3)}; ` +
          `decompress ${p.decompressSeconds.toFixed(1)} s (${formatBytes(r.modelBytes / p.decompressSeconds)}/s), ` +
          `${(p.decompressSeconds + p.decompressSyncSeconds).toFixed(1)} s (${formatBytes(r.modelBytes / (p.decompressSeconds + p.decompressSyncSeconds))}/s) with its output synced to disk as tensorzip's is; wall times of its processes, file writes included.`,
    ),
    ...(r.disk
      ? [`disk: writing ${formatBytes(r.disk.bytes)} (the model's size) once, as decompress writes (O_DIRECT, then an fsync), took ${r.disk.writeSeconds.toFixed(1)} s (${formatBytes(r.disk.bytes / r.disk.writeSeconds)}/s): no decompress of this model can take less here.`]
      : []),
  ];
  const o = r.originalEval;
  if (o)
    lines.push(
      `eval: the original over ${o.chunks} chunks of ${o.ctx} seeded random token ids (${o.scored} scored) took ${o.seconds.toFixed(1)} s ` +
        `(perplexity ${o.perplexity.toFixed(2)}; generated weights, near-uniform predictions). KL and top-1: each container against it`,
      `(eval --against, both forward passes: ${r.rows.filter((x) => x.quality).map((x) => `${x.spec} ${x.quality!.seconds.toFixed(0)} s`).join(', ')}).`,
    );
  const note = extrapolationNote(r.rows, r.threads);
  if (note.length) lines.push(...note, `  Peak RSS of an extrapolated row: the larger of its subset run and the ${REFERENCE} run.`);
  return lines.join('\n');
}
