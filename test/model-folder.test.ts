// Model folders as they are on disk: shard names from the index, symlinks (a Hugging Face cache
// snapshot is nothing but symlinks into ../../blobs), and which other files a container carries.
import { strict as assert } from 'node:assert';
import { mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { compress } from '../lib/compress';
import { decompress } from '../lib/decompress';
import { generateCheckpoint } from '../lib/generate';
import { verify } from '../lib/verify';

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
});
