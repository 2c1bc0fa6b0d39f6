// The tensorzip command line, run as a user would run it.
import { strict as assert } from 'node:assert';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { compress } from '../lib/pipeline/compress';
import { generateCheckpoint } from '../lib/tools/generate';
import { cliPath, root } from './helpers';

const cli = (...args: string[]) => spawnSync(process.execPath, [cliPath, ...args], { cwd: root, encoding: 'utf8' });

describe('tensorzip CLI', () => {
  it('info --json prints backendInfo', () => {
    const r = cli('info', '--json');
    assert.equal(r.status, 0, r.stderr);
    const info = JSON.parse(r.stdout);
    assert.ok(info.cpu === 'avx2' || info.cpu === 'scalar');
    assert.ok('gpus' in info.cuda || typeof info.cuda.unavailable === 'string');
  });

  it('demo prints the comparison table (shipped model, two methods)', () => {
    const r = cli('demo', '--methods', 'lossless,rtn:4', '--threads', '2');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /CPU kernels: (avx2|scalar)/);
    assert.match(r.stdout, /^lossless +1\d\.\d\d +1\.\d\dx +\S+ +exact +inf +0\.0000 +100\.0 %/m);
    assert.match(r.stdout, /^rtn:4 +\d/m);
    const j = cli('demo', '--methods', 'rtn:8', '--json');
    assert.equal(j.status, 0, j.stderr);
    assert.equal(JSON.parse(j.stdout).rows[0].spec, 'rtn:8');
  });

  it('bench e2e compresses a generated model with each method in its own process (tiny shape)', () => {
    const tiny = ['--hidden', '128', '--intermediate', '352', '--layers', '1', '--heads', '4', '--kv-heads', '2', '--vocab', '512'];
    const r = cli('bench', 'e2e', ...tiny, '--methods', 'lossless,seedlm:4,ternary', '--json');
    assert.equal(r.status, 0, r.stderr);
    const e = JSON.parse(r.stdout);
    assert.equal(e.shape.vocab, 512);
    assert.deepEqual(e.rows.map((x: { spec: string }) => x.spec), ['lossless', 'seedlm:4', 'ternary']);
    const [lossless, seedlm, ternary] = e.rows;
    assert.equal(lossless.meanRelativeError, 0);
    assert.ok(Math.abs(lossless.ratio - e.modelBytes / lossless.containerBytes) < 1e-9);
    for (const x of e.rows) assert.ok(x.peakRssBytes > 20e6 && x.peakRssBytes < 2e9, `peak RSS ${x.peakRssBytes}`);
    assert.ok(seedlm.extrapolated && !ternary.extrapolated && !lossless.extrapolated);
    assert.ok(ternary.meanRelativeError > 0.3, 'generated weights do not survive ternarization');
    assert.ok(lossless.decompressSeconds > 0 && ternary.decompressSeconds > 0 && seedlm.decompressSeconds === undefined, 'decompress timed, not for an extrapolated row');
    assert.deepEqual(e.peers.map((p: { name: string }) => p.name.split(' ')[0]), ['zstd', 'xz']);
    for (const p of e.peers) assert.ok('skipped' in p ? p.skipped.startsWith(p.name.split(' ')[0]) : p.ratio > 1 && p.seconds > 0 && p.decompressSeconds > 0, JSON.stringify(p));
    assert.ok(e.disk.bytes === e.modelBytes && e.disk.writeSeconds > 0, 'the disk written as much as the model holds, timed');
    const t = cli('bench', 'e2e', ...tiny, '--methods', 'rtn:4');
    assert.equal(t.status, 0, t.stderr);
    assert.match(t.stdout, /^rtn:4 +\d+\.\d s +\d+\.\d+ [kMG]B\/s +\d+\.\d s/m);
    assert.match(t.stdout, /peer zstd -1 -T\d+ (on the same shard files|: skipped)/);
    assert.match(t.stdout, /peer xz -0 -T\d+ (on the same shard files|: skipped)/);
    assert.match(t.stdout, /^disk: writing \d+\.\d+ [kMG]B \(the model's size\) once, .* took \d+\.\d s/m);
  });

  it('bad arguments give a one-line error and a non-zero exit code', () => {
    const r = cli('demo', '--threads', '0');
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /--threads <n>.*must be a positive integer/);
    const t = cli('demo', '--model', path.join(root, 'no-such-model'));
    assert.equal(t.status, 1);
    assert.match(t.stderr, /no-such-model: no such file/);
    const f = cli('demo', '--model', path.join(root, 'models', 'kjv-llama', 'model.safetensors'));
    assert.equal(f.status, 1);
    assert.match(f.stderr, /the demo takes a model folder \(config\.json, tokenizer\.json and the weights\), not a file/);
    const m = cli('demo', '--methods', 'lossless,frob:3');
    assert.equal(m.status, 2);
    assert.match(m.stderr, /unknown method 'frob'/);
    const u = cli('frobnicate');
    assert.notEqual(u.status, 0);
    assert.match(u.stderr, /unknown command 'frobnicate'/);
  });

  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const)
    it(`${signal} stops compress with exit ${code} and leaves no output or temp file`, async function () {
      this.timeout(60000);
      const dir = await mkdtemp(path.join(os.tmpdir(), 'tz-int-'));
      try {
        await generateCheckpoint(path.join(dir, 'm'), { targetBytes: 20e6 });
        const child = spawn(process.execPath, [cliPath, 'compress', path.join(dir, 'm'), '-o', path.join(dir, 'out.tzip'), '--lzma', '9e', '--threads', '1']);
        let stderr = '';
        child.stderr.on('data', (d) => (stderr += d));
        // Signal once compression has started (its sidecar exists), not before the handlers are in place.
        const started = async () => {
          while (!(await readdir(dir)).includes('out.tzip.resume')) await new Promise((r) => setTimeout(r, 20));
          child.kill(signal);
        };
        void started();
        const status = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
        assert.equal(status, code, stderr);
        assert.match(stderr, /interrupted.*; no output was written/);
        // Only a progress sidecar may stay, when a tensor finished before the signal.
        const left = (await readdir(dir)).filter((f) => f !== 'm');
        assert.ok(left.length === 0 || (left.length === 1 && left[0] === 'out.tzip.resume' && /--resume/.test(stderr)), `${left} ${stderr}`);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });

  describe('compress, inspect, verify and decompress from the command line', function () {
    this.timeout(60000);
    let dir: string;
    before(async () => {
      dir = await mkdtemp(path.join(os.tmpdir(), 'tz-cli-'));
      await generateCheckpoint(path.join(dir, 'm'), { hidden: 64, intermediate: 176, vocab: 256, layers: 1 });
    });
    after(() => rm(dir, { recursive: true, force: true }));

    it('compress --json, inspect --json, verify (exit 0, then 3 once the original changes)', async () => {
      const c = cli('compress', path.join(dir, 'm'), '-o', path.join(dir, 'm.tzip'), '-m', 'rtn:4', '--json');
      assert.equal(c.status, 0, c.stderr);
      const report = JSON.parse(c.stdout);
      assert.equal(report.containerBytes, JSON.parse(cli('inspect', path.join(dir, 'm.tzip'), '--json').stdout).containerBytes);
      assert.ok(report.ratio > 2);
      const ok = cli('verify', path.join(dir, 'm.tzip'), '--against', path.join(dir, 'm'));
      assert.equal(ok.status, 0, ok.stdout + ok.stderr);
      assert.match(ok.stdout, /verify: OK/);
      const d = cli('decompress', path.join(dir, 'm.tzip'), '-o', path.join(dir, 'copy'));
      assert.equal(d.status, 0, d.stderr);
      const { writeFile } = await import('node:fs/promises');
      await writeFile(path.join(dir, 'copy', 'generation_config.json'), '{}');
      const bad = cli('verify', path.join(dir, 'm.tzip'), '--against', path.join(dir, 'copy'));
      assert.equal(bad.status, 3, bad.stdout + bad.stderr);
      assert.match(bad.stdout, /file generation_config\.json: content differs from the original/);
      assert.match(bad.stdout, /verify: FAILED/);
    });

    it('compress --dry-run plans without writing; --tensor-method rules come before --policy; -q prints the summary; notes are grouped', async () => {
      const m = path.join(dir, 'm');
      const policy = path.join(dir, 'p.json');
      const { writeFile } = await import('node:fs/promises');
      await writeFile(policy, JSON.stringify({ '*down_proj*': 'rtn:3', '*up_proj*': 'rtn:5' }));
      const dry = cli('compress', m, '--dry-run', '-m', 'rtn:4', '--policy', policy, '--tensor-method', '*down_proj*=rtn:6', '--json');
      assert.equal(dry.status, 0, dry.stderr);
      const plan = JSON.parse(dry.stdout);
      const method = (suffix: string) => plan.tensors.find((t: { name: string }) => t.name.endsWith(suffix)).method;
      assert.deepEqual([method('down_proj.weight'), method('up_proj.weight'), method('gate_proj.weight')], ['rtn:6:g128', 'rtn:5:g128', 'rtn:4:g32']);
      assert.ok(!(await readdir(dir)).some((f) => f.startsWith('dry')), 'nothing written');
      // The projection is what the methods store: the container's tensors hold exactly that before the entropy stage.
      const c = cli('compress', m, '-o', path.join(dir, 'planned.tzip'), '-m', 'rtn:4', '--policy', policy, '--tensor-method', '*down_proj*=rtn:6', '--coder', 'off', '--json');
      assert.equal(c.status, 0, c.stderr);
      const made = JSON.parse(c.stdout);
      for (const t of made.tensors) assert.equal(plan.tensors.find((p: { name: string }) => p.name === t.name).projectedBytes, t.storedBytes, t.name);
      // Own cost per tensor, not the time it waited: the column sums to about the run, not to tensors × run.
      const own = made.tensors.reduce((a: number, t: { seconds: number }) => a + t.seconds, 0);
      assert.ok(own <= 2 * made.seconds + 0.05, `per-tensor times sum to ${own} s in a ${made.seconds} s run`);
      const text = cli('compress', m, '--dry-run', '-m', 'rtn:4');
      assert.match(text.stdout, /^dry run: +\d+ tensors of .*bits\/weight over \d+ weights/m);
      assert.match(text.stdout, /\d+ tensors: 1-D tensor: stored lossless \(model\.layers\.0\.input_layernorm\.weight, /);
      const quiet = cli('compress', m, '-o', path.join(dir, 'quiet.tzip'), '-m', 'rtn:4', '-q');
      assert.equal(quiet.status, 0, quiet.stderr);
      assert.doesNotMatch(quiet.stdout, /rel\.err|notes:/);
      assert.match(quiet.stdout, /^ratio: /m);
      for (const bad of [['--tensor-method', 'no-equals'], ['--tensor-method', '*x*=frob:2'], ['--dry-run', '--shard', '0/2']]) {
        const r = cli('compress', m, '-m', 'rtn:4', ...bad);
        assert.equal(r.status, 2, `${bad.join(' ')}: ${r.stderr}`);
      }
      const noOut = cli('compress', m, '-m', 'rtn:4');
      assert.equal(noOut.status, 2);
      assert.match(noOut.stderr, /required option '-o, --output <file>' not specified/);
    });

    it('the progress bar on a terminal shows elapsed time, ETA and MB/s', function () {
      // A pseudo-terminal from util-linux's script(1), where the bar is drawn (never into a pipe).
      if (spawnSync('script', ['--version']).status !== 0) this.skip();
      const target = path.join(dir, 'tty.tzip');
      const command = [process.execPath, cliPath, 'compress', path.join(dir, 'm'), '-o', target, '-m', 'rtn:4'].map((a) => `'${a}'`).join(' ');
      const r = spawnSync('script', ['-qec', command, '/dev/null'], { encoding: 'utf8', env: { ...process.env, COLUMNS: '200' } });
      assert.equal(r.status, 0, r.stdout);
      assert.match(r.stdout, /\d+% \| \d+s elapsed, ETA \d+s \| ([0-9.]+ [kMG]?B\/s|-) \| tensor \d+\/\d+ /);
    });

    it('compress --resume finishes an interrupted run with the same container', async () => {
      const controller = new AbortController();
      const out = path.join(dir, 'r.tzip');
      await assert.rejects(compress(path.join(dir, 'm'), out, { method: 'rtn:4', signal: controller.signal, onProgress: (p) => p.tensorIndex >= 2 && controller.abort() }));
      assert.ok((await readdir(dir)).includes('r.tzip.resume'));
      const c = cli('compress', path.join(dir, 'm'), '-o', out, '-m', 'rtn:4', '--resume', '--json');
      assert.equal(c.status, 0, c.stderr);
      assert.ok(!(await readdir(dir)).includes('r.tzip.resume'));
      const whole = cli('compress', path.join(dir, 'm'), '-o', path.join(dir, 'whole.tzip'), '-m', 'rtn:4');
      assert.equal(whole.status, 0, whole.stderr);
      assert.ok((await readFile(out)).equals(await readFile(path.join(dir, 'whole.tzip'))));
    });

    it('a policy file that is not JSON, repeats a glob, or has a bad spec, is a usage error', async () => {
      const { writeFile } = await import('node:fs/promises');
      await writeFile(path.join(dir, 'bad.json'), '{"*": ');
      await writeFile(path.join(dir, 'spec.json'), '{"*.mlp.*": "rtn:4:g7"}');
      await writeFile(path.join(dir, 'twice.json'), '{"*": "rtn:4", "*": "lossless"}');
      for (const [file, re] of [['bad.json', /policy is not valid JSON/], ['twice.json', /policy is not valid JSON \(duplicate key "\*"/], ['spec.json', /pattern "\*\.mlp\.\*": rtn group must be g<N> with N a multiple of 8/], ['missing.json', /cannot read policy file/]] as const) {
        const r = cli('compress', path.join(dir, 'm'), '-o', path.join(dir, 'p.tzip'), '--policy', path.join(dir, file));
        assert.equal(r.status, 2, r.stderr);
        assert.match(r.stderr, re);
      }
      assert.ok(!(await readdir(dir)).some((f) => f.includes('p.tzip')));
    });
  });
});
