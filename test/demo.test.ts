// The demo's comparison table on the shipped trained model and the run summaries behind it
// (lib/tools/runs.ts): every figure comes from a compress report, and an extrapolated row lands
// close to the real whole-model run.
import { strict as assert } from 'node:assert';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { compress, type CompressReport } from '../lib/pipeline/compress';
import { formatDemo, runDemo } from '../lib/tools/demo';
import { generateCheckpoint } from '../lib/tools/generate';
import { extrapolate, SUBSET, summarize } from '../lib/tools/runs';
import { writeSubset } from '../lib/tools/subset';

const TINY = { hidden: 128, intermediate: 352, layers: 2, heads: 4, kvHeads: 2, vocab: 512 };

describe('demo and run summaries', function () {
  this.timeout(120_000);
  let dir: string;
  let model: string;
  const runs = new Map<string, CompressReport>();
  const run = async (input: string, spec: string, name = spec) => {
    // LZMA off: stored sizes are then the methods' own, which the extrapolation scales exactly.
    const r = await compress(input, path.join(dir, `${name}.tzip`), { method: spec, threads: 2, lzma: 'off' });
    runs.set(name, r);
    return r;
  };

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'tz-demo-test-'));
    model = (await generateCheckpoint(path.join(dir, 'model'), { ...TINY, seed: 3 })).dir;
    for (const spec of ['lossless', 'rtn:4', 'rtn:3']) await run(model, spec);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('summaries take the container totals and average over the tensors stored with the method', () => {
    const r = runs.get('rtn:3')!;
    const s = summarize('rtn:3', r);
    assert.equal(s.containerBytes, r.containerBytes);
    assert.equal(s.ratio, r.ratio);
    // 2 layers x 7 matrices; embeddings and lm_head (rtn:8) and the norms (lossless) are not rtn:3's.
    assert.equal(s.methodTensors, 14);
    const mine = r.tensors.filter((t) => t.method.startsWith('rtn:3'));
    assert.equal(s.methodTensors, mine.length);
    const mean = mine.reduce((a, t) => a + t.metrics!.relativeError, 0) / mine.length;
    assert.ok(Math.abs(s.meanRelativeError - mean) < 1e-12);
    const lossless = summarize('lossless', runs.get('lossless')!);
    assert.equal(lossless.meanRelativeError, 0);
    assert.equal(lossless.meanSnrDb, Infinity);
    assert.equal(lossless.methodTensors, runs.get('lossless')!.tensors.length);
  });

  it('a row extrapolated from a subset lands close to the real whole-model run', async () => {
    const sub = path.join(dir, 'subset.safetensors');
    const { names, weights } = await writeSubset(model, (n) => SUBSET.pattern.test(n), sub);
    assert.deepEqual(names, ['model.layers.0.self_attn.k_proj.weight', 'model.layers.0.self_attn.v_proj.weight']);
    assert.equal(weights, 2 * 64 * 128);
    const est = extrapolate('rtn:3', await run(sub, 'rtn:3', 'subset'), { spec: 'rtn:4', report: runs.get('rtn:4')! });
    const real = summarize('rtn:3', runs.get('rtn:3')!);
    assert.ok(est.extrapolated);
    assert.equal(est.methodTensors, real.methodTensors);
    assert.equal(est.methodWeights, real.methodWeights);
    assert.ok(Math.abs(est.containerBytes / real.containerBytes - 1) < 0.002, `${est.containerBytes} vs ${real.containerBytes}`);
    assert.ok(Math.abs(est.meanRelativeError / real.meanRelativeError - 1) < 0.05, `${est.meanRelativeError} vs ${real.meanRelativeError}`);
    // The reference must have stored every other tensor as the extrapolated method would.
    assert.throws(() => extrapolate('rtn:3', runs.get('subset')!, { spec: 'lossless', report: runs.get('lossless')! }), /lossless run stored model.embed_tokens.weight as lossless, but rtn:3 would store it as rtn:8/);
  });

  it('the demo runs every method asked for on the shipped model, extrapolates SeedLM, prints the table and cleans up', async () => {
    const before = (await readdir(os.tmpdir())).filter((f) => f.startsWith('tensorzip-demo-'));
    const steps: string[] = [];
    // seedlm's approximate search: the exhaustive one takes minutes on the scalar path.
    const d = await runDemo({ methods: ['lossless', 'rtn:4', 'seedlm:4:fast', 'vptq:4'], threads: 2, onStep: (_i, _n, s) => steps.push(s) });
    assert.deepEqual(steps, ['lossless', 'rtn:4', 'seedlm:4:fast', 'vptq:4']);
    assert.deepEqual(d.rows.map((r) => r.spec), steps);
    const [lossless, rtn4, seedlm4, vptq4] = d.rows;
    assert.equal(lossless.meanRelativeError, 0);
    assert.ok(Math.abs(lossless.ratio - lossless.originalBytes / lossless.containerBytes) < 1e-12);
    assert.ok(rtn4.meanRelativeError > 0.05 && rtn4.meanRelativeError < 0.2, `${rtn4.meanRelativeError}`);
    assert.ok(!rtn4.extrapolated && !vptq4.extrapolated);
    assert.ok(seedlm4.extrapolated);
    assert.equal(seedlm4.extrapolated.subsetWeights, 2 * 128 * 256); // k_proj and v_proj: 2 kv heads × 64, hidden 256
    // 4 bits/weight before the entropy stage, which saves some on trained weights.
    assert.ok(seedlm4.methodBitsPerWeight > 3.5 && seedlm4.methodBitsPerWeight < 4.1, `${seedlm4.methodBitsPerWeight}`);
    // KL against the original on the held-out text: 0 for lossless, positive for lossy whole-model
    // containers (a trained model loses more with vptq:4's fewer codes), none for extrapolated rows.
    assert.equal(lossless.quality!.klMean, 0);
    assert.equal(lossless.quality!.top1Agreement, 1);
    assert.ok(rtn4.quality!.klMean > 0 && rtn4.quality!.klMean < vptq4.quality!.klMean, `${rtn4.quality!.klMean} vs ${vptq4.quality!.klMean}`);
    assert.ok(rtn4.quality!.top1Agreement > 0.5);
    assert.equal(rtn4.quality!.scored, 25 * 127); // Ruth: 6,614 tokens, 25 chunks of 256, the second half of each scored
    assert.equal(seedlm4.quality, undefined);
    const text = formatDemo(d);
    assert.match(text, /^lossless .* 0\.0000 +100\.0 %/m);
    assert.match(text, /models\/kjv-llama: 1,967,872 parameters/);
    assert.match(text, /KL and top-1: mean KL divergence/);
    assert.match(text, /seedlm:4:fast \*\s+≈/);
    assert.match(text, /extrapolated/);
    const after = (await readdir(os.tmpdir())).filter((f) => f.startsWith('tensorzip-demo-'));
    assert.deepEqual(after, before);
  });
});
