// k-means, the engine of vptq (binding/cpu/quant/kmeans.h): the assignment kernels (AVX2 equal to the
// scalar reference, label by label), and the Lloyd driver (planted clusters, a non-increasing
// objective, empty-cluster repair, weights, determinism).
import { strict as assert } from 'node:assert';
import { backendInfo } from '../lib/index';
import { runJob } from '../lib/jobs';
import { native } from '../lib/native';
import { Rng } from '../lib/core/random';
import { gaussian } from './helpers';

const avx2 = backendInfo().cpuFeatures.avx2 && backendInfo().cpuFeatures.fma;

const train = (points: Float32Array, v: number, k: number, weights: Float32Array | null = null, options = {}) =>
  runJob((p) => native.kmeansTrain({ points, v, k, weights: weights ?? undefined, ...options }, p));

/** The kernel row on a path ('auto': the table in use). */
const assign = (points: Float32Array, v: number, centroids: Float32Array, labels: Uint32Array, path?: 'scalar' | 'avx2') =>
  native.kernelRow('kmeans_assign', { points, v, centroids, labels }, path);

/** Labels by brute force in double (an independent statement of "nearest centroid"). */
function nearest(points: Float32Array, v: number, centroids: Float32Array): number[] {
  const k = centroids.length / v;
  return Array.from({ length: points.length / v }, (_, i) => {
    let best = Infinity, at = 0;
    for (let j = 0; j < k; j++) {
      let d = 0;
      for (let t = 0; t < v; t++) d += (points[i * v + t] - centroids[j * v + t]) ** 2;
      if (d < best) (best = d), (at = j);
    }
    return at;
  });
}

describe('k-means', function () {
  this.timeout(60000);

  (avx2 ? it : it.skip)('AVX2 assigns every point exactly as the scalar reference, for every dimension and odd counts', async () => {
    for (const v of [1, 2, 4, 6, 8, 12, 16])
      for (const k of [1, 7, 9, 300]) {
        const n = 1003;
        const points = gaussian(n * v, v * 100 + k);
        const centroids = gaussian(k * v, v * 1000 + k);
        const [a, b] = [new Uint32Array(n), new Uint32Array(n)];
        assign(points, v, centroids, a, 'scalar');
        assign(points, v, centroids, b, 'avx2');
        assert.deepEqual([...b], [...a], `v ${v} k ${k}`);
        // The label is the nearest centroid (ties aside, which random data does not have).
        if (v === 8 && k === 300) assert.deepEqual([...a], nearest(points, v, centroids));
      }
    // The threaded job gives the same labels.
    const points = gaussian(5000 * 8, 77), centroids = gaussian(40 * 8, 78);
    const [one, job] = [new Uint32Array(5000), new Uint32Array(5000)];
    assign(points, 8, centroids, one);
    await runJob((p) => native.kmeansAssign({ points, v: 8, centroids, labels: job, threads: 2 }, p));
    assert.deepEqual([...job], [...one]);
    // Ties go to the smaller index: two equal centroids.
    const labels = new Uint32Array(1);
    assign(Float32Array.of(1, 1), 2, Float32Array.of(5, 5, 0, 0, 0, 0), labels);
    assert.equal(labels[0], 1);
  });

  it('recovers planted clusters exactly, with a non-increasing objective', async () => {
    const v = 8, k = 32, per = 100;
    const centres = gaussian(k * v, 5, 10);
    const r = new Rng(6);
    const points = new Float32Array(k * per * v);
    const truth: number[] = [];
    for (let i = 0; i < k * per; i++) {
      const c = i % k;
      truth.push(c);
      for (let t = 0; t < v; t++) points[i * v + t] = centres[c * v + t] + r.normal() * 0.05;
    }
    const { centroids, objective } = await train(points, v, k, null, { iterations: 50, tolerance: 0 });
    for (let i = 1; i < objective.length; i++) assert.ok(objective[i] <= objective[i - 1] * (1 + 1e-9), `objective rose at iteration ${i}`);
    const labels = new Uint32Array(k * per);
    assign(points, v, centroids, labels);
    // Same partition as the planted one (centroid numbering aside).
    const map = new Map<number, number>();
    truth.forEach((t, i) => {
      if (!map.has(t)) map.set(t, labels[i]);
      assert.equal(labels[i], map.get(t), `point ${i}`);
    });
    assert.equal(new Set(map.values()).size, k);
  });

  it('re-seeds empty clusters deterministically', async () => {
    // 40 copies of one point and 4 distinct points, 8 centroids: some centroids coincide and empty.
    const v = 2;
    const points = Float32Array.from([...Array.from({ length: 40 }, () => [1, 1]).flat(), 10, 0, 0, 10, -10, 0, 0, -10]);
    const a = await train(points, v, 8, null, { iterations: 5, tolerance: 0 });
    const b = await train(points, v, 8, null, { iterations: 5, tolerance: 0 });
    assert.ok(a.repaired > 0, 'a cluster was empty and re-seeded');
    assert.deepEqual([...a.centroids], [...b.centroids]);
  });

  it('weights move the solution toward heavy points (k 1: the weighted mean)', async () => {
    const points = Float32Array.of(0, 0, 10, 0, 0, 10);
    const { centroids } = await train(points, 2, 1, Float32Array.of(1, 3, 0));
    assert.deepEqual([...centroids], [7.5, 0]);
    const even = await train(points, 2, 1, null);
    assert.deepEqual([...even.centroids].map((x) => Math.round(x * 1000) / 1000), [3.333, 3.333]);
  });

  it('is deterministic across thread counts, and trains on a subsample when asked', async () => {
    const v = 6, n = 20000;
    const points = gaussian(n * v, 9);
    const one = await train(points, v, 64, null, { threads: 1, iterations: 8, sample: 5000, seed: 3 });
    const two = await train(points, v, 64, null, { threads: 2, iterations: 8, sample: 5000, seed: 3 });
    assert.deepEqual([...one.centroids], [...two.centroids]);
    const other = await train(points, v, 64, null, { threads: 2, iterations: 8, sample: 5000, seed: 4 });
    assert.notDeepEqual([...one.centroids], [...other.centroids]);
  });

  it('the update step equals a straightforward reference: weighted means, objective, farthest points for empty clusters', () => {
    const v = 3, n = 500, k = 9;
    const r = new Rng(12);
    const points = gaussian(n * v, 13);
    const weights = Float32Array.from({ length: n }, () => 0.5 + r.uniform());
    // Clusters 4 and 7 get no point: they must take the two farthest points.
    const labels = Uint32Array.from({ length: n }, () => [0, 1, 2, 3, 5, 6, 8][Math.floor(r.uniform() * 7)]);
    const before = gaussian(k * v, 14);
    const far = Array.from({ length: n }, (_, i) => weights[i] * Array.from({ length: v }, (_, d) => (points[i * v + d] - before[labels[i] * v + d]) ** 2).reduce((a, b) => a + b, 0));
    const expected = Float32Array.from(before);
    for (let j = 0; j < k; j++) {
      const members = [...labels.keys()].filter((i) => labels[i] === j);
      const mass = members.reduce((a, i) => a + weights[i], 0);
      for (let d = 0; d < v; d++) if (mass > 0) expected[j * v + d] = members.reduce((a, i) => a + weights[i] * points[i * v + d], 0) / mass;
    }
    const farthest = [...far.keys()].sort((a, b) => far[b] - far[a] || a - b);
    for (const [t, j] of [4, 7].entries()) for (let d = 0; d < v; d++) expected[j * v + d] = points[farthest[t] * v + d];
    const centroids = Float32Array.from(before);
    const { objective, repaired } = native.kmeansUpdate({ points, v, labels, centroids, weights });
    assert.equal(repaired, 2);
    assert.ok(Math.abs(objective - far.reduce((a, b) => a + b, 0)) < 1e-9 * objective);
    for (let i = 0; i < centroids.length; i++) assert.ok(Math.abs(centroids[i] - expected[i]) <= 1e-6 * Math.max(1, Math.abs(expected[i])), `centroid value ${i}: ${centroids[i]} vs ${expected[i]}`);
    assert.throws(() => native.kmeansUpdate({ points, v, labels: Uint32Array.from(labels, () => k), centroids }), /label 9 of point 0 is not below k = 9/);
    assert.throws(() => native.kmeansUpdate({ points, v, labels: labels.subarray(1), centroids }), /one value per point/);
  });

  it('validates its arguments', async () => {
    assert.throws(() => native.kmeansTrain({ points: new Float32Array(7), v: 2, k: 1 }), /whole number of vectors of dimension 2/);
    assert.throws(() => native.kmeansTrain({ points: new Float32Array(8), v: 2, k: 1, weights: new Float32Array(3) }), /one value per point \(4\)/);
    assert.throws(() => native.kmeansTrain({ points: new Float32Array(8), v: 2, k: 1, weights: Float32Array.of(1, 1, -1, 1) }), /finite and >= 0/);
    assert.throws(() => native.kmeansTrain({ points: new Float32Array(8), v: 17, k: 1 }), /v must be an integer/);
    await assert.rejects(train(new Float32Array(8), 2, 5), /4 points cannot make 5 centroids/);
    assert.throws(() => native.kmeansAssign({ points: new Float32Array(8), v: 2, centroids: new Float32Array(3), labels: new Uint32Array(4) }), /centroids must hold/);
    assert.throws(() => native.kmeansAssign({ points: new Float32Array(8), v: 2, centroids: new Float32Array(4), labels: new Uint32Array(3) }), /labels must hold one value per point/);
  });
});
