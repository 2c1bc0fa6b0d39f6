// Golden containers: .tzip files written by an earlier version, committed under test/fixtures/golden.
// Every method, layout and stage has one. Today's compress must write them again byte for byte
// from the same generated model and options, and today's decompress must give back the files they
// decoded to then (sha256 in manifest.json). So a change inside the pipeline, the kernels or the
// container code cannot change a container's bytes or what an old container decodes to unnoticed.
// Containers of older versions whose compress no longer writes them (the default coder was LZMA
// before rANS) live in a folder each (lzma-0.1/): they must still decode to the same files.
//
// To write them anew (only after a deliberate format change, or a version bump, which changes the
// `tool` field): TENSORZIP_WRITE_GOLDEN=1 npx mocha --no-config dist/test/golden.test.js
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { compress, type CompressOptions } from '../lib/pipeline/compress';
import { decompress } from '../lib/pipeline/decompress';
import { generateCheckpoint, tensorList } from '../lib/tools/generate';
import { SafetensorsWriter } from '../lib/io/safetensors-writer';
import { bytesOf } from '../lib/methods/f32';
import { Rng } from '../lib/core/random';
import { root } from './helpers';

const GOLDEN = path.join(root, 'test', 'fixtures', 'golden');
const WRITE = process.env.TENSORZIP_WRITE_GOLDEN === '1';
/** Folders of containers from versions before a deliberate format change. */
const OLDER = ['lzma-0.1'];
const SHAPE = { hidden: 64, intermediate: 176, layers: 1, heads: 4, kvHeads: 2, vocab: 320 };

/** Each golden container: the input (the sharded folder, or its first shard alone) and options. */
const CASES: Array<{ name: string; input: 'folder' | 'file'; options: CompressOptions & { importance?: 'imatrix' } }> = [
  { name: 'lossless', input: 'folder', options: {} },
  { name: 'default-rtn4', input: 'folder', options: { method: 'rtn:4' } },
  { name: 'rtn4-lzma-off', input: 'folder', options: { method: 'rtn:4', lzma: 'off' } },
  { name: 'rtn4-lzma', input: 'folder', options: { method: 'rtn:4', coder: 'lzma' } },
  { name: 'file-rtn6', input: 'file', options: { method: 'rtn:6:g64' } },
  {
    name: 'mixed',
    input: 'folder',
    options: {
      policy: {
        '*q_proj*': 'seedlm:4',
        '*k_proj*': 'seedlm:3:fast',
        '*v_proj*': 'ternary',
        '*o_proj*': 'ternary:g64:p2:opt',
        '*gate_proj*': 'vptq:2',
        '*up_proj*': 'vptq:v4:k256:r16:norm',
        '*down_proj*': 'rtn:3:g64',
        '*embed_tokens*': 'rtn:8',
        'lm_head*': 'ternary:row:p3',
      },
    },
  },
  { name: 'importance', input: 'folder', options: { importance: 'imatrix', policy: { '*o_proj*': 'rtn:4', '*gate_proj*': 'ternary:opt', '*up_proj*': 'vptq:2', '*down_proj*': 'ternary:row:opt' } } },
];

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** sha256 of every file under `dir` (or of the file itself), by relative path. */
async function hashes(p: string, base = p): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const entries = await readdir(p, { withFileTypes: true }).catch(() => undefined);
  if (!entries) return { [path.basename(p)]: sha256(await readFile(p)) };
  for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    const full = path.join(p, e.name);
    if (e.isDirectory()) Object.assign(out, await hashes(full, base));
    else out[path.relative(base, full)] = sha256(await readFile(full));
  }
  return out;
}

/** An importance file for the model: one deterministic positive vector per weight matrix. */
async function writeImportanceFile(file: string): Promise<void> {
  const matrices = tensorList(SHAPE).filter((t) => t.shape.length === 2);
  const rng = new Rng(7);
  const writer = await SafetensorsWriter.create(file, matrices.map((t) => ({ name: t.name, dtype: 'F32' as const, shape: [t.shape[1]] })));
  for (const t of matrices) await writer.write(bytesOf(Float32Array.from({ length: t.shape[1] }, () => 0.1 + Math.abs(rng.normal()))));
  await writer.finish();
}

describe('golden containers (written by an earlier version)', function () {
  this.timeout(300000);
  let dir: string;
  let manifest: Record<string, Record<string, string>>;
  const inputs: Record<string, string> = {};

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'tz-golden-'));
    // The checkpoint is generated, not committed: generateCheckpoint is deterministic, and the
    // lossless case pins its bytes (it decodes to them exactly).
    inputs.folder = (await generateCheckpoint(path.join(dir, 'model'), { ...SHAPE, shards: 2, seed: 5 })).dir;
    inputs.file = path.join(inputs.folder, 'model-00001-of-00002.safetensors');
    await writeImportanceFile(path.join(dir, 'imatrix.safetensors'));
    if (WRITE) await mkdir(GOLDEN, { recursive: true });
    manifest = WRITE ? {} : JSON.parse(await readFile(path.join(GOLDEN, 'manifest.json'), 'utf8'));
  });
  after(async () => {
    if (WRITE) await writeFile(path.join(GOLDEN, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
    await rm(dir, { recursive: true, force: true });
  });

  for (const c of CASES)
    it(`${c.name}: compress writes the golden container byte for byte, and it decodes to the golden files`, async () => {
      const golden = path.join(GOLDEN, `${c.name}.tzip`);
      const made = path.join(dir, `${c.name}.tzip`);
      const importance = c.options.importance ? path.join(dir, 'imatrix.safetensors') : undefined;
      await compress(inputs[c.input], made, { ...c.options, importance, threads: 2, device: 'cpu' });
      const back = path.join(dir, `${c.name}-out`);
      if (WRITE) {
        await writeFile(golden, await readFile(made));
        await decompress(golden, c.input === 'file' ? back + '.safetensors' : back);
        manifest[c.name] = await hashes(c.input === 'file' ? back + '.safetensors' : back);
        return;
      }
      assert.ok((await readFile(made)).equals(await readFile(golden)), `${c.name}: compress no longer writes the golden container`);
      const target = c.input === 'file' ? back + '.safetensors' : back;
      await decompress(golden, target, { threads: 1 });
      assert.deepEqual(await hashes(target), manifest[c.name], `${c.name}: the golden container decodes to other files`);
    });

  it('the lossless golden container decodes to the generated model, byte for byte', async function () {
    if (WRITE) this.skip();
    assert.deepEqual(manifest.lossless, await hashes(inputs.folder));
  });

  for (const older of OLDER)
    it(`${older}: every container of that version decodes to the files it decoded to then`, async () => {
      const folder = path.join(GOLDEN, older);
      const recorded: Record<string, Record<string, string>> = JSON.parse(await readFile(path.join(folder, 'manifest.json'), 'utf8'));
      assert.ok(Object.keys(recorded).length >= 5);
      for (const [name, files] of Object.entries(recorded)) {
        const single = Object.keys(files).length === 1;
        const target = path.join(dir, `${older}-${name}-out${single ? '.safetensors' : ''}`);
        await decompress(path.join(folder, `${name}.tzip`), target, { threads: 2 });
        const got = await hashes(target);
        assert.deepEqual(single ? Object.values(got) : got, single ? Object.values(files) : files, `${older}/${name}`);
      }
    });
});
