// The LZMA stage and byte planes.
import { strict as assert } from 'node:assert';
import { compressPieces, decompressPieces, parseLzma, parseStage } from '../lib/container/stage';
import { native } from '../lib/native';
import { Rng } from '../lib/core/random';

const random = (n: number, seed: number) => {
  const r = new Rng(seed);
  return Uint8Array.from({ length: n }, () => r.u32() & 0xff);
};
const skewed = (n: number, seed: number) => {
  const r = new Rng(seed);
  return Uint8Array.from({ length: n }, () => (r.uniform() < 0.9 ? 120 + (r.u32() & 3) : r.u32() & 0xff));
};

describe('LZMA stage', () => {
  it('round-trips, keeps xz only where it saves >= 1%, and stores random data raw', async () => {
    const pieces = [skewed(300000, 1), random(300000, 2), new Uint8Array(0), new Uint8Array(5000)];
    for (const setting of [parseLzma('auto'), parseLzma('0'), parseLzma('9e')]) {
      const stored = await compressPieces(pieces, { coder: 'lzma', lzma: setting }, 'tensor', 2);
      assert.deepEqual(stored.map((s) => s.codec), ['xz', 'raw', 'raw', 'xz']);
      assert.ok(stored[0].data.length < 0.5 * pieces[0].length);
      const back = await decompressPieces(stored, { threads: 2 });
      back.forEach((b, i) => assert.ok(Buffer.from(b).equals(Buffer.from(pieces[i]))));
    }
    assert.deepEqual((await compressPieces(pieces, parseStage('lzma', 'off'), 'tensor', 2)).map((s) => s.codec), ['raw', 'raw', 'raw', 'raw']);
  });

  it("auto probes a large piece and skips the full compression when the probe shows no gain", async () => {
    const big = random(4 << 20, 3);
    big.fill(7, 2 << 20); // compressible second half: the probe (first 256 KiB) still says no
    const [auto] = await compressPieces([big], parseStage('lzma', 'auto'), 'tensor', 2);
    const [full] = await compressPieces([big], parseStage('lzma', '6'), 'tensor', 2);
    assert.equal(auto.codec, 'raw');
    assert.equal(full.codec, 'xz');
  });

  it('is deterministic', async () => {
    const p = skewed(1 << 20, 4);
    const [a] = await compressPieces([p], parseStage('lzma', '6'), 'tensor', 1);
    const [b] = await compressPieces([p], parseStage('lzma', '6'), 'tensor', 2);
    assert.ok(Buffer.from(a.data).equals(Buffer.from(b.data)));
  });

  it('refuses corrupt, truncated, oversized and undersized xz data with clear errors', async () => {
    const p = skewed(100000, 5);
    const [s] = await compressPieces([p], parseStage('lzma', '6'), 'tensor', 1);
    const flip = Uint8Array.from(s.data);
    flip[flip.length >> 1] ^= 0x55;
    const cases: Array<[Uint8Array, number, RegExp]> = [
      [flip, p.length, /piece 0: /],
      [s.data.subarray(0, s.data.length - 10), p.length, /piece 0: /],
      [s.data, p.length - 1, /more than the expected/],
      [s.data, p.length + 1, /decodes to 100000 bytes, expected 100001/],
      [Uint8Array.from({ length: 64 }, (_, i) => i), 10, /not xz data/],
      [Uint8Array.from([0xfd, 0x37]), 10, /truncated xz data/],
      [Buffer.concat([s.data, Buffer.from('garbage!')]), p.length, /piece 0: /],
    ];
    for (const [data, rawBytes, re] of cases) await assert.rejects(decompressPieces([{ codec: 'xz', data, rawBytes }], { threads: 1 }), re);
  });

  it('accepts concatenated xz streams', async () => {
    const a = skewed(1000, 6);
    const b = skewed(2000, 7);
    const [sa, sb] = await compressPieces([a, b], parseStage('lzma', '6'), 'tensor', 1);
    const [out] = await decompressPieces([{ codec: 'xz', data: Buffer.concat([sa.data, sb.data]), rawBytes: 3000 }], { threads: 1 });
    assert.ok(Buffer.from(out).equals(Buffer.concat([a, b])));
  });

  it('rejects bad settings', () => {
    for (const s of ['10', 'fast', '', '6x']) assert.throws(() => parseLzma(s), /--lzma must be auto, off or a preset/);
  });
});

describe('byte planes', () => {
  it('split/merge round-trip for every width, with and without rotation', () => {
    for (const width of [1, 2, 4, 8])
      for (const rotate of [false, true]) {
        const src = random(width * 1001, width);
        const planes = new Uint8Array(src.length);
        const back = new Uint8Array(src.length);
        native.bytePlanes({ mode: 'split', src, width, rotate, dst: planes });
        native.bytePlanes({ mode: 'merge', src: planes, width, rotate: rotate, dst: back });
        assert.ok(Buffer.from(back).equals(Buffer.from(src)), `width ${width} rotate ${rotate}`);
      }
  });

  it('puts a bf16 exponent alone in the top plane after rotation', () => {
    const bf16 = Uint16Array.from([0x3f80, 0xbf80, 0x4049]); // 1, -1, 3.14
    const planes = new Uint8Array(6);
    native.bytePlanes({ mode: 'split', src: new Uint8Array(bf16.buffer), width: 2, rotate: true, dst: planes });
    assert.deepEqual([...planes.subarray(3)], [0x7f, 0x7f, 0x80]); // exponents; sign went to bit 0 of plane 0
    assert.deepEqual([...planes.subarray(0, 3)], [0x00, 0x01, 0x92]);
  });

  it('takes the planes as separate arrays too, with the same bytes as back to back', () => {
    for (const width of [1, 2, 4, 8]) {
      const n = 777;
      const src = random(width * n, 10 + width);
      const planes = new Uint8Array(src.length);
      native.bytePlanes({ mode: 'split', src, width, rotate: true, dst: planes });
      const separate = Array.from({ length: width }, () => new Uint8Array(n).fill(0xaa));
      native.bytePlanes({ mode: 'split', src, width, rotate: true, dst: separate });
      separate.forEach((p, k) => assert.ok(Buffer.from(p).equals(Buffer.from(planes.subarray(k * n, (k + 1) * n))), `width ${width} plane ${k}`));
      const back = new Uint8Array(src.length);
      native.bytePlanes({ mode: 'merge', src: separate.reverse().reverse(), width, rotate: true, dst: back });
      assert.ok(Buffer.from(back).equals(Buffer.from(src)), `width ${width}`);
    }
  });

  it('refuses bad widths and lengths', () => {
    assert.throws(() => native.bytePlanes({ mode: 'split', src: new Uint8Array(6), width: 3, rotate: false, dst: new Uint8Array(6) }), /width must be 1, 2, 4 or 8/);
    assert.throws(() => native.bytePlanes({ mode: 'split', src: new Uint8Array(6), width: 4, rotate: false, dst: new Uint8Array(6) }), /multiple of width/);
    const out = new Uint8Array(8);
    assert.throws(() => native.bytePlanes({ mode: 'merge', src: [new Uint8Array(4)], width: 2, dst: out }), /one plane per byte/);
    assert.throws(() => native.bytePlanes({ mode: 'merge', src: [new Uint8Array(4), new Uint8Array(3)], width: 2, dst: out }), /one byte per element/);
    assert.throws(() => native.bytePlanes({ mode: 'merge', src: [new Uint8Array(4), out.subarray(0, 4)], width: 2, dst: out }), /src and dst/);
  });
});
