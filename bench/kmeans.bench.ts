// k-means (the engine of vptq) on SPEC.md §7's problem: a 1,048,576-point sample of d 8 into
// k 4096 for 10 iterations, then the assignment of 1,146,880 vectors. The assignment is judged
// against the FMA peak measured in the same run (2 operations per FMA, one FMA per point,
// centroid and dimension). Debian's scikit-learn and faiss run on the same data when their
// Python modules are installed (python3-sklearn, python3-faiss), on the same machine; each
// reports its final objective next to its time. Then the vptq method itself on one generated
// 1536x8960 matrix, next to rtn at similar bits.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runJob } from '../lib/jobs';
import type { Dtype } from '../lib/io/dtypes';
import { parseSpec } from '../lib/methods/registry';
import { INIT_PER_CENTROID } from '../lib/methods/vptq';
import { toF32 } from '../lib/methods/f32';
import { chunkElements, type TensorFacts } from '../lib/methods/method';
import { addSums, emptySums, metricsFromSums } from '../lib/metrics';
import { native } from '../lib/native';
import { Rng, weightMatrix } from '../lib/random';
import type { BenchRow } from './convert.bench';

const V = 8, K = 4096, SAMPLE = 1 << 20, ASSIGN = 1146880, ITERATIONS = 10;

// Each peer prints one JSON line: { train, assign } in seconds (wall clock, inside Python) and the
// objective (sum of squared distances) of its last training assignment.
const PEERS: Record<string, string> = {
  'scikit-learn 1.2 (KMeans, lloyd, random init)': `
import json, sys, time, numpy as np
from sklearn.cluster import KMeans
x = np.fromfile(sys.argv[1], dtype=np.float32).reshape(-1, ${V}); y = np.fromfile(sys.argv[2], dtype=np.float32).reshape(-1, ${V})
t = time.time(); km = KMeans(n_clusters=${K}, init='random', n_init=1, max_iter=${ITERATIONS}, tol=0, algorithm='lloyd', random_state=0).fit(x); a = time.time()
km.predict(y); b = time.time()
print(json.dumps({'train': a - t, 'assign': b - a, 'objective': float(km.inertia_)}))`,
  'faiss 1.7.3 (Kmeans, CPU)': `
import json, sys, time, numpy as np, faiss
x = np.fromfile(sys.argv[1], dtype=np.float32).reshape(-1, ${V}); y = np.fromfile(sys.argv[2], dtype=np.float32).reshape(-1, ${V})
t = time.time(); km = faiss.Kmeans(${V}, ${K}, niter=${ITERATIONS}, seed=1, max_points_per_centroid=256); km.train(x); a = time.time()
km.index.search(y, 1); b = time.time()
print(json.dumps({'train': a - t, 'assign': b - a, 'objective': float(km.obj[-1])}))`,
};

/** A Python 3 with numpy; Debian's modules live under /usr/bin/python3. */
const PYTHON = ['/usr/bin/python3', 'python3'].find((p) => spawnSync(p, ['-c', 'import numpy'], { stdio: 'ignore' }).status === 0);

export async function kmeansBench(threads: number): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const r = new Rng(21);
  const sample = Float32Array.from({ length: SAMPLE * V }, () => r.normal() * 0.02);
  const vectors = Float32Array.from({ length: ASSIGN * V }, () => r.normal() * 0.02);
  const peak = native.fmaPeak(threads, 1);

  let t = process.hrtime.bigint();
  const { centroids, objective } = await runJob((p) =>
    native.kmeansTrainAsync(sample, V, K, null, { iterations: ITERATIONS, tolerance: 0, initSample: INIT_PER_CENTROID * K, threads }, p),
  );
  const train = Number(process.hrtime.bigint() - t) / 1e9;
  const labels = new Uint32Array(ASSIGN);
  t = process.hrtime.bigint();
  await runJob((p) => native.kmeansAssignAsync(vectors, V, centroids, labels, { threads }, p));
  const assign = Number(process.hrtime.bigint() - t) / 1e9;
  const gflops = (2 * ASSIGN * K * V) / assign / 1e9;
  const ours = train + assign;
  rows.push(
    {
      name: `k-means ${SAMPLE} x d${V} -> k ${K}, ${ITERATIONS} iterations (k-means++ init on ${INIT_PER_CENTROID * K}), objective ${objective.at(-1)!.toFixed(2)}, ${threads} threads`,
      throughput: train,
      unit: 's',
      pctOfLimit: NaN,
      limit: '-',
    },
    { name: `assignment of ${ASSIGN} vectors, ${threads} threads`, throughput: gflops, unit: 'GFLOP/s', pctOfLimit: (100 * gflops) / peak, limit: `FMA peak ${threads} threads` },
    { name: 'tensorzip end to end (train + assign)', throughput: ours, unit: 's', pctOfLimit: NaN, limit: '-' },
  );

  rows.push(...(await methodRows(threads)));
  if (!PYTHON) {
    for (const peer of Object.keys(PEERS)) rows.push({ name: `${peer}: skipped (no python3 with numpy)`, throughput: NaN, unit: '-', pctOfLimit: NaN, limit: 'peer' });
    return rows;
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tz-kmeans-'));
  try {
    const [xs, ys] = [path.join(dir, 'x.f32'), path.join(dir, 'y.f32')];
    writeFileSync(xs, new Uint8Array(sample.buffer));
    writeFileSync(ys, new Uint8Array(vectors.buffer));
    for (const [peer, script] of Object.entries(PEERS)) {
      const p = spawnSync(PYTHON, ['-c', script, xs, ys], { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: String(threads) } });
      if (p.status !== 0) {
        rows.push({ name: `${peer}: skipped (${/ModuleNotFoundError/.test(p.stderr) ? 'not installed' : 'failed'})`, throughput: NaN, unit: '-', pctOfLimit: NaN, limit: 'peer' });
        continue;
      }
      const { train: pt, assign: pa, objective: po } = JSON.parse(p.stdout.trim().split('\n').pop()!);
      rows.push({
        name: `${peer} end to end (train ${pt.toFixed(1)} s + assign ${pa.toFixed(1)} s, objective ${po.toFixed(2)}): tensorzip is ${((pt + pa) / ours).toFixed(1)}x faster`,
        throughput: pt + pa,
        unit: 's',
        pctOfLimit: NaN,
        limit: 'peer',
      });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

/** vptq presets and rtn at similar bits on one generated bf16 1536x8960 matrix, chunk by chunk as
 * the pipeline runs them: time, bits/weight before LZMA, relative error of the decoded bf16. */
async function methodRows(threads: number): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const shape = [8960, 1536];
  const bf16 = new Uint16Array(shape[0] * shape[1]);
  native.convert('f32_to_bf16', weightMatrix(shape[0], shape[1], 5), bf16);
  const raw = new Uint8Array(bf16.buffer);
  const dtype: Dtype = 'BF16';
  for (const spec of ['rtn:2:g32', 'vptq:2', 'rtn:3:g32', 'vptq:3', 'rtn:4:g32', 'vptq:4']) {
    const { method, params: unresolved } = parseSpec(spec);
    const params = method.resolve ? method.resolve(unresolved, shape) : unresolved;
    const facts: TensorFacts = { shape, absMean: 0, absMax: 0 };
    const ctx = { threads };
    const t0 = process.hrtime.bigint();
    if (method.prepare) {
      const read = async (first: number, count: number) => raw.subarray(2 * first, 2 * (first + count));
      facts.tensorStreams = await method.prepare(params, dtype, { facts, read }, ctx);
    }
    const sums = emptySums();
    const chunk = chunkElements(method.chunkUnit(params));
    for (let e = 0; e < bf16.length; e += chunk) {
      const part = raw.subarray(2 * e, 2 * Math.min(bf16.length, e + chunk));
      const { decoded } = await method.encode(params, dtype, part, ctx, facts);
      addSums(sums, native.errorSums(toF32(dtype, part), toF32(dtype, decoded!)));
    }
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const { relativeError } = metricsFromSums(sums);
    const bits = method.nominalBits(params, dtype, bf16.length);
    rows.push({
      name: `${method.format(params)}: 1536x8960 bf16, ${bits.toFixed(3)} bits/weight, rel. error ${relativeError.toFixed(4)}, ${threads} threads`,
      throughput: seconds,
      unit: 's',
      pctOfLimit: NaN,
      limit: '-',
    });
  }
  return rows;
}
