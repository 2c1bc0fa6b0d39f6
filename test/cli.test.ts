// The tensorzip command line, run as a user would run it.
import { strict as assert } from 'node:assert';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { generateCheckpoint } from '../lib/generate';
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

  it('demo measures both round trips on a generated matrix', () => {
    const r = cli('demo', '--rows', '128', '--cols', '96', '--json');
    assert.equal(r.status, 0, r.stderr);
    const d = JSON.parse(r.stdout);
    const cpu = d.results.filter((x: { device: string }) => x.device === 'cpu');
    assert.equal(cpu.length, 2);
    // bf16 keeps 8 significant bits, f16 11: relative error is bounded by half an ulp.
    assert.ok(cpu[0].relativeError > 0 && cpu[0].relativeError < 2 ** -9, `bf16 error ${cpu[0].relativeError}`);
    assert.ok(cpu[1].relativeError > 0 && cpu[1].relativeError < 2 ** -11, `f16 error ${cpu[1].relativeError}`);
  });

  it('demo prints a readable table', () => {
    const r = cli('demo', '--rows', '64', '--cols', '64');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /CPU kernels: (avx2|scalar)/);
    assert.match(r.stdout, /f32 -> bf16 -> f32 +cpu/);
  });

  it('bad arguments give a one-line error and a non-zero exit code', () => {
    const r = cli('demo', '--rows', '0');
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /--rows <n>.*must be a positive integer/);
    const u = cli('frobnicate');
    assert.notEqual(u.status, 0);
    assert.match(u.stderr, /unknown command 'frobnicate'/);
  });

  it('Ctrl-C (SIGINT) stops compress with exit 130 and leaves no output', async function () {
    this.timeout(60000);
    const dir = await mkdtemp(path.join(os.tmpdir(), 'tz-int-'));
    try {
      await generateCheckpoint(path.join(dir, 'm'), { targetBytes: 20e6 });
      const child = spawn(process.execPath, [cliPath, 'compress', path.join(dir, 'm'), '-o', path.join(dir, 'out.tzip'), '--lzma', '9e', '--threads', '1']);
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      setTimeout(() => child.kill('SIGINT'), 1500);
      const status = await new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      assert.equal(status, 130, stderr);
      assert.match(stderr, /interrupted; no output was written/);
      assert.deepEqual((await readdir(dir)).filter((f) => f !== 'm'), []);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
