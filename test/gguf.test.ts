// GGUF v3 (lib/interop/gguf.ts): the bytes of the format's definition, a round trip of every
// value kind and tensor type through the writer and the reader, and refusals of damaged files.
import { strict as assert } from 'node:assert';
import { mkdtemp, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { ggufHeader, GgufFile, gguf, GGML_TYPES, ggmlBytes, writeGguf, type GgmlType, type GgufTensorSource, type GgufValue } from '../lib/interop/gguf';
import { native } from '../lib/native';
import { f16ToF32 } from '../lib/convert';
import { gaussian } from './helpers';

/** ggml's dequantization of Q8_0, Q5_0 and Q4_0 blocks, from their definitions. */
function dequantize(type: 'Q8_0' | 'Q5_0' | 'Q4_0', blocks: Uint8Array): Float32Array {
  const size = GGML_TYPES[type].blockBytes;
  const n = blocks.length / size;
  const out = new Float32Array(n * 32);
  const view = new DataView(blocks.buffer, blocks.byteOffset, blocks.byteLength);
  for (let b = 0; b < n; b++) {
    const at = b * size;
    const d = f16ToF32(Uint16Array.of(view.getUint16(at, true)))[0];
    for (let j = 0; j < 32; j++) {
      let q: number;
      if (type === 'Q8_0') q = view.getInt8(at + 2 + j);
      else if (type === 'Q4_0') q = ((blocks[at + 2 + (j % 16)] >> (j < 16 ? 0 : 4)) & 15) - 8;
      else {
        const qh = view.getUint32(at + 2, true);
        q = (((blocks[at + 6 + (j % 16)] >> (j < 16 ? 0 : 4)) & 15) | (((qh >>> j) & 1) << 4)) - 16;
      }
      out[b * 32 + j] = Math.fround(q * d);
    }
  }
  return out;
}

describe('GGUF', () => {
  let dir: string;
  before(async () => (dir = await mkdtemp(path.join(os.tmpdir(), 'tz-gguf-'))));
  after(() => rm(dir, { recursive: true, force: true }));

  it('writes the header as the format defines it, byte for byte', () => {
    const { header } = ggufHeader([['a', gguf.u32(7)]], [{ name: 't', dims: [32, 2], type: 'Q8_0' }]);
    const expected = Buffer.concat([
      Buffer.from('GGUF', 'latin1'),
      Buffer.from([3, 0, 0, 0]), // version
      Buffer.from([1, 0, 0, 0, 0, 0, 0, 0]), // tensors
      Buffer.from([1, 0, 0, 0, 0, 0, 0, 0]), // metadata entries
      Buffer.from([1, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('a'), // key
      Buffer.from([4, 0, 0, 0]), Buffer.from([7, 0, 0, 0]), // u32 7
      Buffer.from([1, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('t'), // tensor name
      Buffer.from([2, 0, 0, 0]), // dimensions
      Buffer.from([32, 0, 0, 0, 0, 0, 0, 0]), Buffer.from([2, 0, 0, 0, 0, 0, 0, 0]),
      Buffer.from([8, 0, 0, 0]), // Q8_0
      Buffer.from([0, 0, 0, 0, 0, 0, 0, 0]), // offset
    ]);
    assert.ok(header.subarray(0, expected.length).equals(expected));
    assert.equal(header.length, 96); // 85 bytes padded to the alignment of 32
    assert.ok(header.subarray(expected.length).every((b) => b === 0));
  });

  it('round-trips every metadata kind and tensor type, tensors aligned and streamed in pieces', async () => {
    const metadata: Array<[string, GgufValue]> = [
      ['general.architecture', gguf.string('llama')],
      ['u8', { kind: 'u8', value: 255 }],
      ['i8', { kind: 'i8', value: -128 }],
      ['u16', { kind: 'u16', value: 65535 }],
      ['i16', { kind: 'i16', value: -32768 }],
      ['u32', gguf.u32(4294967295)],
      ['i32', gguf.i32(-2147483648)],
      ['f32', gguf.f32(0.5)],
      ['bool', gguf.bool(true)],
      ['u64', { kind: 'u64', value: 2n ** 63n }],
      ['i64', { kind: 'i64', value: -(2n ** 63n) }],
      ['f64', { kind: 'f64', value: Math.PI }],
      ['tokens', gguf.strings(['a', 'ü', '', '<s>'])],
      ['types', gguf.i32s([1, 2, 3, 6])],
      ['scores', gguf.f32s([-1.5, 0])],
    ];
    const types = Object.keys(GGML_TYPES) as GgmlType[];
    const tensors: Array<GgufTensorSource & { bytes: Uint8Array }> = types.map((type, i) => {
      const dims = [GGML_TYPES[type].blockElements * 2, 3];
      const bytes = Uint8Array.from({ length: ggmlBytes(type, dims[0] * dims[1]) }, (_, k) => (k * 7 + i) & 255);
      return {
        name: `blk.${i}.${type}`,
        dims,
        type,
        bytes,
        async *data() {
          for (let k = 0; k < bytes.length; k += 5) yield bytes.subarray(k, k + 5);
        },
      };
    });
    const file = path.join(dir, 'all.gguf');
    const size = await writeGguf(file, metadata, tensors, { alignment: 64 });
    assert.equal((await readFile(file)).length, size);
    const g = await GgufFile.open(file);
    try {
      assert.equal(g.version, 3);
      for (const [key, value] of metadata) assert.deepEqual(g.metadata.get(key), value, key);
      assert.equal(g.scalar('general.alignment'), 64);
      assert.equal(g.tensors.length, tensors.length);
      for (const t of tensors) {
        const r = g.tensor(t.name)!;
        assert.deepEqual([r.dims, r.type, r.offset % 64], [t.dims, t.type, 0]);
        assert.ok((await g.read(r)).equals(t.bytes), t.name);
      }
    } finally {
      await g.close();
    }
  });

  it('leaves nothing behind when a tensor source gives the wrong number of bytes', async () => {
    const sub = await mkdtemp(path.join(dir, 'fail-'));
    for (const n of [33, 35]) {
      const bad: GgufTensorSource = { name: 'x', dims: [32], type: 'Q8_0', async *data() { yield new Uint8Array(n); } };
      await assert.rejects(writeGguf(path.join(sub, 'x.gguf'), [], [bad]), /x: (more than its 34 bytes|35|33 bytes written, 34 expected)/);
    }
    assert.deepEqual(await readdir(sub), []);
    await assert.rejects(writeGguf(path.join(sub, 'y.gguf'), [], [{ name: 'y', dims: [30], type: 'Q4_0', async *data() {} }]), /rows of 30 values do not split into Q4_0 blocks of 32/);
    await assert.rejects(writeGguf(path.join(sub, 'y.gguf'), [['k', gguf.u32(1)], ['k', gguf.u32(2)]], []), /k given twice/);
    assert.deepEqual(await readdir(sub), []);
  });

  it('rtn groups of 32 become Q8_0, Q5_0 and Q4_0 blocks that ggml decodes to exactly the weights rtn decodes', async () => {
    const n = 32 * 1000;
    const w = gaussian(n, 3, 0.05);
    w[7] = 0; w[100] = -0.3; w[101] = 0.3; // a zero and a group's extremes
    w.fill(0, 64, 96); // an all-zero group (scale 0)
    for (const [bits, type] of [[8, 'Q8_0'], [5, 'Q5_0'], [4, 'Q4_0']] as const) {
      const codes = new Uint8Array((n * bits) / 8);
      const scales = new Uint16Array(n / 32);
      await native.rtnEncode({ weights: w, bits, group: 32, codes, scales }).promise; // a job on its own thread
      const want = new Float32Array(n);
      native.kernelRow('rtn_decode', { codes, scales, bits, group: 32, out: want });
      const out = new Uint8Array(ggmlBytes(type, n));
      native.rtnGgmlBlocks({ bits, codes, scales, out });
      const got = dequantize(type, out);
      for (let i = 0; i < n; i++) assert.ok(Object.is(got[i], want[i]) || (got[i] === 0 && want[i] === 0), `${type} weight ${i}: ${got[i]} vs ${want[i]}`);
      // A code rtn never writes (all ones) is refused, as rtn's decoder refuses it.
      const bad = codes.slice();
      bad[0] |= (1 << bits) - 1;
      assert.throws(() => native.rtnGgmlBlocks({ bits, codes: bad, scales, out }), /out of range .*corrupted/);
      for (const s16 of [0x7c00, 0x7e00, 0x8001]) {
        const badScales = scales.slice();
        badScales[3] = s16; // Inf, NaN, a negative scale
        assert.throws(() => native.rtnGgmlBlocks({ bits, codes, scales: badScales, out }), /negative or not finite/);
      }
    }
    assert.throws(() => native.rtnGgmlBlocks({ bits: 3 as 4, codes: new Uint8Array(12), scales: new Uint16Array(1), out: new Uint8Array(18) }), /bits must be 4, 5 or 8/);
    assert.throws(() => native.rtnGgmlBlocks({ bits: 4, codes: new Uint8Array(15), scales: new Uint16Array(1), out: new Uint8Array(18) }), /32 codes per scale/);
    assert.throws(() => native.rtnGgmlBlocks({ bits: 4, codes: new Uint8Array(16), scales: new Uint16Array(1), out: new Uint8Array(17) }), /one block per scale/);
  });

  it('refuses damaged files in words', async () => {
    const good = path.join(dir, 'good.gguf');
    await writeGguf(good, [['general.name', gguf.string('x')]], [{ name: 'w', dims: [32, 4], type: 'F16', async *data() { yield new Uint8Array(256); } }]);
    const bytes = await readFile(good);
    const cases: Array<[string, (b: Buffer) => Buffer, RegExp]> = [
      ['bad magic', (b) => Buffer.concat([Buffer.from('GGUX'), b.subarray(4)]), /not a GGUF file/],
      ['version 9', (b) => { const c = Buffer.from(b); c.writeUInt32LE(9, 4); return c; }, /version 9 is not supported/],
      ['a header cut short', (b) => b.subarray(0, 40), /truncated GGUF header/],
      ['data cut short', (b) => b.subarray(0, b.length - 1), /past the end of the file/],
      ['an unknown ggml type', (b) => { const c = Buffer.from(b); c.writeUInt32LE(99, b.indexOf(Buffer.from('w')) + 1 + 4 + 16); return c; }, /ggml type 99/],
      ['a huge tensor count', (b) => { const c = Buffer.from(b); c.writeBigUInt64LE(2n ** 60n, 8); return c; }, /tensor count .* too large/],
    ];
    for (const [what, damage, message] of cases) {
      const file = path.join(dir, `bad-${what.replace(/\W+/g, '-')}.gguf`);
      await writeFile(file, damage(bytes));
      await assert.rejects(GgufFile.open(file), message, what);
    }
    const cut = path.join(dir, 'cut.gguf');
    await writeFile(cut, bytes);
    await truncate(cut, 3);
    await assert.rejects(GgufFile.open(cut), /truncated GGUF header/);
  });
});
