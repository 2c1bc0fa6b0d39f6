// Model folders as they are on disk: shard names from the index, symlinks (a Hugging Face cache
// snapshot is nothing but symlinks into ../../blobs), and which other files a container carries.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, readFile, realpath, rename, rm, symlink, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { compress, type CompressReport } from '../lib/pipeline/compress';
import { compressShard } from '../lib/parts/part';
import { decompress } from '../lib/pipeline/decompress';
import { generateCheckpoint } from '../lib/tools/generate';
import { inspect } from '../lib/pipeline/inspect';
import { merge } from '../lib/parts/merge';
import { verify } from '../lib/pipeline/verify';
import { addSnapshot } from './hf-fixture';
import { cliPath } from './helpers';

const cli = (...args: string[]) => spawnSync(process.execPath, [cliPath, ...args], { encoding: 'utf8' });

/** A CLI run that must fail with one line naming the problem, exit 1, and leave no output. */
async function refused(args: string[], output: string, error: RegExp) {
  const r = cli(...args);
  assert.equal(r.status, 1, `exit status ${r.status}: ${r.stderr}`);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, /^tensorzip: /);
  assert.match(r.stderr, error);
  assert.deepEqual((await readdir(path.dirname(output))).filter((f) => f.includes(path.basename(output))), [], 'no output or temp file left');
}

/** A small generated model: fast to compress, still with a tokenizer (vocab >= 512). */
const SMALL = { hidden: 64, intermediate: 176, layers: 1, heads: 4, kvHeads: 2, vocab: 512 };

describe('model folders', function () {
  this.timeout(60000);
  let dir: string;
  const out = (name: string) => path.join(dir, name);

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'tz-folder-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  describe('shard names in the index', () => {
    const INDEX = 'model.safetensors.index.json';

    it("a name with '..' inside it is a file name: compressed, decompressed and verified", async () => {
      const d = out('dots');
      await generateCheckpoint(d, { ...SMALL, shards: 2 });
      const index = JSON.parse(await readFile(path.join(d, INDEX), 'utf8'));
      const renamed: Record<string, string> = { 'model-00001-of-00002.safetensors': 'model..v2-1.safetensors', 'model-00002-of-00002.safetensors': 'model..v2-2..safetensors' };
      for (const [from, to] of Object.entries(renamed)) await rename(path.join(d, from), path.join(d, to));
      for (const t of Object.keys(index.weight_map)) index.weight_map[t] = renamed[index.weight_map[t]];
      await writeFile(path.join(d, INDEX), JSON.stringify(index));
      await compress(d, out('dots.tzip'));
      await decompress(out('dots.tzip'), out('dots-out'));
      assert.deepEqual((await readdir(out('dots-out'))).sort(), (await readdir(d)).sort());
      for (const f of Object.values(renamed)) assert.ok((await readFile(path.join(d, f))).equals(await readFile(path.join(out('dots-out'), f))), f);
      const v = await verify(out('dots.tzip'), d);
      assert.ok(v.ok, v.problems.join('; '));
    });

    it('a tensor named twice in weight_map is refused, not read as its last entry', async () => {
      const d = out('twice');
      await generateCheckpoint(d, { ...SMALL, shards: 2 });
      const text = await readFile(path.join(d, INDEX), 'utf8');
      // Name lm_head again, pointing at the other shard: JSON.parse kept the last entry silently.
      await writeFile(path.join(d, INDEX), text.replace('"weight_map": {', '"weight_map": {\n    "lm_head.weight": "model-00001-of-00002.safetensors",'));
      await assert.rejects(compress(d, out('twice.tzip')), /model\.safetensors\.index\.json: invalid index JSON \(duplicate key "lm_head\.weight"/);
      assert.ok(!(await readdir(dir)).includes('twice.tzip'));
    });

    for (const bad of ['../x.safetensors', './x.safetensors', 'sub/../x.safetensors', 'sub/./x.safetensors', 'a//x.safetensors', 'x.safetensors/', '/x.safetensors', 'a\\x.safetensors', '..', '']) {
      it(`refuses ${JSON.stringify(bad)} as traversal`, async () => {
        const d = out(`bad-${Buffer.from(bad).toString('hex')}`);
        await generateCheckpoint(d, SMALL);
        await writeFile(path.join(d, INDEX), JSON.stringify({ weight_map: { 'model.norm.weight': bad } }));
        await assert.rejects(compress(d, out('bad.tzip')), /weight_map entry for "model\.norm\.weight" is not a shard file name/);
      });
    }
  });

  describe('symlinks', () => {
    let model: string;
    let ref: CompressReport;
    const same = async (a: string, b: string) => assert.ok((await readFile(a)).equals(await readFile(b)), `${a} and ${b} differ`);

    before(async () => {
      model = out('model');
      await generateCheckpoint(model, { ...SMALL, shards: 2 });
      await mkdir(path.join(model, 'original'));
      await writeFile(path.join(model, 'original', 'params.json'), '{"dim": 64}\n');
      ref = await compress(model, out('ref.tzip'), { method: 'rtn:4' });
    });

    it('a Hugging Face cache snapshot (every file a symlink into ../../blobs) gives the container of the folder itself, and verifies', async () => {
      const { snapshot, repoDir } = await addSnapshot(out('hub'), 'org/name', model);
      const r = await compress(snapshot, out('snap.tzip'), { method: 'rtn:4' });
      assert.deepEqual(ref.symlinks, []);
      await same(out('snap.tzip'), out('ref.tzip'));
      assert.deepEqual(r.files, ref.files);
      assert.ok(r.files.includes('original/params.json') && r.files.includes('config.json'));
      const blobs = await realpath(path.join(repoDir, 'blobs'));
      assert.equal(r.symlinks.length, r.files.length + 2, 'every file, the two shards included');
      for (const l of r.symlinks) assert.equal(path.dirname(l.target), blobs, l.path);
      const v = await verify(out('snap.tzip'), snapshot);
      assert.ok(v.ok, v.problems.join('; '));
      const c = cli('compress', snapshot, '-o', out('snap-cli.tzip'), '-m', 'rtn:4');
      assert.equal(c.status, 0, c.stderr);
      assert.match(c.stdout, new RegExp(`^symlinks: +read ${r.symlinks.length} files through symlinks \\(into ${blobs}\\)$`, 'm'));
      const j = cli('compress', snapshot, '-o', out('snap-json.tzip'), '-m', 'rtn:4', '--json');
      assert.deepEqual(JSON.parse(j.stdout).symlinks, r.symlinks);
      const cv = cli('verify', out('snap.tzip'), '--against', snapshot);
      assert.equal(cv.status, 0, cv.stderr + cv.stdout);
    });

    it('eval reads a snapshot: the perplexity of the folder itself', async () => {
      const { snapshot } = await addSnapshot(out('hub-eval'), 'org/name', model);
      const text = out('text.txt');
      await writeFile(text, 'Symlinks are followed to the blobs they point at. '.repeat(20));
      const runs = [model, snapshot].map((m) => cli('eval', m, '--text', text, '--ctx', '64', '--json'));
      for (const e of runs) assert.equal(e.status, 0, e.stderr);
      assert.equal(JSON.parse(runs[1].stdout).perplexity, JSON.parse(runs[0].stdout).perplexity);
    });

    it('a symlinked shard, config.json and tokenizer are read and carried under their own names', async () => {
      const d = out('linked');
      await cp(model, d, { recursive: true });
      await mkdir(out('elsewhere'));
      for (const f of ['model-00001-of-00002.safetensors', 'config.json', 'tokenizer.json']) {
        await rename(path.join(d, f), path.join(out('elsewhere'), `blob-${f}`));
        await symlink(path.join(out('elsewhere'), `blob-${f}`), path.join(d, f));
      }
      const r = await compress(d, out('linked.tzip'), { method: 'rtn:4' });
      await same(out('linked.tzip'), out('ref.tzip'));
      assert.deepEqual(r.symlinks.map((l) => l.path), ['config.json', 'model-00001-of-00002.safetensors', 'tokenizer.json']);
    });

    it('follows a symlinked folder; a single .safetensors given through a symlink is reported too', async () => {
      const d = out('dirlink');
      await cp(model, d, { recursive: true });
      await rm(path.join(d, 'original'), { recursive: true });
      await symlink(path.join(model, 'original'), path.join(d, 'original'));
      const r = await compress(d, out('dirlink.tzip'), { method: 'rtn:4' });
      await same(out('dirlink.tzip'), out('ref.tzip'));
      assert.deepEqual(r.symlinks, [{ path: 'original/params.json', target: await realpath(path.join(model, 'original', 'params.json')) }]);
      await symlink(path.join(model, 'model-00002-of-00002.safetensors'), out('single.safetensors'));
      const s = await compress(out('single.safetensors'), out('single.tzip'));
      assert.deepEqual(s.symlinks, [{ path: 'single.safetensors', target: await realpath(path.join(model, 'model-00002-of-00002.safetensors')) }]);
    });

    const broken: Array<{ name: string; make: (d: string) => Promise<void>; error: RegExp }> = [
      { name: 'a dangling link', make: (d) => symlink('../../blobs/0123abcd', path.join(d, 'special_tokens_map.json')), error: /special_tokens_map\.json: a symlink to \.\.\/\.\.\/blobs\/0123abcd, which does not exist \(a dangling link\)/ },
      { name: 'a dangling shard', make: async (d) => { await rm(path.join(d, 'model-00002-of-00002.safetensors')); await symlink('gone.safetensors', path.join(d, 'model-00002-of-00002.safetensors')); }, error: /model-00002-of-00002\.safetensors: a symlink to gone\.safetensors, which does not exist/ },
      {
        name: 'a link to a FIFO',
        make: async (d) => {
          assert.equal(spawnSync('mkfifo', [path.join(d, '..', `${path.basename(d)}.pipe`)]).status, 0);
          await symlink(path.join(d, '..', `${path.basename(d)}.pipe`), path.join(d, 'tokenizer.model'));
        },
        error: /tokenizer\.model: a symlink to .*\.pipe, a FIFO, not a regular file/,
      },
      { name: 'a folder link that loops', make: (d) => symlink('..', path.join(d, 'original', 'up')), error: /original\/up: a symlink to .*, a folder that contains it \(a loop\)/ },
      { name: 'links that lead to each other', make: async (d) => { await symlink('b.txt', path.join(d, 'a.txt')); await symlink('a.txt', path.join(d, 'b.txt')); }, error: /a\.txt: a symlink to b\.txt, a chain of links that never ends \(a loop\)/ },
    ];
    for (const c of broken) {
      it(`refuses ${c.name}, naming it, with exit 1 and no output`, async () => {
        const d = out(c.name.replace(/\W+/g, '-'));
        await cp(model, d, { recursive: true });
        await c.make(d);
        await refused(['compress', d, '-o', out('broken.tzip')], out('broken.tzip'), c.error);
      });
    }
  });

  describe('carried files', () => {
    // A folder as Hugging Face repos have them: the safetensors set and its index, checkpoints in
    // other formats, an unlisted consolidated.safetensors, and the small files a model needs.
    let repo: string;
    const bytes = (n: number, seed: number) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 131 + seed * 17) & 255));
    const weights: Record<string, [number, string]> = {
      'pytorch_model.bin': [40000, '.bin'],
      'original/consolidated.00.pth': [60000, '.pth'],
      'tf_model.h5': [3000, '.h5'],
      'flax_model.msgpack': [3000, '.msgpack'],
      'onnx/model.onnx': [2000, '.onnx'],
      'model-q4.gguf': [2500, '.gguf'],
      'training_args.bin': [500, '.bin'],
    };
    const kept = ['original/params.json', 'original/tokenizer.model', 'README.md', 'vocab.txt', '.gitattributes', 'pytorch_model.bin.index.json'];
    const sizeOf = async (f: string) => (await readFile(path.join(repo, f))).length;

    before(async () => {
      repo = out('repo');
      await generateCheckpoint(repo, { ...SMALL, shards: 2 });
      await mkdir(path.join(repo, 'original'));
      await mkdir(path.join(repo, 'onnx'));
      let seed = 0;
      for (const [f, [n]] of Object.entries(weights)) await writeFile(path.join(repo, f), bytes(n, seed++));
      for (const f of kept) await writeFile(path.join(repo, f), bytes(300, seed++));
      await writeFile(path.join(repo, 'consolidated.safetensors'), await readFile(path.join(repo, 'model-00001-of-00002.safetensors')));
    });

    it('skips weight files that are not the safetensors set, says what and how much, and leaves them out of the ratio', async () => {
      const r = await compress(repo, out('repo.tzip'), { method: 'rtn:4' });
      const skipped = [...Object.keys(weights), 'consolidated.safetensors'].sort();
      assert.deepEqual(r.skipped.map((f) => f.path), skipped);
      for (const f of r.skipped) assert.equal(f.bytes, await sizeOf(f.path), f.path);
      for (const [f, [, ext]] of Object.entries(weights)) assert.equal(r.skipped.find((x) => x.path === f)!.why, `weights in another format (${ext})`);
      assert.equal(r.skipped.find((x) => x.path === 'consolidated.safetensors')!.why, "safetensors not in the model's set (model.safetensors.index.json)");
      for (const f of [...kept, 'config.json', 'tokenizer.json', 'model.safetensors.index.json']) assert.ok(r.files.includes(f), f);
      assert.equal(r.files.length, kept.length + 5);
      let carried = 0, shards = 0;
      for (const f of r.files) carried += await sizeOf(f);
      for (const f of ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']) shards += await sizeOf(f);
      assert.equal(r.carriedBytes, carried);
      assert.equal(r.weightBytes, shards);
      assert.equal(r.originalBytes, shards + carried, 'skipped files are not in the numerator');
      assert.equal(r.ratio, r.originalBytes / r.containerBytes);
      assert.equal((await inspect(out('repo.tzip'))).meta.totals.originalBytes, shards + carried);
      await decompress(out('repo.tzip'), out('repo-out'));
      for (const f of skipped) await assert.rejects(readFile(path.join(out('repo-out'), f)), { code: 'ENOENT' });
      const v = await verify(out('repo.tzip'), repo);
      assert.ok(v.ok, v.problems.join('; '));
      const c = cli('compress', repo, '-o', out('repo-cli.tzip'), '-m', 'rtn:4');
      assert.equal(c.status, 0, c.stderr);
      assert.match(c.stdout, new RegExp(`^original: +[0-9.]+ kB \\(${r.originalBytes} bytes: [0-9.]+ kB of safetensors with 12 tensors \\+ 7\\.1 kB in 11 carried files\\)$`, 'm'));
      assert.match(c.stdout, /^skipped: +8 files, 224\.7 kB, not in the container nor in the ratio: consolidated\.safetensors \(113\.7 kB, safetensors not in the model's set \(model\.safetensors\.index\.json\)\), original\/consolidated\.00\.pth \(60\.0 kB, weights in another format \(\.pth\)\), pytorch_model\.bin \(40\.0 kB, .*, and 3 more; --include <glob> carries a file$/m);
    });

    it('--include wins over --exclude, which wins over the default; globs without a slash match names at any depth', async () => {
      const r = await compress(repo, out('sel.tzip'), { method: 'rtn:4', exclude: ['original/*', 'README.md', '*.txt'], include: ['original/params.json', '*.bin', '*.nothing'] });
      assert.ok(r.files.includes('original/params.json'), 'include beats exclude');
      assert.ok(r.files.includes('pytorch_model.bin') && r.files.includes('training_args.bin'), 'include beats the default');
      assert.deepEqual(r.skipped.filter((f) => f.why.startsWith('--exclude')).map((f) => [f.path, f.why]), [
        ['README.md', '--exclude "README.md"'],
        ['original/consolidated.00.pth', '--exclude "original/*"'],
        ['original/tokenizer.model', '--exclude "original/*"'],
        ['vocab.txt', '--exclude "*.txt"'],
      ]);
      assert.deepEqual(r.unmatched, ['--include "*.nothing"']);
      assert.deepEqual((await inspect(out('sel.tzip'))).meta.options, { method: 'rtn:4:g32', coder: 'rans', lzma: 'auto', exclude: ['original/*', 'README.md', '*.txt'], include: ['original/params.json', '*.bin', '*.nothing'] });
      // verify reads the original as the run did: the excluded files are not 'missing from the container'.
      const v = await verify(out('sel.tzip'), repo);
      assert.ok(v.ok, JSON.stringify(v.problems ?? v));
      await decompress(out('sel.tzip'), out('sel-out'));
      assert.ok((await readFile(path.join(out('sel-out'), 'pytorch_model.bin'))).equals(await readFile(path.join(repo, 'pytorch_model.bin'))));
      const c = cli('compress', repo, '-o', out('sel-cli.tzip'), '-m', 'rtn:4', '--exclude', 'original/*', '--exclude', 'README.md', '--exclude', '*.txt', '--include', 'original/params.json', '--include', '*.bin', '--include', '*.nothing', '--json');
      assert.equal(c.status, 0, c.stderr);
      const j = JSON.parse(c.stdout);
      assert.deepEqual([j.files, j.skipped, j.unmatched, j.carriedBytes], [r.files, r.skipped, r.unmatched, r.carriedBytes]);
      assert.ok((await readFile(out('sel-cli.tzip'))).equals(await readFile(out('sel.tzip'))), 'the CLI and the library agree');
    });

    it('a dangling link or a FIFO among the skipped files does no harm (nothing reads them)', async () => {
      const d = out('skip-broken');
      await cp(repo, d, { recursive: true });
      await symlink('../../blobs/not-downloaded', path.join(d, 'model-q8.gguf'));
      assert.equal(spawnSync('mkfifo', [path.join(d, 'notes.fifo')]).status, 0);
      const r = await compress(d, out('skip-broken.tzip'), { method: 'rtn:4', exclude: ['*.fifo'] });
      assert.deepEqual(r.skipped.find((f) => f.path === 'model-q8.gguf'), { path: 'model-q8.gguf', bytes: 0, why: 'weights in another format (.gguf)' });
      assert.deepEqual(r.skipped.find((f) => f.path === 'notes.fifo'), { path: 'notes.fifo', bytes: 0, why: '--exclude "*.fifo"' });
    });

    it('an --exclude that names a shard of the index is refused; without an index it picks the shards', async () => {
      await refused(['compress', repo, '-o', out('noshard.tzip'), '--exclude', 'model-00002-*'], out('noshard.tzip'),
        /--exclude "model-00002-\*" matches model-00002-of-00002\.safetensors, a shard of the model \(named by model\.safetensors\.index\.json\); the shards are always read/);
      const loose = out('loose');
      await mkdir(loose);
      await writeFile(path.join(loose, 'a.safetensors'), await readFile(path.join(repo, 'model-00001-of-00002.safetensors')));
      await writeFile(path.join(loose, 'b.safetensors'), await readFile(path.join(repo, 'model-00001-of-00002.safetensors')));
      await assert.rejects(compress(loose, out('loose.tzip')), /also appears in a\.safetensors/);
      const r = await compress(loose, out('loose.tzip'), { exclude: ['b.*'] });
      assert.deepEqual(r.skipped, [{ path: 'b.safetensors', bytes: await sizeOf('model-00001-of-00002.safetensors'), why: '--exclude "b.*"' }]);
      assert.equal(r.originalBytes, r.weightBytes);
    });

    it('the globs are part of the run: parts merge only with parts of the same globs, into the container compress writes', async () => {
      const opts = { method: 'rtn:4', exclude: ['README.md'], include: ['*.bin'], threads: 2 };
      const part = (i: number, o: object, name: string) => compressShard(repo, out(name), { ...o, shard: { index: i, count: 2 } }).then(() => out(name));
      const parts = [await part(0, opts, 's0.part'), await part(1, opts, 's1.part')];
      await merge(parts, out('merged.tzip'));
      await compress(repo, out('whole.tzip'), opts);
      assert.ok((await readFile(out('merged.tzip'))).equals(await readFile(out('whole.tzip'))));
      // A glob that matches nothing changes no file list, but still makes another run.
      const other = await part(1, { ...opts, exclude: ['README.md', 'none.txt'] }, 's1-other.part');
      await assert.rejects(merge([parts[0], other], out('mixed.tzip')), /were made with different options/);
      const plain = await part(1, { method: 'rtn:4', threads: 2 }, 's1-plain.part');
      await assert.rejects(merge([parts[0], plain], out('mixed.tzip')), /were made with different options/);
    });
  });
});
