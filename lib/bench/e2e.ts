// `tensorzip bench e2e`: a generated checkpoint shaped like a 1.5B-class model (Qwen2.5-1.5B's
// dimensions, untied lm_head: about 1.78B parameters, 3.6 GB of bf16) through each method preset,
// each compress in its own process: wall time, peak RSS, container bytes, ratio, bits/weight and
// the mean relative error of the tensors stored with the method. SeedLM's exhaustive search would
// take hours on a few CPU cores, so it runs on a subset and its row is extrapolated (lib/runs.ts).
import { fork } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { AbortError } from '../errors';
import { backendInfo } from '../backend';
import type { CompressReport } from '../compress';
import { describeShape, generateCheckpoint, type ModelShape } from '../generate';
import { formatBytes, table } from '../report';
import { extrapolationNote, REFERENCE, runMethods, SUBSET, type RunSummary } from '../runs';
import { defaultThreads } from '../threads';
import type { ChildReply, ChildRequest } from './compress-child';

export const E2E_SHAPE: ModelShape = { hidden: 1536, intermediate: 8960, layers: 28, heads: 12, kvHeads: 2, vocab: 151936 };
export const E2E_METHODS = ['lossless', 'rtn:8', 'rtn:4', 'ternary', 'seedlm:4', 'vptq:2'];

export interface E2eOptions {
  shape?: Partial<ModelShape>;
  methods?: string[];
  threads?: number;
  /** Where to generate the checkpoint (default: a temp dir, removed afterwards). */
  dir?: string;
  signal?: AbortSignal;
  log?: (line: string) => void;
}

export interface E2eRow extends RunSummary {
  /** Peak resident memory of the compress process (for an extrapolated row: the larger of the subset's and the reference's). */
  peakRssBytes: number;
}

export interface E2eResult {
  machine: string;
  backend: ReturnType<typeof backendInfo>;
  shape: ModelShape;
  parameters: number;
  modelBytes: number;
  generateSeconds: number;
  threads: number;
  subset: string;
  rows: E2eRow[];
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

export async function runE2e(options: E2eOptions = {}): Promise<E2eResult> {
  const log = options.log ?? (() => undefined);
  const threads = options.threads ?? defaultThreads();
  const methods = options.methods ?? E2E_METHODS;
  const work = options.dir ?? (await mkdtemp(path.join(os.tmpdir(), 'tensorzip-e2e-')));
  await mkdir(work, { recursive: true });
  try {
    const t = process.hrtime.bigint();
    log(`generating the checkpoint in ${work}`);
    const model = await generateCheckpoint(path.join(work, 'model'), { ...E2E_SHAPE, ...options.shape, shards: 4 });
    const generateSeconds = Number(process.hrtime.bigint() - t) / 1e9;
    const runs = await runMethods(model.dir, work, methods, async (input, spec) => {
      log(`compress ${spec}${input === model.dir ? '' : ` (${SUBSET.what})`}`);
      const output = path.join(work, 'out.tzip');
      const r = await compressInChild({ input, output, options: { method: spec, threads } }, options.signal);
      await rm(output, { force: true });
      log(`  ${r.report.seconds.toFixed(1)} s, ratio ${r.report.ratio.toFixed(3)}`);
      return r;
    });
    // An extrapolated row's memory: the larger of its subset run and the reference run.
    const rows: E2eRow[] = runs.map(({ summary, runs: used }) => ({ ...summary, peakRssBytes: Math.max(...used.map((u) => u.maxRssBytes)) }));
    const info = backendInfo();
    const cpu = os.cpus();
    return {
      machine: `${cpu[0]?.model ?? 'unknown CPU'} (${cpu.length} logical CPUs), ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, CPU path ${info.cpu}`,
      backend: info,
      shape: model.shape,
      parameters: model.parameters,
      modelBytes: rows[0]?.originalBytes ?? 0,
      generateSeconds,
      threads,
      subset: SUBSET.what,
      rows,
    };
  } finally {
    if (!options.dir) await rm(work, { recursive: true, force: true });
    else for (const made of ['model', 'subset.safetensors', 'out.tzip', 'out.tzip.resume']) await rm(path.join(work, made), { recursive: true, force: true });
  }
}

export function formatE2e(r: E2eResult): string {
  const body = r.rows.map((x) => {
    const est = x.extrapolated ? '≈' : '';
    return [
      x.spec + (x.extrapolated ? ' *' : ''),
      `${est}${x.seconds.toFixed(1)} s`,
      formatBytes(x.peakRssBytes),
      est + formatBytes(x.containerBytes),
      `${est}${x.ratio.toFixed(3)}x`,
      est + x.bitsPerWeight.toFixed(3),
      x.methodBitsPerWeight.toFixed(3),
      x.meanRelativeError === 0 ? 'exact' : x.meanRelativeError.toFixed(4),
    ];
  });
  const lines = [
    `machine: ${r.machine}, ${r.threads} threads`,
    `model: generated, ${r.parameters.toLocaleString('en-US')} parameters, bf16, ${formatBytes(r.modelBytes)} in 4 shards (${describeShape(r.shape)}, ` +
      `untied lm_head); generated in ${r.generateSeconds.toFixed(1)} s`,
    '',
    table(['method', 'wall time', 'peak RSS', 'container', 'ratio', 'bits/w', 'bits/w (method)', 'mean rel. error'], body),
    '',
    'Each method ran as one `compress` in its own process (wall time and peak RSS are that process\'s). bits/w: container bits over all',
    'weights; bits/w (method) and mean rel. error: the tensors stored with the method (embeddings and lm_head get rtn:8, 1-D tensors lossless).',
  ];
  const note = extrapolationNote(r.rows, r.threads);
  if (note.length) lines.push(...note, `  Peak RSS of an extrapolated row: the larger of its subset run and the ${REFERENCE} run.`);
  return lines.join('\n');
}
