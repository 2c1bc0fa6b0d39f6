// `tensorzip bench kernels` and `bench e2e` as a CI job runs them: --out, --compare against a
// made-up baseline, the exit codes (0 ok, 4 regressed, 1 error, 2 usage), which rows are expected
// and which gate. The kernel runs use --smoke (each task timed once) on the convert suite, so
// each takes seconds; no test asserts a timing, only what the comparison does with the figures.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Comparison, RecordedRow } from '../lib/tools/bench/compare';
import { GPU_SUITES } from '../lib/tools/bench/gpu.bench';
import { generateCheckpoint } from '../lib/tools/generate';
import { CUDA_SUITES } from '../lib/tools/presets';
import { addSnapshot } from './hf-fixture';
import { cliPath, root } from './helpers';

const cli = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, [cliPath, ...args], { cwd: root, encoding: 'utf8', env: { ...process.env, ...env } });

type Judged = { rows: RecordedRow[]; backend: { cpu: string }; comparison?: { rows: Comparison[]; regressed: string[] } };
const readJson = <T>(file: string): T => JSON.parse(readFileSync(file, 'utf8')) as T;

/** A copy of `file` (a bench JSON) with each judged row's score passed through `score`. */
function baselineFrom(file: string, to: string, score: (row: RecordedRow) => number, extra: object[] = []): string {
  const f = readJson<{ rows: RecordedRow[] }>(file);
  f.rows = f.rows.map((r) => (r.judge === 'info' || r.score === null ? r : { ...r, score: score(r) }));
  f.rows.push(...(extra as RecordedRow[]));
  writeFileSync(to, JSON.stringify(f));
  return to;
}

/** A hash of every file under `dir` (symlinks as their targets' names), to see that nothing changed. */
function fingerprint(dir: string): string {
  const h = createHash('sha256');
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(d, e.name);
      h.update(path.relative(dir, p));
      if (e.isDirectory()) walk(p);
      else h.update(readFileSync(p));
    }
  };
  walk(dir);
  return h.digest('hex');
}

describe('bench kernels: --out, --compare and exit codes', function () {
  it("the CLI's list of suites with GPU rows (kept apart so that --help loads no bench code) is the GPU suites'", () => {
    assert.deepEqual([...CUDA_SUITES].sort(), Object.keys(GPU_SUITES).sort());
  });

  this.timeout(120_000);
  let tmp: string, now: string, cpu: string;
  const at = (name: string) => path.join(tmp, name);
  const kernels = (...args: string[]) => cli(['bench', 'kernels', '--only', 'convert', '--runs', '1', '--no-peers', '--smoke', ...args]);
  let scalarId: string, avx2Id: string;

  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'tz-bench-cli-'));
    now = at('now.json');
    const r = kernels('--out', now);
    assert.equal(r.status, 0, r.stderr);
    const f = readJson<Judged>(now);
    cpu = f.backend.cpu;
    assert.ok(f.rows.every((row) => row.suite === 'limits' || row.suite === 'convert'), 'every row says its suite');
    scalarId = 'convert.f32_to_bf16.scalar.1t';
    avx2Id = cpu === 'avx2' ? 'convert.f32_to_bf16.avx2.1t' : 'convert.f32_to_bf16.job.nt';
  });

  after(async () => {
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('exit 4 when a row falls below its baseline; rows of suites outside --only are not listed; the scalar fallback is printed, not gated', () => {
    // Rows of another suite, one as rows now carry it, one from a file written before they did.
    const foreign = [
      { id: 'rtn.4.g32.encode.1t', name: 'rtn', value: 1, unit: 'GB/s', pctOfLimit: 50, limit: 'copy 1 thread', score: 50, judge: 'higher', suite: 'rtn', spread: 0 },
      { id: 'lzma.auto.ratio', name: 'lzma', value: 1.5, unit: 'x', pctOfLimit: null, limit: '-', score: 1.5, judge: 'higher', spread: 0 },
    ];
    const high = baselineFrom(now, at('high.json'), (r) => (r.id === avx2Id || r.id === scalarId ? 100 * r.score : r.score / 100), foreign);
    const r = kernels('--out', at('a.json'), '--compare', high, '--json');
    assert.equal(r.status, 4, r.stderr);
    const { comparison } = JSON.parse(r.stdout) as Judged;
    assert.ok(comparison);
    assert.deepEqual(comparison.rows.filter((c) => !c.id.startsWith('convert.')), [], 'only the convert rows are compared');
    assert.ok(!comparison.rows.some((c) => c.verdict === 'not run'));
    const scalar = comparison.rows.find((c) => c.id === scalarId)!;
    assert.equal(scalar.verdict, 'regressed');
    if (cpu === 'avx2') {
      // AVX2 in use: the scalar row times a fallback, and only the AVX2 row fails the run.
      assert.equal(scalar.gated, false);
      assert.deepEqual(comparison.regressed, [avx2Id]);
    } else {
      // No AVX2 (or TENSORZIP_CPU=scalar): the scalar kernels are the path in use, and gate.
      assert.equal(scalar.gated, true);
      assert.deepEqual(comparison.regressed.sort(), [avx2Id, scalarId].sort());
    }
    const text = kernels('--out', at('a.json'), '--compare', high);
    assert.equal(text.status, 4);
    assert.match(text.stdout, new RegExp(`^1 row\\(s\\) regressed: ${avx2Id.replace(/\./g, '\\.')}$|^2 row\\(s\\) regressed`, 'm'));
  });

  it('exit 0 when every row is above its baseline; the scalar row gates with --gate-scalar, and always where it is the path in use', () => {
    const low = baselineFrom(now, at('low.json'), (r) => r.score / 100);
    const ok = kernels('--out', at('b.json'), '--compare', low);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /^no row regressed$/m);
    assert.ok(existsSync(at('b.json')));

    const scalarHigh = baselineFrom(now, at('scalar.json'), (r) => (r.id === scalarId ? 100 * r.score : r.score / 100));
    const gated = kernels('--out', at('c.json'), '--compare', scalarHigh, '--gate-scalar', '--json');
    assert.equal(gated.status, 4, gated.stderr);
    assert.deepEqual((JSON.parse(gated.stdout) as Judged).comparison!.regressed, [scalarId]);
    // Forced onto the scalar kernels, the scalar row is the path in use: gated without the option.
    const forced = cli(['bench', 'kernels', '--only', 'convert', '--no-peers', '--smoke', '--out', at('d.json'), '--compare', scalarHigh], { TENSORZIP_CPU: 'scalar' });
    assert.equal(forced.status, 4, forced.stderr);
    assert.match(forced.stdout, new RegExp(`^1 row\\(s\\) regressed: ${scalarId.replace(/\./g, '\\.')}$`, 'm'));
  });

  it('a malformed baseline (exit 1), an unknown suite or a bad option (exit 2) fail before any benchmark runs', async () => {
    const cases: Array<[string, string[], number, RegExp]> = [];
    await writeFile(at('garbage.json'), '{"rows": [');
    cases.push(['not JSON', ['--compare', at('garbage.json')], 1, /garbage\.json: not a bench JSON file/]);
    await writeFile(at('norows.json'), '{"machine": "m"}');
    cases.push(['no rows', ['--compare', at('norows.json')], 1, /norows\.json: not a bench JSON file: no rows/]);
    await writeFile(at('badrow.json'), JSON.stringify({ rows: [{ id: 'convert.x', judge: 'higher', score: 'fast' }] }));
    cases.push(['a bad row', ['--compare', at('badrow.json')], 1, /row convert\.x: score must be a number, got "fast"/]);
    await writeFile(at('e2e.json'), JSON.stringify({ kind: 'e2e', rows: [] }));
    cases.push(['an e2e file', ['--compare', at('e2e.json')], 1, /was written by bench e2e: --compare of bench kernels needs a file written by bench kernels --out/]);
    cases.push(['a missing file', ['--compare', at('missing.json')], 1, /missing\.json: no such file/]);
    cases.push(['an unknown suite', ['--only', 'convert,frob'], 2, /unknown suite 'frob' \(suites: convert, rtn/]);
    cases.push(['a bad --runs', ['--runs', '0'], 2, /--runs <n>.*must be a positive integer/]);
    cases.push(['an unknown option', ['--fast'], 2, /unknown option '--fast'/]);
    for (const [what, args, code, message] of cases) {
      const out = at(`never-${code}.json`);
      const r = cli(['bench', 'kernels', '--no-peers', '--out', out, ...args]);
      assert.equal(r.status, code, `${what}: ${r.stderr}`);
      assert.match(r.stderr, message, what);
      assert.doesNotMatch(r.stderr, /running /, `${what}: no suite ran`);
      assert.ok(!existsSync(out), `${what}: nothing written`);
    }
  });

  it('--device cuda without a usable GPU fails before any benchmark, saying why (exit 1)', () => {
    const r = cli(['bench', 'kernels', '--device', 'cuda', '--out', at('gpu.json')], { TENSORZIP_CUDA: '', TENSORZIP_LIBCUDA: '/nonexistent/libcuda.so.1' });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /--device cuda: no usable GPU: no NVIDIA driver: \/nonexistent\/libcuda\.so\.1 could not be loaded/);
    assert.ok(!existsSync(at('gpu.json')));
  });

  it('--device cuda times the GPU rows, with ids of their own; a suite without a CUDA kernel is a usage error (a CPU stand-in of the CUDA library)', function () {
    const fixtures = path.join(root, 'build', 'test-fixtures');
    const standIn = { TENSORZIP_CUDA: '', TENSORZIP_LIBCUDA: path.join(fixtures, 'libtensorzip_fake_libcuda.so'), TENSORZIP_CUDA_LIBRARY: path.join(fixtures, 'libtensorzip_cpu_cuda_library.so') };
    if (!existsSync(standIn.TENSORZIP_CUDA_LIBRARY) || !existsSync(standIn.TENSORZIP_LIBCUDA)) this.skip();
    const usage = cli(['bench', 'kernels', '--device', 'cuda', '--only', 'forward', '--out', at('fwd.json')], standIn);
    assert.equal(usage.status, 2, usage.stderr);
    assert.match(usage.stderr, /--device cuda:0: suite forward has no CUDA kernel \(suites with one: /);
    assert.ok(!existsSync(at('fwd.json')));
    // The convert suite's rows are the baseline: a GPU run of the rtn suite expects none of them.
    const r = cli(['bench', 'kernels', '--device', 'cuda', '--only', 'rtn', '--smoke', '--out', at('gpu.json'), '--compare', now, '--json'], standIn);
    assert.equal(r.status, 0, r.stderr);
    const f = JSON.parse(r.stdout) as Judged & { device: string };
    assert.match(f.device, /^cuda:0 \(CPU stand-in 0\)$/);
    const gpuRows = f.rows.filter((row) => row.suite === 'rtn');
    assert.deepEqual(gpuRows.map((row) => row.id), ['cuda.rtn.4.g32.encode', 'cuda.rtn.4.g32.decode', 'cuda.rtn.8.g128.encode', 'cuda.rtn.8.g128.decode']);
    assert.ok(gpuRows.every((row) => row.device === 'cuda' && row.value > 0 && row.limit.startsWith('GPU copy')));
    // The stand-in cannot measure a copy bandwidth: no share of it, so nothing to judge.
    assert.ok(gpuRows.every((row) => !Number.isFinite(row.score)));
    assert.deepEqual(f.comparison!.rows.map((c) => c.verdict), ['new', 'new', 'new', 'new']);
  });
});

describe('bench e2e --model: the user\'s own model, --out and --compare', function () {
  this.timeout(120_000);
  let tmp: string, model: string, original: string;
  const at = (name: string) => path.join(tmp, name);
  const e2e = (...args: string[]) => cli(['bench', 'e2e', '--methods', 'lossless,rtn:4', '--threads', '2', ...args]);

  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'tz-bench-e2e-'));
    model = at('model');
    await generateCheckpoint(model, { hidden: 128, intermediate: 352, layers: 1, heads: 4, kvHeads: 2, vocab: 512 });
    original = fingerprint(model);
  });

  after(async () => {
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('runs the folder as it is and leaves it, and a given work dir\'s other files, untouched', async () => {
    await mkdir(at('work'));
    await writeFile(at('work/keep.txt'), 'mine');
    const r = e2e('--model', model, '--dir', at('work'), '--out', at('e2e.json'));
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^model: ${model.replace(/[/.]/g, '\\$&')}, 315,776 parameters`, 'm'));
    assert.equal(fingerprint(model), original, 'the model folder is unchanged');
    assert.deepEqual(readdirSync(at('work')), ['keep.txt']);
    const f = readJson<{ kind: string; device: string; model: { parameters: number }; rows: RecordedRow[] }>(at('e2e.json'));
    assert.equal(f.kind, 'e2e');
    assert.equal(f.device, 'cpu');
    assert.equal(f.model.parameters, 315776);
    for (const spec of ['lossless', 'rtn:4']) for (const what of ['ratio', 'error']) assert.ok(f.rows.some((row) => row.id === `e2e.${spec}.${what}` && row.suite === spec));
    assert.equal(f.rows.find((row) => row.id === 'e2e.lossless.error')!.score, 0);
  });

  it('--compare on its own --out passes (a Hugging Face cache snapshot of the same model); a worse ratio exits 4', async () => {
    // On a model this small the timings are mostly process start: they are pinned low in the
    // copy, so that the deterministic rows (ratio, error: the same container) decide.
    const own = baselineFrom(at('e2e.json'), at('own.json'), (r) => (r.unit === 'MB/s' ? r.score / 100 : r.score));
    const { snapshot, repoDir } = await addSnapshot(at('hub'), 'org/tiny', model);
    const cache = fingerprint(repoDir);
    const r = e2e('--model', snapshot, '--compare', own, '--json');
    assert.equal(r.status, 0, r.stderr);
    const { comparison } = JSON.parse(r.stdout) as { comparison: { rows: Comparison[]; regressed: string[] } };
    for (const c of comparison.rows.filter((c) => /\.(ratio|error)$/.test(c.id))) assert.deepEqual([c.id, c.verdict, c.change], [c.id, 'ok', 1]);
    assert.deepEqual(comparison.regressed, []);
    assert.equal(fingerprint(repoDir), cache, 'the cache (snapshot links and blobs) is unchanged');

    const better = baselineFrom(at('e2e.json'), at('better.json'), (r) => (r.unit === 'MB/s' ? r.score / 100 : r.id === 'e2e.rtn:4.ratio' ? r.score * 1.01 : r.score));
    const worse = e2e('--model', model, '--methods', 'rtn:4', '--compare', better);
    assert.equal(worse.status, 4, worse.stderr);
    assert.match(worse.stdout, /^1 row\(s\) regressed: e2e\.rtn:4\.ratio$/m);
    assert.doesNotMatch(worse.stdout, /e2e\.lossless\.\S+ .*not run/, 'a method outside --methods is not expected');
  });

  it('refuses shape options with --model (exit 2), a work dir inside the model (exit 1), and another model\'s baseline (exit 1)', async () => {
    const shaped = e2e('--model', model, '--layers', '2', '--vocab', '64');
    assert.equal(shaped.status, 2);
    assert.match(shaped.stderr, /--model runs your model as it is: it takes no --layers, --vocab/);
    const inside = e2e('--model', model, '--dir', path.join(model, 'work'));
    assert.equal(inside.status, 1);
    assert.match(inside.stderr, /must be apart/);
    const other = readJson<{ model: { parameters: number } }>(at('e2e.json'));
    other.model.parameters += 1;
    await writeFile(at('other.json'), JSON.stringify(other));
    const r = e2e('--model', model, '--methods', 'rtn:4', '--compare', at('other.json'));
    assert.equal(r.status, 1);
    assert.match(r.stderr, /other\.json was measured on another model/);
    assert.equal(fingerprint(model), original);
  });
});
