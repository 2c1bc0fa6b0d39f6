// The rANS entropy stage (binding/cpu/codec/rans.h, docs/FORMAT.md "rANS pieces"): the native
// coder writes exactly the frames the reference (rans-reference.ts) writes from the document,
// round-trips every kind of stream the methods store, reaches the order-0 entropy, and rejects
// every malformed frame with a clear error. Scalar = AVX2 is in kernel-table.test.ts.
import { strict as assert } from 'node:assert';
import { mkdtemp, rm } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { compressPieces, decompressPieces, parseStage, type StoredPiece } from '../lib/container/stage';
import { fromF32 } from '../lib/methods/f32';
import { lossless } from '../lib/methods/lossless';
import { native } from '../lib/native';
import type { SymbolModel } from '../lib/methods/method';
import { parseSpec } from '../lib/methods/registry';
import { Rng } from '../lib/core/random';
import { compress } from '../lib/pipeline/compress';
import { inspect } from '../lib/pipeline/inspect';
import { verify } from '../lib/pipeline/verify';
import { generateCheckpoint } from '../lib/tools/generate';
import { gaussian, packLsbFirst } from './helpers';
import { codedFrame, decodeFrame, encodeFrame, parseFrame } from './rans-reference';

const RANS = parseStage('rans', undefined);
const rng = new Rng(9);
const bytes = (n: number, pick: () => number) => Uint8Array.from({ length: n }, pick);
/** The exponent plane of bf16 Gaussian weights (sign rotated out), as lossless stores it. */
const exponentPlane = (n: number, seed: number) => fromF32('BF16', gaussian(n, seed, 0.02)).filter((_, i) => i % 2 === 1).map((b) => (b << 1) & 0xff);

async function ransFrame(src: Uint8Array, model?: SymbolModel): Promise<StoredPiece> {
  const [p] = await compressPieces([src], RANS, 'tensor', 1, undefined, [model]);
  return p;
}

/** n codes of `bits` bits, mostly small (a peaked distribution, as quantized weights give), packed. */
function packed(n: number, bits: number): Uint8Array {
  const codes = bytes(n, () => Math.min((1 << bits) - 1, Math.floor(-Math.log2(rng.uniform() + 1e-12))));
  return packLsbFirst(codes, bits, Math.ceil((n * bits) / 8));
}

function entropyBits(src: Uint8Array): number {
  const counts = new Array<number>(256).fill(0);
  src.forEach((b) => counts[b]++);
  return counts.reduce((a, c) => (c ? a - c * Math.log2(c / src.length) : a), 0);
}

async function rejects(data: Uint8Array, rawBytes: number, message: RegExp) {
  await assert.rejects(decompressPieces([{ codec: 'rans', data, rawBytes }], { threads: 1 }), message);
}

describe('rANS stage', function () {
  this.timeout(120000);

  it('writes the frames of the format document byte for byte, and they decode as it says', async () => {
    const f16 = fromF32('F16', gaussian(20000, 8, 0.02));
    const inputs: Array<[string, Uint8Array, SymbolModel?]> = [
      ['two symbols', bytes(5000, () => (rng.uniform() < 0.99 ? 7 : 8))],
      ['exponent plane', exponentPlane(70000, 1)],
      ['all 256, skewed', bytes(3000, () => (rng.uniform() < 0.5 ? 100 : rng.u32() & 0xff))],
      ['three blocks', exponentPlane(600000, 2)],
      ['f16 values, two contexts', f16, { contexts: 2 }],
      ['3-bit codes', packed(30001, 3), { bits: 3 }],
      ['1-bit codes, 8 contexts', packLsbFirst(bytes(99999, () => (rng.uniform() < 0.1 ? 1 : 0)), 1, 12500), { bits: 1, contexts: 8 }],
      ['7-bit codes over three blocks', packed(700001, 7), { bits: 7 }],
      ['nibbles, four contexts', packed(4003, 4), { bits: 4, contexts: 4 }],
      ['one context holds one symbol', Uint8Array.from(f16, (b, i) => (i % 2 ? 60 : b)), { contexts: 2 }],
      ['rare bytes raised to 1', bytes(9000, () => {
        const r = rng.u32();
        return r % 1000 === 0 ? r & 0xff : 42;
      })],
    ];
    for (const [what, src, model] of inputs) {
      const p = await ransFrame(src, model);
      assert.equal(p.codec, 'rans', what);
      assert.ok(Buffer.from(p.data).equals(encodeFrame(src, model)), `${what}: the native frame differs from the reference`);
      assert.ok(Buffer.from(decodeFrame(p.data, src.length)!).equals(src), `${what}: the reference decoder reads it back`);
      const [back] = await decompressPieces([p], { threads: 2 });
      assert.ok(Buffer.from(back).equals(src), `${what}: round trip`);
    }
  });

  it('reaches the order-0 entropy: within 0.5 % on an exponent plane, and below LZMA there and on f16 scales and 3-bit codes', async () => {
    const plane = exponentPlane(1 << 20, 3);
    const p = await ransFrame(plane);
    const bound = entropyBits(plane) / 8;
    assert.ok(p.data.length <= bound * 1.005, `${p.data.length} bytes for an order-0 bound of ${bound.toFixed(0)}`);
    const scales = fromF32('F16', gaussian(1 << 18, 10, 0.02).map(Math.abs));
    const codes = packed(1 << 20, 3);
    for (const [what, src, model] of [['exponent plane', plane], ['f16 scales', scales, { contexts: 2 }], ['3-bit codes', codes, { bits: 3 }]] as const) {
      const [xz] = await compressPieces([src], parseStage('lzma', 'auto'), 'tensor', 1);
      const r = await ransFrame(src, model);
      const plain = await ransFrame(src);
      assert.ok(r.data.length < xz.data.length, `${what}: rANS ${r.data.length} vs LZMA ${xz.data.length}`);
      if (model) assert.ok(r.data.length < 0.95 * plain.data.length, `${what}: its model ${r.data.length} vs bytes ${plain.data.length}`);
    }
  });

  it('round-trips the streams of every method, and stores raw what it cannot shrink', async () => {
    const w = fromF32('BF16', gaussian(64 * 256, 4, 0.02));
    const facts = { shape: [64, 256], absMean: 0.016, absMax: 0.1, first: 0 };
    for (const spec of ['lossless', 'rtn:2', 'rtn:3', 'rtn:4', 'rtn:8', 'ternary', 'ternary:g256:p2', 'seedlm:4']) {
      const { method, params } = parseSpec(spec);
      const p = method.resolve ? method.resolve(params, facts.shape) : params;
      const { streams } = await method.encode(p, 'BF16', w, { threads: 1 }, facts);
      const stored = await compressPieces(streams, RANS, 'tensor', 2);
      const back = await decompressPieces(stored, { threads: 2 });
      back.forEach((b, i) => assert.ok(Buffer.from(b).equals(Buffer.from(streams[i])), `${spec} stream ${i}`));
      if (spec === 'lossless') assert.deepEqual(stored.map((s) => s.codec), ['raw', 'rans'], 'the mantissa plane raw, the exponent plane coded');
    }
  });

  it('handles the edges: empty, one symbol, all 256 uniform, a large piece; the same bytes on any thread count', async () => {
    const one = bytes(100000, () => 77);
    const uniform = bytes(1 << 16, () => rng.u32() & 0xff);
    const stored = await compressPieces([new Uint8Array(0), one, uniform], RANS, 'tensor', 2);
    assert.deepEqual(stored.map((s) => s.codec), ['raw', 'rans', 'raw']);
    assert.deepEqual([...stored[1].data], [1, 1, 77], 'one repeated byte: a 3-byte frame');
    const [back] = await decompressPieces([stored[1]], { threads: 1 });
    assert.ok(Buffer.from(back).equals(one));
    const large = exponentPlane(12 << 20, 5);
    const [a] = await compressPieces([large], RANS, 'tensor', 1);
    const [b] = await compressPieces([large, large.subarray(7)], RANS, 'tensor', 2);
    assert.ok(Buffer.from(a.data).equals(Buffer.from(b.data)));
    const [c] = await decompressPieces([a], { threads: 2 });
    assert.ok(Buffer.from(c).equals(large));
  });

  it('splits byte planes in its job and hands on each stored piece\'s CRC-32: the bytes of splitting first, on any thread count', async () => {
    const bf16 = fromF32('BF16', gaussian(3 << 20, 11, 0.02)); // three windows of 1 Mi elements
    const f32 = new Uint8Array(new Float32Array(gaussian(5000, 12, 0.02)).buffer);
    const text = new TextEncoder().encode('not a plane '.repeat(300));
    for (const coder of ['rans', 'off'] as const) {
      const setting = parseStage(coder, undefined);
      const a = await lossless.encode({}, 'BF16', bf16, { threads: 1 }, { shape: [bf16.length / 2], absMean: 0, absMax: 0, first: 0 });
      const b = await lossless.encode({}, 'F32', f32, { threads: 1 }, { shape: [f32.length / 4], absMean: 0, absMax: 0, first: 0 });
      const expected = await compressPieces([text, ...a.streams, ...b.streams], setting, 'tensor', 1);
      for (const threads of [1, 2]) {
        const planes = [new Uint8Array(bf16.length), new Uint8Array(f32.length)];
        const views = [...[0, 1].map((k) => planes[0].subarray((k * bf16.length) / 2, ((k + 1) * bf16.length) / 2)), ...[0, 1, 2, 3].map((k) => planes[1].subarray((k * f32.length) / 4, ((k + 1) * f32.length) / 4))];
        const splits = [{ src: bf16, width: 2, rotate: true, first: 1 }, { src: f32, width: 4, rotate: true, first: 3 }];
        const stored = await compressPieces([text, ...views], setting, 'tensor', threads, undefined, undefined, undefined, splits);
        assert.deepEqual(stored.map((p) => p.codec), expected.map((p) => p.codec), `${coder}, ${threads} threads`);
        stored.forEach((p, i) => assert.ok(Buffer.from(p.data).equals(Buffer.from(expected[i].data)), `${coder}, ${threads} threads: piece ${i}`));
        if (coder === 'rans') stored.forEach((p, i) => assert.equal(p.crc32, zlib.crc32(p.data), `piece ${i}'s CRC-32`));
      }
    }
  });

  it('refuses splits whose planes are not pieces of the call', () => {
    const src = new Uint8Array(200);
    const pieces = [new Uint8Array(100), new Uint8Array(100), new Uint8Array(50)];
    const outputs = [new Uint8Array(100), new Uint8Array(100), new Uint8Array(50)];
    const encode = (splits: unknown[]) => native.encodePieces(pieces, outputs, { codec: 'rans', splits: splits as never });
    assert.throws(() => encode([{ src, width: 2, first: 2 }]), /splits\[0\]: its planes must be pieces of this call/);
    assert.throws(() => encode([{ src, width: 2 }]), /its planes must be pieces of this call/);
    assert.throws(() => encode([{ src, width: 3, first: 0 }]), /width must be 1, 2, 4 or 8/);
    assert.throws(() => encode([{ src: src.subarray(1), width: 2, first: 0 }]), /src must hold whole elements/);
    assert.throws(() => encode([{ src: src.subarray(0, 100), width: 1, first: 2 }]), /piece 2 is not one byte per element/);
    assert.throws(() => encode([{ src, width: 2, first: 0 }, { src: src.subarray(0, 100), width: 1, first: 1 }]), /piece 1 is the plane of another split/);
    assert.throws(() => encode([{ src: pieces[1], width: 1, first: 1 }]), /splits\[0\]\.src and split planes must not overlap/);
    assert.throws(() => encode([{ src: [1, 2], width: 2, first: 0 }]), /src must be a Uint8Array/);
    assert.throws(() => encode([{ src: outputs[2], width: 1, first: 2 }]), /splits\[0\]\.src and outputs must not overlap/);
    // Planes are written before the pieces are coded: one may not overlap another, nor a piece.
    const shared = new Uint8Array(150);
    const overlapping = [shared.subarray(0, 100), shared.subarray(50, 150), new Uint8Array(50)];
    const planes = (splits: unknown[]) => native.encodePieces(overlapping, outputs, { codec: 'rans', splits: splits as never });
    assert.throws(() => planes([{ src, width: 2, first: 0 }]), /split planes must not overlap/);
    assert.throws(() => planes([{ src: src.subarray(0, 100), width: 1, first: 0 }]), /split planes and pieces must not overlap/);
    assert.throws(() => native.encodePieces(pieces, outputs.slice(1), { codec: 'rans' }), /pieces and outputs differ in count/);
    assert.throws(() => native.encodePieces(pieces, [outputs[0], outputs[0], outputs[2]], { codec: 'rans' }), /outputs must not overlap/);
    assert.throws(() => native.encodePieces(pieces, [pieces[1], outputs[1], outputs[2]], { codec: 'rans' }), /pieces and outputs must not overlap/);
  });

  it('lets what is only read overlap, and checks a batch of many pieces at once', async () => {
    // A split's source inside a piece that is not its plane, and pieces that share memory, are
    // read-only: allowed. 20,000 pieces are checked by one sort (pairwise would be 4·10⁸ checks).
    const memory = bytes(4096, () => Math.floor(rng.uniform() * 256));
    const pieces = [memory.subarray(0, 2048), memory.subarray(1024, 3072), new Uint8Array(1024)];
    const outputs = pieces.map((p) => new Uint8Array(p.length));
    const { sizes } = await native.encodePieces(pieces, outputs, { codec: 'rans', splits: [{ src: memory.subarray(0, 1024), width: 1, first: 2 }] }).promise;
    assert.equal(sizes.length, 3);
    assert.ok(Buffer.from(pieces[2]).equals(Buffer.from(memory.subarray(0, 1024))), 'the plane holds its source');
    const many = new Uint8Array(20000 * 8);
    const out = new Uint8Array(20000 * 8);
    const slices = (a: Uint8Array) => Array.from({ length: 20000 }, (_, i) => a.subarray(i * 8, i * 8 + 8));
    const ok = await native.encodePieces(slices(many), slices(out), { codec: 'rans' }).promise;
    assert.equal(ok.sizes.length, 20000);
    const clash = slices(out);
    clash[19999] = out.subarray(0, 8);
    assert.throws(() => native.encodePieces(slices(many), clash, { codec: 'rans' }), /^RangeError: outputs must not overlap$/);
  });

  it('refuses an output too small for its coded piece, with the sizes in words', async () => {
    const piece = exponentPlane(1 << 16, 13);
    await assert.rejects(native.encodePieces([piece], [new Uint8Array(100)], { codec: 'rans' }).promise, /outputs\[0\] holds 100 bytes; piece 0 coded takes \d+/);
  });

  it('judges a piece of 8 blocks or more on its first block first', async () => {
    // 8 blocks of 2^18 symbols: the same bytes after a first block of uniform bytes are stored
    // raw (the first block shows no gain), after a compressible first block coded.
    const tail = exponentPlane(7 << 18, 6);
    const [plain, noisyFirst, shortNoisy] = await compressPieces(
      [Buffer.concat([exponentPlane(1 << 18, 7), tail]), Buffer.concat([bytes(1 << 18, () => rng.u32() & 0xff), tail]), Buffer.concat([bytes(1 << 18, () => rng.u32() & 0xff), tail.subarray(1)])],
      RANS,
      'tensor',
      2,
    );
    assert.deepEqual([plain.codec, noisyFirst.codec], ['rans', 'raw']);
    assert.equal(shortNoisy.codec, 'rans', 'under 8 blocks the whole piece decides');
  });

  it('rejects malformed frames with clear errors, never a crash or wrong bytes', async () => {
    const src = exponentPlane(300000, 6); // two blocks
    const { data } = await ransFrame(src);
    const n = src.length;
    const edit = (f: (d: Uint8Array) => void) => {
      const d = Uint8Array.from(data);
      f(d);
      return d;
    };
    const bitmapEnd = 40, present = parseFrame(data, n).freqs![0].filter((x) => x > 0).length;
    const sizesAt = bitmapEnd + 2 * present;
    await rejects(data.subarray(0, 2), n, /too short for a frame/);
    await rejects(edit((d) => (d[0] = 2)), n, /unknown version 2/);
    await rejects(edit((d) => (d[1] = 5)), n, /unknown frame kind 5/);
    await rejects(Uint8Array.of(1, 1, 0, 0), n, /a constant frame is 3 bytes/);
    await rejects(data.subarray(0, 6), n, /truncated in the header/);
    await rejects(data.subarray(0, 20), n, /truncated in the frequency tables/);
    await rejects(data.subarray(0, bitmapEnd + 3), n, /truncated in the frequency tables/);
    await rejects(edit((d) => d.set([0, 0, 0, 0], 4)), n, /block size 0 is not a positive multiple of 8/);
    await rejects(edit((d) => d.set([12, 0, 0, 0], 4)), n, /block size 12 is not/);
    await rejects(edit((d) => (d[2] = 0)), n, /symbols of 0 bits \(1 to 8\)/);
    await rejects(edit((d) => (d[2] = 9)), n, /symbols of 9 bits/);
    await rejects(edit((d) => (d[2] = 4)), n, /byte \d+ has a frequency, but symbols have 4 bits/);
    await rejects(edit((d) => (d[3] = 3)), n, /3 contexts \(1, 2, 4 or 8\)/);
    await rejects(edit((d) => (d[3] = 2)), n, /frequencies sum to|truncated|frequency/);
    await rejects(edit((d) => d.set([0, 16], bitmapEnd)), n, /frequency 4096 of symbol \d+ is outside 1..4095/);
    await rejects(edit((d) => d.set([0, 0], bitmapEnd)), n, /frequency 0 of symbol/);
    await rejects(edit((d) => d.set([d[bitmapEnd] + 1], bitmapEnd)), n, /the frequencies sum to 4097, not 4096/);
    await rejects(edit((d) => (d[8 + 31] ^= 0x80)), n, /the frequencies sum to|frequency|truncated/);
    await rejects(data.subarray(0, sizesAt + 5), n, /truncated in the block sizes/);
    await rejects(edit((d) => d.set([5, 0, 0, 0], sizesAt)), n, /block 0 has an impossible size 5/);
    await rejects(data.subarray(0, data.length - 2), n, /truncated in a block/);
    await rejects(Buffer.concat([data, Uint8Array.of(0)]), n, /1 bytes after the last block/);
    await rejects(edit((d) => (d[sizesAt + 8 + 200] ^= 0x40)), n, /block 0 does not decode/);
    await rejects(edit((d) => (d[d.length - 5] ^= 0x01)), n, /block 1 does not decode/);
    await rejects(data, n - 1, /block 1 does not decode|bytes after the last block|impossible size|truncated/);
    await rejects(data, n + 1, /does not decode|truncated/);
    // Codes: a last code whose bits run past the piece's end must have them zero.
    const one = Uint8Array.of(0b101, 0b011, 0b110, 0b001, 0b111);
    const frame = encodeFrame(one, { bits: 3 }); // 40 bits: 14 codes, the last with 2 bits past the end
    assert.deepEqual([...(await decompressPieces([{ codec: 'rans', data: frame, rawBytes: 5 }], { threads: 1 }))[0]], [...one]);
    const codes = Uint8Array.from({ length: 14 }, (_, i) => (i === 13 ? 7 : 1 + (i % 5)));
    await rejects(codedFrame(codes, 3, 1), 5, /the last code has bits set past the piece's end/);
  });

  describe('in the pipeline', () => {
    let dir: string;
    before(async () => (dir = await mkdtemp(path.join(os.tmpdir(), 'tz-rans-'))));
    after(async () => rm(dir, { recursive: true, force: true }));

    it('is the default coder of tensor pieces; text goes through LZMA; --coder lzma and off as asked', async () => {
      const { dir: model } = await generateCheckpoint(path.join(dir, 'm'), { hidden: 64, intermediate: 176, layers: 1, heads: 4, kvHeads: 2, vocab: 320 });
      const codecsOf = async (file: string) => {
        const { meta } = await inspect(file);
        const tensor = new Set(meta.tensors.flatMap((t) => t.pieces.flat().map((p) => p.codec)));
        const text = new Set(meta.files.flatMap((f) => f.pieces.map((p) => p.codec)));
        return { tensor: [...tensor].sort(), text: [...text].sort(), options: meta.options };
      };
      const policy = { '*q_proj*': 'rtn:4', '*k_proj*': 'ternary', '*v_proj*': 'seedlm:4:fast', '*gate_proj*': 'vptq:2' };
      await compress(model, path.join(dir, 'default.tzip'), { policy, threads: 2 });
      const d = await codecsOf(path.join(dir, 'default.tzip'));
      assert.deepEqual(d.tensor, ['rans', 'raw']);
      assert.ok(d.text.includes('xz') && d.text.every((c) => c === 'xz' || c === 'raw'), `text pieces: ${d.text}`);
      assert.equal(d.options.coder, 'rans');
      const report = await verify(path.join(dir, 'default.tzip'), model, { threads: 2 });
      assert.ok(report.tensors.every((t) => t.ok), 'every tensor decodes as its record says');
      await compress(model, path.join(dir, 'lzma.tzip'), { policy, coder: 'lzma', threads: 2 });
      assert.deepEqual((await codecsOf(path.join(dir, 'lzma.tzip'))).tensor, ['raw', 'xz']);
      await compress(model, path.join(dir, 'old.tzip'), { policy, lzma: '6', threads: 2 });
      assert.deepEqual((await codecsOf(path.join(dir, 'old.tzip'))).tensor, ['raw', 'xz'], '--lzma alone selects LZMA, as before');
      await compress(model, path.join(dir, 'off.tzip'), { policy, coder: 'off', threads: 2 });
      const off = await codecsOf(path.join(dir, 'off.tzip'));
      assert.deepEqual([off.tensor, off.text], [['raw'], ['raw']]);
    });

    it('refuses bad --coder values and contradictions', () => {
      assert.throws(() => parseStage('zstd', undefined), /--coder must be rans, lzma, off, got 'zstd'/);
      assert.throws(() => parseStage('off', '9'), /--coder off stores every piece raw: --lzma 9 would not be used/);
      assert.deepEqual(parseStage(undefined, 'off'), { coder: 'off', lzma: { mode: 'off' } });
      assert.deepEqual(parseStage('rans', '9e'), { coder: 'rans', lzma: { mode: 'preset', preset: 9, extreme: true } });
    });
  });
});
