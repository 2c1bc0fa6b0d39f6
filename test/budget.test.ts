// compress --target-bpw / --target-size (lib/budget): the allocator against brute force, and whole
// runs on a generated model: the container never exceeds its budget, every matrix gets a
// candidate, a bigger budget never predicts more loss, an impossible target and the options that
// clash with a target are refused in words with nothing written.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { allocate, type BudgetItem } from '../lib/budget/allocate';
import { compressToBudget } from '../lib/budget/plan';
import { verify } from '../lib/pipeline/verify';
import { generateCheckpoint } from '../lib/tools/generate';
import { cliPath, root } from './helpers';

/** A small deterministic generator (xorshift32). */
function rng(seed: number) {
  let s = seed >>> 0 || 1;
  return () => ((s ^= s << 13), (s ^= s >>> 17), (s ^= s << 5), (s >>> 0) / 2 ** 32);
}

function bruteForce(items: BudgetItem[], budget: number): number {
  let best = Infinity;
  const walk = (i: number, bytes: number, loss: number) => {
    if (bytes > budget) return;
    if (i === items.length) return void (best = Math.min(best, loss));
    for (const o of items[i].options) walk(i + 1, bytes + o.bytes, loss + o.loss);
  };
  walk(0, 0, 0);
  return best;
}

describe('bit budget (--target-bpw)', function () {
  this.timeout(300_000);

  it('allocates within the budget, as well as brute force does up to one step of rounding per tensor', () => {
    const r = rng(7);
    for (let trial = 0; trial < 200; trial++) {
      const items: BudgetItem[] = Array.from({ length: 2 + Math.floor(r() * 4) }, (_, i) => ({
        name: `t${i}`,
        options: Array.from({ length: 1 + Math.floor(r() * 4) }, (_, k) => ({ spec: `s${k}`, bytes: 1 + Math.floor(r() * 1000), loss: r() * 10 })),
      }));
      const least = items.reduce((a, it) => a + Math.min(...it.options.map((o) => o.bytes)), 0);
      const most = items.reduce((a, it) => a + Math.max(...it.options.map((o) => o.bytes)), 0);
      const budget = least + Math.floor(r() * (most - least + 1));
      const steps = 64;
      const chosen = allocate(items, budget, steps)!;
      const bytes = chosen.reduce((a, k, i) => a + items[i].options[k].bytes, 0);
      const loss = chosen.reduce((a, k, i) => a + items[i].options[k].loss, 0);
      assert.ok(bytes <= budget, `trial ${trial}: ${bytes} bytes > budget ${budget}`);
      // Rounding up costs at most one step per tensor of the budget.
      const slack = Math.ceil(((budget - least) / steps) * items.length);
      assert.ok(loss <= bruteForce(items, budget - slack) + 1e-9, `trial ${trial}: loss ${loss} worse than the optimum with ${slack} bytes less`);
      assert.ok(loss >= bruteForce(items, budget) - 1e-9);
      assert.equal(allocate(items, least - 1, steps), undefined);
    }
  });

  describe('on a generated model', () => {
    let dir: string, model: string;
    before(async () => {
      dir = await mkdtemp(path.join(os.tmpdir(), 'tz-budget-'));
      model = (await generateCheckpoint(path.join(dir, 'm'), { hidden: 128, intermediate: 256, layers: 2, heads: 4, kvHeads: 2, vocab: 512, seed: 3 })).dir;
    });
    after(() => rm(dir, { recursive: true, force: true }));

    it('never exceeds the target; plans every matrix from the candidates; more bits predict less loss; the container verifies', async () => {
      const candidates = ['rtn:2:g32', 'rtn:3:rot', 'rtn:4', 'rtn:8'];
      let lastLoss = Infinity;
      for (const bpw of [2.6, 3.4, 5]) {
        const out = path.join(dir, `b${bpw}.tzip`);
        const r = await compressToBudget(model, out, { target: { bitsPerWeight: bpw }, candidates, threads: 2 });
        assert.ok(r.compress.bitsPerWeight <= bpw, `${r.compress.bitsPerWeight} bits/weight > target ${bpw}`);
        assert.equal(r.compress.containerBytes, (await stat(out)).size);
        assert.ok(r.compress.containerBytes <= r.targetBytes);
        assert.deepEqual(r.plan.map((p) => p.name).sort(), r.compress.tensors.filter((t) => t.shape.length === 2).map((t) => t.name).sort());
        const canonical = new Set(['rtn:2:g32', 'rtn:3:g32:rot', 'rtn:4:g32', 'rtn:8:g128']);
        for (const p of r.plan) assert.ok(canonical.has(p.spec), `${p.name}: ${p.spec}`);
        for (const t of r.compress.tensors) {
          const p = r.plan.find((x) => x.name === t.name);
          if (p) assert.equal(t.method, p.spec, t.name);
        }
        const loss = r.plan.reduce((a, p) => a + p.predictedLoss, 0);
        assert.ok(loss <= lastLoss, `${bpw} bits/weight predicts ${loss}, more than a smaller budget's ${lastLoss}`);
        lastLoss = loss;
        const v = await verify(out, model, { threads: 2 });
        assert.ok(v.ok, v.problems.join("; "));
      }
    });

    it('with calibration tokens, predicts and measures KL; the same run gives the same bytes', async () => {
      const ids = Array.from({ length: 4 * 64 }, (_, i) => (i * 37 + 11) % 512);
      const a = path.join(dir, 'cal-a.tzip'), b = path.join(dir, 'cal-b.tzip');
      const run = (out: string) =>
        compressToBudget(model, out, { target: { bitsPerWeight: 3.2 }, candidates: ['rtn:2:g32', 'rtn:4'], calibration: { ids }, calibrationCtx: 64, threads: 2 });
      const r = await run(a);
      assert.equal(r.sensitivity, 'calibrated');
      assert.ok(Number.isFinite(r.predictedKl) && r.predictedKl! > 0);
      assert.ok(r.measured!.klMean > 0 && r.measured!.scored > 0);
      for (const p of r.plan) assert.ok(p.sensitivity > 0 && Number.isFinite(p.sensitivity), `${p.name}: ${p.sensitivity}`);
      await run(b);
      assert.ok((await readFile(a)).equals(await readFile(b)));
    });

    it('refuses a target below what the candidates reach, in words, writing nothing and keeping an existing output even with force', async () => {
      const out = path.join(dir, 'low.tzip');
      await assert.rejects(compressToBudget(model, out, { target: { bitsPerWeight: 1 }, candidates: ['rtn:2:g32', 'rtn:4'] }), /below the smallest container the candidates make/);
      assert.deepEqual((await readdir(dir)).filter((f) => f.includes('low')), []);
      await writeFile(out, 'keep me');
      await assert.rejects(compressToBudget(model, out, { target: { bitsPerWeight: 1 }, candidates: ['rtn:2:g32', 'rtn:4'], force: true }), /below the smallest/);
      assert.equal(await readFile(out, 'utf8'), 'keep me');
      assert.deepEqual((await readdir(dir)).filter((f) => f.includes('low')), ['low.tzip']);
      await rm(out);
    });

    it('refuses a calibration text it cannot read, and an output that is one of its inputs, before any candidate runs', async () => {
      const stages: string[] = [];
      const onStage = (line: string) => stages.push(line);
      await assert.rejects(compressToBudget(model, path.join(dir, 'c.tzip'), { target: { bitsPerWeight: 4 }, calibration: { text: path.join(dir, 'none.txt') }, onStage }), /none\.txt/);
      const text = path.join(dir, 'calibration.txt');
      await writeFile(text, 'In the beginning God created the heaven and the earth. '.repeat(40));
      await assert.rejects(compressToBudget(model, text, { target: { bitsPerWeight: 4 }, calibration: { text }, force: true, onStage }), /is the input .*calibration\.txt/);
      assert.deepEqual(stages, []);
      assert.ok((await readFile(text, 'utf8')).startsWith('In the beginning'));
    });

    it('CLI: an existing output is kept without --force; a target takes no --method, --policy, --dry-run; a bad number is a usage error', async () => {
      const cli = (...args: string[]) => spawnSync(process.execPath, [cliPath, ...args], { cwd: root, encoding: 'utf8' });
      const existing = path.join(dir, 'existing.tzip');
      await writeFile(existing, 'keep me');
      let r = cli('compress', model, '-o', existing, '--target-bpw', '4');
      assert.notEqual(r.status, 0);
      assert.match(r.stderr, /exists|--force/);
      assert.equal((await stat(existing)).size, 7);
      for (const extra of [['-m', 'rtn:4'], ['--tensor-method', '*=rtn:4'], ['--dry-run']]) {
        r = cli('compress', model, '-o', path.join(dir, 'x.tzip'), '--target-bpw', '4', ...extra);
        assert.equal(r.status, 2, r.stderr);
        assert.match(r.stderr, /a target chooses the method of every weight matrix itself/);
      }
      r = cli('compress', model, '-o', path.join(dir, 'x.tzip'), '--target-bpw', 'four');
      assert.equal(r.status, 2);
      assert.match(r.stderr, /must be a positive number/);
      r = cli('compress', model, '-o', path.join(dir, 'x.tzip'), '--candidates', 'rtn:4');
      assert.equal(r.status, 2);
      assert.match(r.stderr, /go with --target-bpw/);
      r = cli('compress', model, '-o', path.join(dir, 'x.tzip'), '--target-size', '300KB', '--candidates', 'rtn:3,rtn:5', '--json');
      assert.equal(r.status, 0, r.stderr);
      const report = JSON.parse(r.stdout);
      assert.ok(report.compress.containerBytes <= 300_000);
    });
  });
});
