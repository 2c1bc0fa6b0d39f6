// Model folders as they are on disk: shard names from the index, symlinks (a Hugging Face cache
// snapshot is nothing but symlinks into ../../blobs), and which other files a container carries.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, readFile, realpath, rename, rm, symlink, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { compress, type CompressReport } from '../lib/compress';
import { decompress } from '../lib/decompress';
import { generateCheckpoint } from '../lib/generate';
import { verify } from '../lib/verify';
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
});
