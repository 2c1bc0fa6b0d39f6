// The trained model that ships with tensorzip (models/kjv-llama, scripts/train-reference-model.py):
// small enough to ship, a Llama with grouped-query attention, its license noted, and tensorzip's
// forward pass reproduces the held-out perplexity its training script measured with torch. On
// it, what the quality table (docs/METHODS.md) claims holds: the rotation lowers rtn's KL at 2
// bits, and a bit budget planned on the calibration text beats uniform rtn at the same size on
// the text it was not planned on.
import { strict as assert } from 'node:assert';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { DEFAULT_CANDIDATES } from '../lib/budget/candidates';
import { compressToBudget } from '../lib/budget/plan';
import { evaluate } from '../lib/eval/perplexity';
import { compress } from '../lib/pipeline/compress';
import { formatQuality, runQuality } from '../lib/tools/bench/quality';
import { REFERENCE_CALIBRATION_TEXT, REFERENCE_CTX, REFERENCE_EVAL_TEXT, REFERENCE_MODEL } from '../lib/tools/reference-model';

describe('the shipped reference model (models/kjv-llama)', function () {
  this.timeout(300_000);
  let dir: string;
  before(async () => (dir = await mkdtemp(path.join(os.tmpdir(), 'tz-reference-'))));
  after(() => rm(dir, { recursive: true, force: true }));

  it('is a GQA Llama under 4 MB with its tokenizer, texts and license', async () => {
    const config = JSON.parse(await readFile(path.join(REFERENCE_MODEL, 'config.json'), 'utf8'));
    assert.equal(config.model_type, 'llama');
    assert.ok(config.num_key_value_heads < config.num_attention_heads);
    assert.ok((await stat(path.join(REFERENCE_MODEL, 'model.safetensors'))).size <= 4 * 2 ** 20);
    for (const f of ['tokenizer.json', 'eval.txt', 'calibration.txt']) assert.ok((await stat(path.join(REFERENCE_MODEL, f))).size > 1000, f);
    assert.match(await readFile(path.join(REFERENCE_MODEL, 'README.md'), 'utf8'), /## License[\s\S]*King James Version[\s\S]*MIT/);
  });

  it("eval reproduces the held-out perplexity the training script measured", async () => {
    const training = JSON.parse(await readFile(path.join(REFERENCE_MODEL, 'training.json'), 'utf8'));
    assert.equal(training.eval_ctx, REFERENCE_CTX);
    const r = await evaluate(REFERENCE_MODEL, { text: REFERENCE_EVAL_TEXT }, { ctx: REFERENCE_CTX, threads: 2 });
    assert.equal(r.scored, training.eval_scored);
    assert.ok(Math.abs(r.perplexity / training.eval_perplexity - 1) < 2e-4, `tensorzip ${r.perplexity}, torch ${training.eval_perplexity}`);
  });

  it('rtn:2:g32:rot has lower KL than rtn:2:g32; a budget at rtn:4\'s size has at least 35 % less KL than rtn:4 on text it was not planned on', async () => {
    const kl = async (file: string) => (await evaluate(file, { text: REFERENCE_EVAL_TEXT }, { ctx: REFERENCE_CTX, against: REFERENCE_MODEL, threads: 2 })).kl!.mean;
    const run = (spec: string) => compress(REFERENCE_MODEL, path.join(dir, `${spec}.tzip`), { method: spec, threads: 2 });
    await run('rtn:2:g32');
    await run('rtn:2:g32:rot');
    const rtn4 = await run('rtn:4');
    const [k2, k2rot, k4] = [await kl(path.join(dir, 'rtn:2:g32.tzip')), await kl(path.join(dir, 'rtn:2:g32:rot.tzip')), await kl(path.join(dir, 'rtn:4.tzip'))];
    assert.ok(k2rot < k2, `rtn:2:g32:rot ${k2rot} vs rtn:2:g32 ${k2}`);
    // The 12 default candidates from 3 bits up (those a plan at this size can use): fewer runs.
    const candidates = DEFAULT_CANDIDATES.filter((c) => !c.startsWith('rtn:2'));
    const b = await compressToBudget(REFERENCE_MODEL, path.join(dir, 'budget.tzip'), { target: { bytes: rtn4.containerBytes }, candidates, calibration: { text: REFERENCE_CALIBRATION_TEXT }, threads: 2 });
    assert.ok(b.compress.containerBytes <= rtn4.containerBytes);
    const kb = await kl(path.join(dir, 'budget.tzip'));
    assert.ok(kb < 0.65 * k4, `budget ${kb} vs rtn:4 ${k4}`);
  });

  it('bench quality: every row measured against the original, each method next to the best rtn with no more bits, a budget next to its rtn', async () => {
    const q = await runQuality({ ladder: ['rtn:2:g32', 'rtn:4:g32'], methods: ['rtn:3:rot', 'rtn:4 +imatrix'], budgets: [{ versus: 'rtn:2:g32', sensitivity: 'data-free' }], threads: 2 });
    assert.deepEqual(q.rows.map((r) => r.label), ['rtn:2:g32', 'rtn:4:g32', 'rtn:3:rot', 'rtn:4 +imatrix', "budget at rtn:2:g32's size, data-free"]);
    const [r2, r4, r3rot, r4imx, budget] = q.rows;
    assert.equal(budget.rtn!.label, 'rtn:2:g32');
    assert.ok(budget.containerBytes <= r2.containerBytes && budget.klMean < r2.klMean, `${budget.klMean} vs ${r2.klMean}`);
    assert.ok(budget.plan && budget.predictedKl === undefined);
    assert.ok(r2.klMean > r4.klMean && r4.klMean > 0);
    assert.equal(r3rot.rtn!.label, 'rtn:2:g32'); // rtn:3:rot has fewer bits than rtn:4:g32
    assert.equal(r4imx.rtn!.label, r4.bitsPerWeight <= r4imx.bitsPerWeight ? 'rtn:4:g32' : 'rtn:2:g32');
    assert.ok(Math.abs(q.originalPerplexity / JSON.parse(await readFile(path.join(REFERENCE_MODEL, 'training.json'), 'utf8')).eval_perplexity - 1) < 2e-4);
    assert.match(formatQuality(q), /rtn:3:rot +\d\.\d{3} +\d\.\d{4}/);
    await assert.rejects(runQuality({ methods: ['lossless'], budgets: [] }), /not a lossy method spec/);
  });
});
