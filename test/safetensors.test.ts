// safetensors I/O: streaming atomic writer, validating reader with positional reads, and the
// strict JSON parser underneath it.
import { strict as assert } from 'node:assert';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { SafetensorsFile } from '../lib/io/safetensors';
import { SafetensorsWriter } from '../lib/io/safetensors-writer';
import { parseStrictJson } from '../lib/io/strict-json';

describe('safetensors I/O', () => {
  let dir: string;
  before(async () => (dir = await mkdtemp(path.join(os.tmpdir(), 'tz-st-'))));
  after(() => rm(dir, { recursive: true, force: true }));

  it('writes a valid file and reads every tensor back by position', async () => {
    const file = path.join(dir, 'a.safetensors');
    const tensors = [
      { name: 'f64', dtype: 'F64' as const, shape: [3] },
      { name: 'w', dtype: 'F32' as const, shape: [2, 3] },
      { name: 'ids', dtype: 'I32' as const, shape: [2] },
      { name: 'h', dtype: 'BF16' as const, shape: [3] },
      { name: 'mask', dtype: 'BOOL' as const, shape: [5] },
      { name: 'empty', dtype: 'U8' as const, shape: [0, 4] },
    ];
    const w = await SafetensorsWriter.create(file, tensors, { format: 'pt' });
    const data = [new Float64Array([1, 2, 3]), new Float32Array([1, 2, 3, 4, 5, 6]), new Int32Array([-1, 7]), new Uint16Array([0x3f80, 0x4000, 0x4040]), new Uint8Array([1, 0, 1, 1, 0])];
    for (const d of data) await w.write(new Uint8Array(d.buffer));
    await w.finish();
    const raw = await readFile(file);
    assert.equal(Number(raw.readBigUInt64LE(0)) % 8, 0, 'data section starts 8-byte aligned');
    const r = await SafetensorsFile.open(file);
    try {
      assert.deepEqual(r.header.metadata, { format: 'pt' });
      assert.deepEqual(r.header.tensors.map((t) => t.name), ['f64', 'w', 'ids', 'h', 'mask', 'empty']);
      const wt = r.tensor('w')!;
      assert.deepEqual([...new Float32Array(Uint8Array.from(await r.read(wt)).buffer)], [1, 2, 3, 4, 5, 6]);
      const part = await r.read(wt, 8, 8);
      assert.deepEqual([...new Float32Array(Uint8Array.from(part).buffer)], [3, 4]);
      assert.equal((await r.read(r.tensor('empty')!)).length, 0);
      await assert.rejects(r.read(wt, 20, 8), /outside tensor w/);
    } finally {
      await r.close();
    }
  });

  it('leaves nothing behind when aborted, and refuses too much or too little data', async () => {
    const file = path.join(dir, 'b.safetensors');
    const w = await SafetensorsWriter.create(file, [{ name: 'x', dtype: 'F32', shape: [2] }]);
    await assert.rejects(w.write(new Uint8Array(12)), /receives more than its 8 bytes/);
    await w.abort();
    const w2 = await SafetensorsWriter.create(file, [{ name: 'x', dtype: 'F32', shape: [2] }]);
    await w2.write(new Uint8Array(4));
    await assert.rejects(w2.finish(), /tensor x is incomplete/);
    assert.deepEqual((await readdir(dir)).filter((f) => f.includes('b.safetensors')), []);
  });

  it('refuses layouts that would misalign a tensor, and duplicate names', async () => {
    await assert.rejects(SafetensorsWriter.create(path.join(dir, 'c.safetensors'), [{ name: 'a', dtype: 'U8', shape: [3] }, { name: 'b', dtype: 'F32', shape: [1] }]), /not aligned/);
    await assert.rejects(SafetensorsWriter.create(path.join(dir, 'c.safetensors'), [{ name: 'a', dtype: 'U8', shape: [3] }, { name: 'a', dtype: 'U8', shape: [1] }]), /duplicate/);
  });
});

describe('strict JSON', () => {
  it('parses what JSON.parse parses', () => {
    const text = '{"a":[1,-2.5e3,true,false,null,"x\\"y\\u00e9"],"b":{"c":{}}, "d": [] }   ';
    assert.deepEqual(parseStrictJson(text), JSON.parse(text));
  });
  it('rejects duplicate keys, deep nesting, trailing data and bad tokens', () => {
    assert.throws(() => parseStrictJson('{"a":1,"a":2}'), /duplicate key "a"/);
    assert.throws(() => parseStrictJson('['.repeat(100) + ']'.repeat(100)), /nesting too deep/);
    assert.throws(() => parseStrictJson('{} x'), /trailing characters/);
    assert.throws(() => parseStrictJson('{"a":01}'), /expected ',' or '}'/);
    assert.throws(() => parseStrictJson('{"a":"\u0001"}'), /control character/);
    assert.throws(() => parseStrictJson('{"a":'), /unexpected end/);
    assert.throws(() => parseStrictJson('{"a":"x'), /unterminated string/);
  });
});
