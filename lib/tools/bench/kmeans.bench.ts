// k-means (the engine of vptq) on the k-means problem of docs/BENCHMARKS.md: 1,048,576 points of
// d 8 into k 4096 for 10 iterations, then the assignment of 1,146,880 vectors, and the update step
// alone. Training and assignment are judged against the FMA peak measured in the same run (2
// operations per FMA, one FMA per point, centroid and dimension); the update against copy. Debian's scikit-learn and faiss run on the same data when their
// Python modules are installed (python3-sklearn, python3-faiss), on the same machine; each
// reports its final objective next to its time. Then the vptq method itself on one generated
// 1536x8960 matrix, next to rtn at similar bits.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runJob } from '../../jobs';
import type { Dtype } from '../../io/dtypes';
import { parseSpec } from '../../methods/registry';
import { INIT_PER_CENTROID } from '../../methods/vptq';
import { toF32 } from '../../methods/f32';
import { chunkElements, type TensorFacts } from '../../methods/method';
import { addSums, emptySums, metricsFromSums } from '../../pipeline/metrics';
import { native } from '../../native';
import { Rng, weightMatrix } from '../../core/random';
import { runPython, skippedRow } from './peers';
import { measure } from './measure';
import { bandwidthRow, figureRow, flopsRow, infoRow, threadWord, type BenchContext, type BenchRow } from './row';

export const V = 8, K = 4096, SAMPLE = 1 << 20, ASSIGN = 1146880, ITERATIONS = 10;

// Each peer (its name's first word is its row id) prints one JSON line: { train, assign } in seconds (wall clock, inside Python) and the
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

export async function kmeansBench({ threads, limits, peers }: BenchContext): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const r = new Rng(21);
  const sample = Float32Array.from({ length: SAMPLE * V }, () => r.normal() * 0.02);
  const vectors = Float32Array.from({ length: ASSIGN * V }, () => r.normal() * 0.02);

  let t = process.hrtime.bigint();
  const { centroids, objective } = await runJob((p) =>
    native.kmeansTrain({ points: sample, v: V, k: K, iterations: ITERATIONS, tolerance: 0, initSample: INIT_PER_CENTROID * K, threads }, p),
  );
  const train = Number(process.hrtime.bigint() - t) / 1e9;
  const labels = new Uint32Array(ASSIGN);
  t = process.hrtime.bigint();
  await runJob((p) => native.kmeansAssign({ points: vectors, v: V, centroids, labels, threads }, p));
  const assign = Number(process.hrtime.bigint() - t) / 1e9;
  const ours = train + assign;
  rows.push(
    // Training counted at its assignments' arithmetic: the update and the k-means++ start are the rest.
    flopsRow(
      'kmeans.train',
      `k-means train ${SAMPLE} x d${V} -> k ${K}: k-means++ on ${INIT_PER_CENTROID * K}, ${ITERATIONS} Lloyd iterations (assign + update) in ${train.toFixed(2)} s, ${threadWord(threads)}; effective`,
      (ITERATIONS * 2 * SAMPLE * K * V) / train / 1e9,
      limits,
      threads,
    ),
    flopsRow('kmeans.assign', `k-means assignment of ${ASSIGN} vectors in ${assign.toFixed(2)} s, ${threadWord(threads)}`, (2 * ASSIGN * K * V) / assign / 1e9, limits, threads),
    await updateRow(sample, centroids, threads, limits),
    figureRow('kmeans.objective', `k-means final objective (sum of squared distances)`, objective.at(-1)!, '', 'lower'),
    infoRow('kmeans.end-to-end', 'tensorzip k-means end to end (train + assign)', ours, 's'),
  );

  rows.push(...(await methodRows(threads)));
  if (!peers) {
    for (const peer of Object.keys(PEERS)) rows.push(skippedRow(`kmeans.peer.${peer.split(' ')[0]}`, peer, '--no-peers'));
    return rows;
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tz-kmeans-'));
  try {
    const [xs, ys] = [path.join(dir, 'x.f32'), path.join(dir, 'y.f32')];
    writeFileSync(xs, new Uint8Array(sample.buffer));
    writeFileSync(ys, new Uint8Array(vectors.buffer));
    for (const [peer, script] of Object.entries(PEERS)) {
      const id = `kmeans.peer.${peer.split(' ')[0]}`;
      const p = runPython(script, [xs, ys], threads);
      if (!p.ok) {
        rows.push(skippedRow(id, peer, p.reason));
        continue;
      }
      const { train: pt, assign: pa, objective: po } = p.result;
      rows.push(
        infoRow(id, `${peer} end to end (train ${pt.toFixed(1)} s + assign ${pa.toFixed(1)} s, objective ${po.toFixed(2)}): tensorzip is ${((pt + pa) / ours).toFixed(1)}x faster`, pt + pa, 's', 'peer'),
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

/** The update step alone (serial, in point order, in double): the sample's points and labels read
 * once, as % of 1-thread copy bandwidth. */
async function updateRow(sample: Float32Array, centroids: Float32Array, threads: number, limits: BenchContext['limits']): Promise<BenchRow> {
  const labels = new Uint32Array(SAMPLE);
  await runJob((p) => native.kmeansAssign({ points: sample, v: V, centroids, labels, threads }, p));
  const work = new Float32Array(centroids.length);
  const s = await measure('kmeans update', () => {
    work.set(centroids);
    native.kmeansUpdate({ points: sample, v: V, labels, centroids: work });
  });
  return bandwidthRow('kmeans.update', `k-means update of ${SAMPLE} points (d${V}, k ${K}) in ${(1000 * s).toFixed(1)} ms: read once, serial`, (SAMPLE * (4 * V + 4)) / s, limits, 1);
}

/** vptq presets and rtn at similar bits on one generated bf16 1536x8960 matrix, chunk by chunk as
 * the pipeline runs them: time, bits/weight before LZMA, relative error of the decoded bf16. */
async function methodRows(threads: number): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const shape = [8960, 1536];
  const bf16 = new Uint16Array(shape[0] * shape[1]);
  native.kernelRow('f32_to_bf16', { src: weightMatrix(shape[0], shape[1], 5), dst: bf16 });
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
      const { decoded } = await method.encode(params, dtype, part, ctx, { ...facts, first: e });
      addSums(sums, native.tensorStats(toF32(dtype, part), toF32(dtype, decoded!)));
    }
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const { relativeError } = metricsFromSums(sums);
    const bits = method.nominalBits(params, dtype, bf16.length);
    rows.push(
      figureRow(`method.${spec}.error`, `${method.format(params)}: 1536x8960 bf16, ${bits.toFixed(3)} bits/weight: relative error`, relativeError, 'rel.err', 'lower'),
      infoRow(`method.${spec}.time`, `${method.format(params)}: 1536x8960 bf16, ${threadWord(threads)}: time`, seconds, 's'),
    );
  }
  return rows;
}
