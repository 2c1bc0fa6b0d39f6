// The container reader cross-checks the shard structure (lib/container/structure.ts), and
// decompress and verify share the decoding of what decompress writes (lib/container/output.ts).
// Each crafted container below was once decompressed with exit 0 while dropping or overwriting
// data, or decompressed with an error while verify said OK; now inspect, decompress and verify
// all refuse it, with a message naming what is wrong.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { compress } from '../lib/pipeline/compress';
import { SafetensorsFile } from '../lib/io/safetensors';
import { decompress } from '../lib/pipeline/decompress';
import { inspect } from '../lib/pipeline/inspect';
import { verify } from '../lib/pipeline/verify';
import { cliPath } from './helpers';
import { containerHeader, editMeta, editRawPiece, joinSafetensors, smallModelDir, splitSafetensors } from './malformed';

type Case = { name: string; mutate: (c: Buffer) => Buffer; error: RegExp; /** found while decoding, not from the metadata alone */ decoding?: boolean };

const SHARD0 = 'model-00001-of-00002.safetensors';
const SHARD1 = 'model-00002-of-00002.safetensors';
const HEADER0 = `__header__:${SHARD0}:tz:0`;

/** The stored header of shard 0 (a raw piece: lzma off) edited, its checksums kept valid. */
const editStoredHeader = (c: Buffer, edit: (b: Buffer) => void) =>
  editMeta(editRawPiece(c, HEADER0, (m) => m.source.shards[0].header.pieces[0], edit), (m) => (m.source.shards[0].header.crc32 = m.source.shards[0].header.pieces[0].crc32));

const cases: Case[] = [
  { name: 'a tensor in no shard list', mutate: (c) => editMeta(c, (m) => m.source.shards[1].tensors.pop()), error: /tensor "c\.bias" is in no shard's list of tensors/ },
  {
    name: 'a shard listing a tensor the container does not hold',
    mutate: (c) => editMeta(c, (m) => m.source.shards[1].tensors.push('ghost')),
    error: new RegExp(`shard 1 \\("${SHARD1}"\\) lists tensor "ghost", which the container does not hold`),
  },
  { name: 'a tensor listed by two shards', mutate: (c) => editMeta(c, (m) => m.source.shards[1].tensors.push('a.norm')), error: /tensor "a\.norm" is listed by shard 0 \(.*\) and by shard 1/ },
  { name: 'a tensor listed twice by its shard', mutate: (c) => editMeta(c, (m) => m.source.shards[1].tensors.push('c.weight')), error: /tensor "c\.weight" is listed twice by shard 1/ },
  {
    name: 'a tensor listed by another shard than its own',
    mutate: (c) => editMeta(c, (m) => m.source.shards[0].tensors.push(m.source.shards[1].tensors.pop())),
    error: /tensor "c\.bias" belongs to shard 1 \(.*\) but is listed by shard 0/,
  },
  {
    name: 'tensors not in shard order',
    mutate: (c) => editMeta(c, (m) => m.tensors.push(m.tensors.shift())),
    error: /tensors are not listed shard by shard in data order: tensors\[0\] is "a\.norm", the shards list "a\.weight"/,
  },
  { name: 'a single-file container with two shards', mutate: (c) => editMeta(c, (m) => (m.source.kind = 'file')), error: /a single-file container \(source\.kind "file"\) has exactly one shard, not 2/ },
  {
    name: 'a single-file container with carried files',
    mutate: (c) =>
      splitSafetensors(c, (h) => {
        const m = JSON.parse(h.__metadata__.tensorzip);
        m.source.kind = 'file';
        m.source.shards.pop();
        m.tensors = m.tensors.filter((t: any) => t.shard === 0);
        for (const k of Object.keys(h)) if (k.startsWith('c.')) delete h[k];
        h.__metadata__.tensorzip = JSON.stringify(m);
      }),
    error: /a single-file container \(source\.kind "file"\) carries no other files, but lists 3/,
  },
  { name: 'two shards at one path', mutate: (c) => editMeta(c, (m) => (m.source.shards[1].path = SHARD0)), error: new RegExp(`shard 0 \\("${SHARD0}"\\) and shard 1 \\("${SHARD0}"\\) are both written to "${SHARD0}"`) },
  { name: 'a shard at a carried file\'s path', mutate: (c) => editMeta(c, (m) => (m.source.shards[1].path = 'config.json')), error: /shard 1 \("config\.json"\) and files\[0\] are both written to "config\.json"/ },
  { name: 'two carried files at one path', mutate: (c) => editMeta(c, (m) => (m.files[1].path = m.files[0].path)), error: /files\[0\] and files\[1\] are both written to "config\.json"/ },
  {
    name: 'a path that another needs as a directory',
    mutate: (c) => editMeta(c, (m) => (m.source.shards[1].path = 'tokenizer')),
    error: /shard 1 \("tokenizer"\) is written to "tokenizer", which files\[2\] \("tokenizer\/vocab\.txt"\) needs as a directory/,
  },
  { name: 'a shard header record for another path', mutate: (c) => editMeta(c, (m) => (m.source.shards[0].header.path = 'other.safetensors')), error: /shard 0 \(.*\): its header record is for "other\.safetensors"/ },
  {
    name: 'an exact shard whose size is not header + data',
    mutate: (c) => editMeta(c, (m) => (m.source.shards[0].bytes += 8)),
    error: /shard 0 \(.*\): an exact layout is \d+ header bytes \+ 16664 data bytes, but the shard is recorded as \d+ bytes/,
  },
  {
    name: 'a stored header with a wrong length prefix',
    mutate: (c) => editStoredHeader(c, (b) => (b[0] ^= 8)),
    error: new RegExp(`shard ${SHARD0}: the stored header has a wrong length prefix \\(corrupted container\\)`),
    decoding: true,
  },
  {
    name: 'a stored header naming another tensor',
    mutate: (c) => editStoredHeader(c, (b) => b.write('a.nore', b.indexOf('a.norm'))),
    error: /the stored header does not match its tensors \(tensor 1: header "a\.nore" F32 \[64\], records "a\.norm" F32 \[64\]\)/,
    decoding: true,
  },
];

describe('container structure: refused by inspect, decompress and verify', function () {
  this.timeout(120000);
  let dir: string;
  let model: string;
  let base: Buffer;

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'tz-structure-'));
    model = await smallModelDir(path.join(dir, 'model'));
    await compress(model, path.join(dir, 'base.tzip'), { method: 'rtn:4', lzma: 'off' });
    base = await readFile(path.join(dir, 'base.tzip'));
    assert.ok((await verify(path.join(dir, 'base.tzip'), model)).ok);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  for (const c of cases)
    it(c.name, async () => {
      const file = path.join(dir, `${c.name.replace(/\W+/g, '_')}.tzip`);
      await writeFile(file, c.mutate(base));
      if (c.decoding) await inspect(file);
      else await assert.rejects(inspect(file), c.error);
      const r = spawnSync(process.execPath, [cliPath, 'decompress', file, '-o', path.join(dir, 'out')], { encoding: 'utf8' });
      assert.equal(r.status, 1, `decompress: exit ${r.status}: ${r.stderr}`);
      assert.match(r.stderr.trim(), /^tensorzip: [^\n]*$/);
      assert.match(r.stderr, c.error);
      assert.deepEqual((await readdir(dir)).filter((f) => f.includes('out')), [], 'no output left behind');
      await assert.rejects(verify(file, model), c.error);
    });

  it('a repacked shard whose tensors would misalign back to back comes back with the larger elements first', async () => {
    // An F32 tensor after 3 bytes: the original aligns it with a gap; safetensors allows no gaps,
    // so the rebuilt file puts f first.
    const file = path.join(dir, 'unaligned.safetensors');
    const header = { u: { dtype: 'U8', shape: [3], data_offsets: [0, 3] }, f: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } };
    const data = Buffer.from([1, 2, 3, 0, ...new Uint8Array(new Float32Array([1.5, -2.25]).buffer)]);
    await writeFile(file, joinSafetensors(Buffer.from(JSON.stringify(header)), data));
    await compress(file, path.join(dir, 'unaligned.tzip'));
    const back = path.join(dir, 'unaligned-out.safetensors');
    await decompress(path.join(dir, 'unaligned.tzip'), back);
    const out = await SafetensorsFile.open(back);
    try {
      assert.deepEqual(out.header.tensors.map((t) => [t.name, t.offset - out.header.dataStart]), [['f', 0], ['u', 8]]);
      assert.deepEqual([...new Float32Array(Uint8Array.from(await out.read(out.tensor('f')!)).buffer)], [1.5, -2.25]);
      assert.deepEqual([...(await out.read(out.tensor('u')!))], [1, 2, 3]);
    } finally {
      await out.close();
    }
    assert.ok((await verify(path.join(dir, 'unaligned.tzip'), file)).ok);
  });

  it('the unedited container has the structure the cases edit', () => {
    const { meta } = containerHeader(base);
    assert.deepEqual(meta.source.shards.map((s: any) => [s.path, s.layout, s.tensors]), [
      [SHARD0, 'exact', ['a.weight', 'a.norm', 'b.ids']],
      [SHARD1, 'repacked', ['c.weight', 'c.bias']],
    ]);
    assert.deepEqual(meta.files.map((f: any) => f.path), ['config.json', 'model.safetensors.index.json', 'tokenizer/vocab.txt']);
  });
});
