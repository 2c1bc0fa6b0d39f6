// A user's files are never overwritten or destroyed unasked: outputs are checked before any work
// (not the input, not existing unless -f/--force, a writable directory, room where the size is
// known), problems are named with the path the user gave, and the leftovers of killed runs are
// cleaned up by the next run.
import { strict as assert } from 'node:assert';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { compress } from '../lib/pipeline/compress';
import { compressShard } from '../lib/parts/part';
import { decompress } from '../lib/pipeline/decompress';
import { generateCheckpoint } from '../lib/tools/generate';
import { merge } from '../lib/parts/merge';
import { tempPathFor } from '../lib/io/temp-files';
import { cliPath, root } from './helpers';

const cli = (...args: string[]) => spawnSync(process.execPath, [cliPath, ...args], { cwd: root, encoding: 'utf8' });
const sha = async (p: string) => createHash('sha256').update(await readFile(p)).digest('hex');
const SHAPE = { hidden: 64, intermediate: 176, vocab: 256, layers: 1 };

/** A PID that belonged to a process of this host that has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
  return Number(r.stdout.trim());
}

describe('outputs: never destroyed or overwritten unasked', function () {
  this.timeout(120000);
  let dir: string;
  let model: string;
  let single: string;
  let container: string;
  const out = (name: string) => path.join(dir, name);

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'tz-outputs-'));
    model = (await generateCheckpoint(out('model'), SHAPE)).dir;
    single = path.join(model, 'model.safetensors');
    container = out('model.tzip');
    await compress(model, container, { method: 'rtn:4' });
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('compress refuses its own input as the output, even with --force', async () => {
    const before = await sha(single);
    for (const force of [[], ['--force']]) {
      const r = cli('compress', single, '-o', single, '-m', 'rtn:4', ...force);
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, /model\.safetensors is the input .*: writing it would destroy the input/);
    }
    // Through a symlink to the input file, too.
    await symlink(single, out('alias.tzip'));
    const r = cli('compress', single, '-o', out('alias.tzip'), '--force');
    assert.equal(r.status, 1);
    assert.match(r.stderr, /is the input/);
    assert.equal(await sha(single), before);
    await assert.rejects(compress(single, single, { force: true }), /is the input/);
  });

  it('decompress refuses the container as the output, even with --force', async () => {
    const one = out('one.tzip');
    await compress(single, one, { method: 'rtn:4' });
    const before = await sha(one);
    for (const force of [[], ['-f']]) {
      const r = cli('decompress', one, '-o', one, ...force);
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, /one\.tzip is the input/);
    }
    assert.equal(await sha(one), before);
  });

  it('an output inside the input folder is refused, also through a symlink to the folder', async () => {
    await symlink(model, out('link'));
    for (const o of [path.join(model, 'x.tzip'), path.join(out('link'), 'x.tzip')]) {
      const r = cli('compress', model, '-o', o, '--force');
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, /lies inside the input/);
    }
    assert.ok(!existsSync(path.join(model, 'x.tzip')));
    // A decompressed directory may not hold the container it comes from, even with --force.
    const r = cli('decompress', container, '-o', dir, '--force');
    assert.equal(r.status, 1);
    assert.match(r.stderr, /holds the input/);
  });

  it('an existing output is refused without -f/--force by compress, decompress, generate, merge and imatrix', async () => {
    const existing = out('existing.tzip');
    await writeFile(existing, 'mine');
    const tokens = out('tokens.json');
    await writeFile(tokens, JSON.stringify([1, 2, 3]));
    await mkdir(out('full'));
    await writeFile(path.join(out('full'), 'mine'), 'mine');
    const part0 = out('p0.part');
    await writeFile(part0, 'mine');
    const cases: Array<[string, string[]]> = [
      ['compress', ['compress', model, '-o', existing, '-m', 'rtn:4']],
      ['compress --shard', ['compress', model, '-o', part0, '--shard', '0/2']],
      ['decompress', ['decompress', container, '-o', out('full')]],
      ['merge', ['merge', part0, '-o', existing]],
      ['imatrix', ['imatrix', model, '--tokens', tokens, '-o', existing]],
      ['generate', ['generate', model]],
    ];
    for (const [what, args] of cases) {
      const r = cli(...args);
      assert.equal(r.status, 1, `${what}: ${r.stderr}`);
      assert.match(r.stderr, /exists( and is not empty)? \(use -f\/--force to (overwrite|replace) it\)/, what);
    }
    assert.equal(await readFile(existing, 'utf8'), 'mine');
    assert.equal(await readFile(part0, 'utf8'), 'mine');
    // With --force they replace it.
    const r = cli('compress', model, '-o', existing, '-m', 'rtn:4', '--force');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(await sha(existing), await sha(container));
    const g = cli('generate', model, '--hidden', '64', '--intermediate', '176', '--vocab', '256', '--layers', '1', '-f');
    assert.equal(g.status, 0, g.stderr);
  });

  it('the library API follows the same rule, with force to allow it', async () => {
    const target = out('api.tzip');
    await writeFile(target, 'mine');
    await assert.rejects(compress(model, target), /api\.tzip exists \(use -f\/--force to overwrite it\)/);
    await compress(model, target, { method: 'rtn:4', force: true });
    assert.equal(await sha(target), await sha(container));
    const back = out('api-back');
    await mkdir(back);
    await writeFile(path.join(back, 'keep'), 'mine');
    await assert.rejects(decompress(container, back), /api-back exists and is not empty/);
    await decompress(container, back, { force: true });
    assert.ok(!existsSync(path.join(back, 'keep')));
    assert.ok(existsSync(path.join(back, 'model.safetensors')));
    await assert.rejects(generateCheckpoint(model, SHAPE), /exists \(use -f\/--force to overwrite it\)/);
    const p0 = out('api0.part');
    await compressShard(model, p0, { method: 'rtn:4', shard: { index: 0, count: 1 } });
    await assert.rejects(merge([p0], target), /api\.tzip exists/);
    await assert.rejects(merge([p0], p0, { force: true }), /api0\.part is the input/);
  });

  it('a bad -o is named before any work, with the path given and no temp name', async () => {
    await mkdir(out('adir'));
    const cases: Array<[string, string[], RegExp]> = [
      ['an existing directory', ['compress', model, '-o', out('adir')], /adir is a directory; give the file to write/],
      ['a path ending in /', ['compress', model, '-o', out('new') + '/'], /new\/: names a directory \(it ends in \/\)/],
      ['a missing parent', ['compress', model, '-o', out('missing/x.tzip')], /the directory .*missing does not exist/],
      ['a parent that is a file', ['compress', model, '-o', path.join(container, 'x.tzip')], /model\.tzip is not a directory/],
      ['a special file system', ['compress', model, '-o', '/proc/x.tzip'], /\/proc\/x\.tzip: cannot write in \/proc/],
      ['a missing directory under /proc', ['compress', model, '-o', '/proc/nope/x.tzip'], /the directory \/proc\/nope does not exist/],
      ['decompress under a missing parent', ['decompress', container, '-o', out('missing/m')], /the directory .*missing does not exist/],
      ['decompress over a file', ['decompress', container, '-o', container + '.txt', '-f'], /./],
    ];
    await writeFile(container + '.txt', 'mine');
    for (const [what, args, message] of cases) {
      const r = cli(...args, '-m', 'rtn:4');
      if (args[0] === 'decompress') {
        const d = cli(...args);
        assert.equal(d.status, 1, `${what}: ${d.stderr}`);
        assert.match(d.stderr, message, what);
        assert.doesNotMatch(d.stderr, /\.tmp-|--resume/, what);
        continue;
      }
      assert.equal(r.status, 1, `${what}: ${r.stderr}`);
      assert.match(r.stderr, message, what);
      assert.doesNotMatch(r.stderr, /\.tmp-|--resume|rename/, what);
    }
    assert.equal(await readFile(container + '.txt', 'utf8'), 'mine');
    assert.deepEqual(await readdir(out('adir')), []);
    assert.ok(!(await readdir(dir)).some((f) => f.endsWith('.resume') || f.includes('.tmp-')));
  });

  it('an interrupted run\'s sidecar is not replaced without --resume or --force', async () => {
    const target = out('sidecar.tzip');
    await writeFile(`${target}.resume`, 'hours of work');
    const r = cli('compress', model, '-o', target, '-m', 'rtn:4');
    assert.equal(r.status, 1);
    assert.match(r.stderr, /sidecar\.tzip\.resume holds the work of an interrupted run: add --resume to continue it, or -f\/--force to start over/);
    assert.equal(await readFile(`${target}.resume`, 'utf8'), 'hours of work');
    const f = cli('compress', model, '-o', target, '-m', 'rtn:4', '--force');
    assert.equal(f.status, 0, f.stderr);
    assert.ok(!existsSync(`${target}.resume`));
  });

  it('temp files of killed runs are removed by the next run, which says so; a live run\'s are kept', async () => {
    const target = out('stale.tzip');
    const pid = deadPid();
    const host = path.basename(tempPathFor(target)).split('-')[1];
    const staleFile = out(`.stale.tzip.tmp-${host}-${pid}-abc123.data`);
    const staleDir = out(`.stale.tzip.tmp-${host}-${pid}-def456`);
    const live = out(`.stale.tzip.tmp-${host}-${process.pid}-ghi789.data`);
    const otherHost = out(`.stale.tzip.tmp-00000000-${pid}-jkl012.data`);
    await writeFile(staleFile, Buffer.alloc(100000));
    await mkdir(staleDir);
    await writeFile(path.join(staleDir, 'model.safetensors'), Buffer.alloc(50000));
    for (const f of [live, otherHost]) await writeFile(f, 'x');
    const r = cli('compress', model, '-o', target, '-m', 'rtn:4');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /removed 2 temp files \(150\.0 kB\) left by an interrupted run/);
    assert.ok(!existsSync(staleFile) && !existsSync(staleDir));
    assert.ok(existsSync(live) && existsSync(otherHost), 'a live process\'s and another host\'s temp files stay');
    await rm(live);
    await rm(otherHost);
  });

  it('a SIGKILLed decompress leaves a temp directory that the next decompress removes', async function () {
    const target = out('killed');
    const child = spawn(process.execPath, [cliPath, 'decompress', container, '-o', target, '--threads', '1'], { cwd: root, stdio: 'ignore' });
    // Kill it once its temp directory exists (a directory: the output check's probe file has a
    // temp name too, and is gone at once).
    const deadline = Date.now() + 30000;
    let temp: string | undefined;
    while (!temp && Date.now() < deadline) {
      temp = (await readdir(dir, { withFileTypes: true })).find((e) => e.isDirectory() && e.name.startsWith('.killed.tmp-'))?.name;
      if (!temp) await new Promise((r) => setTimeout(r, 5));
    }
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    if (!temp || existsSync(target)) this.skip(); // finished before it could be killed
    assert.ok(existsSync(out(temp)));
    const r = cli('decompress', container, '-o', target);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /removed 1 temp file .* left by an interrupted run/);
    assert.ok(!(await readdir(dir)).some((f) => f.startsWith('.killed.tmp-')));
  });

  it('generate: a size needs its unit, a size that cannot fit is refused up front, Ctrl-C leaves nothing', async () => {
    const bare = cli('generate', out('g1'), '--size', '20');
    assert.equal(bare.status, 2);
    assert.match(bare.stderr, /must be a size with its unit, such as 500KB, 20MB or 2GB/);
    const huge = cli('generate', out('g2'), '--size', '1000TB');
    assert.equal(huge.status, 1);
    assert.match(huge.stderr, /not enough free space: the checkpoint takes .* GB, and .* has .* free/);
    assert.ok(!existsSync(out('g2')), 'no directory left behind');
    const small = cli('generate', out('g3'), '--size', '20KB');
    assert.equal(small.status, 0, small.stderr);
    assert.match(small.stderr, /no tokenizer\.json: the vocabulary \(256\) is smaller than/);
    // Interrupted half way: no file of the checkpoint stays, nor the directory it created.
    const child = spawn(process.execPath, [cliPath, 'generate', out('g4'), '--size', '400MB'], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const deadline = Date.now() + 30000;
    while (Date.now() < deadline && !(existsSync(out('g4')) && (await readdir(out('g4'))).some((f) => f.includes('.tmp-')))) await new Promise((r) => setTimeout(r, 10));
    child.kill('SIGINT');
    const code = await new Promise((r) => child.once('exit', r));
    assert.equal(code, 130, stderr);
    assert.match(stderr, /interrupted; no output was written/);
    assert.ok(!existsSync(out('g4')), `left: ${existsSync(out('g4')) ? (await readdir(out('g4'))).join(', ') : ''}`);
  });
});

describe('a full disk', function () {
  this.timeout(120000);
  let dir: string;
  let mnt: string;
  let model: string;

  before(async function () {
    dir = await mkdtemp(path.join(os.tmpdir(), 'tz-full-'));
    mnt = path.join(dir, 'mnt');
    await mkdir(mnt);
    // A small file system of its own: tmpfs needs root (CI runs as root).
    const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=3m', 'tmpfs', mnt], { encoding: 'utf8' });
    if (m.status !== 0) {
      console.log(`      (cannot mount a tmpfs here: ${m.stderr.trim() || m.error?.message}; skipping the full-disk tests)`);
      this.skip();
    }
    model = (await generateCheckpoint(path.join(dir, 'model'), { hidden: 256, intermediate: 704, vocab: 1024, layers: 1 })).dir;
  });
  after(async () => {
    if (mnt) spawnSync('umount', [mnt]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('compress writes each piece once: it needs about the container\'s size, not twice', async () => {
    const bytes = (await stat(path.join(model, 'model.safetensors'))).size;
    const r = await compress(model, path.join(mnt, 'm.tzip'), { method: 'lossless', coder: 'off' });
    // The container is more than half of the 3 MiB disk: two copies would not have fit.
    assert.ok(r.containerBytes > (3 << 20) / 2 && r.containerBytes < 3 << 20, `${r.containerBytes} of ${bytes}`);
    assert.deepEqual(await readdir(mnt), ['m.tzip']);
    await rm(path.join(mnt, 'm.tzip'));
  });

  it('a disk that fills up is named, and nothing is left on it', async () => {
    await writeFile(path.join(mnt, 'filler'), Buffer.alloc(2 << 20));
    const r = cli('compress', model, '-o', path.join(mnt, 'm.tzip'), '-m', 'rtn:8');
    assert.equal(r.status, 1);
    assert.match(r.stderr, /may take up to .* MB, and .*mnt has .* free; the run may run out of space/);
    assert.match(r.stderr, /cannot write .*mnt\/m\.tzip(\.resume)?: no space left on the device \(.*mnt: .* free\)/);
    assert.doesNotMatch(r.stderr, /\.tmp-/);
    // What stays is the work of the finished tensors, to resume.
    assert.ok((await readdir(mnt)).every((f) => ['filler', 'm.tzip.resume', 'm.tzip.resume.data'].includes(f)), (await readdir(mnt)).join(', '));
    await rm(path.join(mnt, 'm.tzip.resume'), { force: true });
    await rm(path.join(mnt, 'm.tzip.resume.data'), { force: true });
    // decompress knows its size exactly: refused before writing anything.
    const c = path.join(dir, 'm.tzip');
    await compress(model, c, { method: 'rtn:8' });
    const d = cli('decompress', c, '-o', path.join(mnt, 'back'));
    assert.equal(d.status, 1);
    assert.match(d.stderr, /back: not enough free space: the model takes .*, and .*mnt has .* free/);
    assert.deepEqual(await readdir(mnt), ['filler']);
  });
});
