// llama.cpp TQ1_0 / TQ2_0 block codecs: hand-built blocks, every code pattern, and the
// correspondence between tensorzip's ternary:g256:p2 packing and TQ2_0.
import { strict as assert } from 'node:assert';
import { decodeTQ1_0, decodeTQ2_0, encodeTQ1_0, encodeTQ2_0, tq2FromTernaryG256P2 } from '../lib/interop/llama-tq';
import { native } from '../lib/native';
import { Rng } from '../lib/core/random';

const randomCodes = (blocks: number, seed: number) => {
  const r = new Rng(seed);
  return Uint8Array.from({ length: blocks * 256 }, () => r.u32() % 3);
};

describe('llama.cpp TQ1_0 / TQ2_0 interop', () => {
  it('TQ1_0: a hand-built all-zero block (trit code 1 everywhere)', () => {
    const block = encodeTQ1_0({ codes: new Uint8Array(256).fill(1), scales: Uint16Array.of(0x3c00) });
    // qs: c = 1+3+9+27+81 = 121 -> ceil(121*256/243) = 128; qh: c = (1+3+9+27)*3 = 120 -> 127; d = 1.0
    assert.deepEqual([...block], [...new Array(48).fill(128), 127, 127, 127, 127, 0x00, 0x3c]);
    assert.deepEqual(decodeTQ1_0(block).codes, new Uint8Array(256).fill(1));
  });

  it('TQ1_0: a hand-built block places each trit where llama.cpp does', () => {
    // Element 0 is the most significant trit of qs[0]; element 32 the next; element 160 the most
    // significant of qs[32]; element 240 the most significant (after the shift) of qh[0].
    const codes = new Uint8Array(256).fill(0);
    codes[0] = 2; // qs[0]: c = 2*81 = 162 -> ceil(162*256/243) = 171
    codes[160 + 16] = 2; // qs[32], digit 1: c = 2*27 = 54 -> ceil(54*256/243) = 57
    codes[240 + 4 * 3 + 1] = 1; // qh[1], digit 3 (shifted): c = 1*3 = 3 -> ceil(3*256/243) = 4
    const block = encodeTQ1_0({ codes, scales: Uint16Array.of(0) });
    assert.equal(block[0], 171);
    assert.equal(block[32], 57);
    assert.equal(block[49], 4);
    assert.equal(block[1], 0);
    assert.deepEqual(decodeTQ1_0(block).codes, codes);
  });

  it('TQ2_0: a hand-built block', () => {
    const codes = new Uint8Array(256).fill(1);
    codes[0] = 2; // byte 0 bits 0-1
    codes[32 * 3 + 5] = 0; // byte 5 bits 6-7
    codes[128 + 31] = 2; // second chunk, byte 63 bits 0-1
    const block = encodeTQ2_0({ codes, scales: Uint16Array.of(0xbc00) });
    assert.equal(block.length, 66);
    assert.equal(block[0], 0b01010110);
    assert.equal(block[5], 0b00010101);
    assert.equal(block[63], 0b01010110);
    assert.deepEqual([block[64], block[65]], [0x00, 0xbc]);
    assert.deepEqual(decodeTQ2_0(block).codes, codes);
  });

  it('round-trips random blocks exactly, and every 5-trit pattern in TQ1_0', () => {
    const codes = randomCodes(9, 1);
    const scales = Uint16Array.from({ length: 9 }, (_, i) => 0x3000 + i);
    for (const [enc, dec] of [[encodeTQ1_0, decodeTQ1_0], [encodeTQ2_0, decodeTQ2_0]] as const) {
      const back = dec(enc({ codes, scales }));
      assert.deepEqual(back.codes, codes);
      assert.deepEqual(back.scales, scales);
    }
    // qs[0] of 243 blocks takes every value of 5 trits.
    const all = new Uint8Array(243 * 256).fill(1);
    for (let p = 0; p < 243; p++) for (let n = 0; n < 5; n++) all[p * 256 + 32 * n] = Math.floor(p / 3 ** (4 - n)) % 3;
    assert.deepEqual(decodeTQ1_0(encodeTQ1_0({ codes: all, scales: new Uint16Array(243) })).codes, all);
  });

  it('ternary:g256:p2 streams are TQ2_0 blocks without conversion', async () => {
    const r = new Rng(3);
    const w = Float32Array.from({ length: 4 * 256 }, () => r.normal() * 0.02);
    const packed = new Uint8Array(256);
    const scales = new Uint16Array(4);
    const layout = { dtype: 'F32', group: 256, packing: 2, packed, scales } as const;
    await native.ternaryEncode({ ...layout, weights: w }).promise;
    const decoded = new Float32Array(w.length);
    await native.ternaryDecode({ ...layout, out: decoded }).promise;
    const tq = decodeTQ2_0(tq2FromTernaryG256P2(packed, scales));
    const d = new Float32Array(4);
    native.kernelRow('f16_to_f32', { src: tq.scales, dst: d });
    for (let i = 0; i < w.length; i++) assert.equal((tq.codes[i] - 1) * d[i >> 8], decoded[i], `weight ${i}`);
  });

  it('refuses malformed input', () => {
    assert.throws(() => encodeTQ1_0({ codes: new Uint8Array(255), scales: new Uint16Array(1) }), /multiples of 256/);
    assert.throws(() => encodeTQ2_0({ codes: new Uint8Array(256).fill(3), scales: new Uint16Array(1) }), /not a trit code/);
    assert.throws(() => decodeTQ1_0(new Uint8Array(53)), /multiple of 54 bytes/);
    assert.throws(() => decodeTQ2_0(new Uint8Array(66).fill(0xff)), /code 3 is not a trit code/);
  });
});
