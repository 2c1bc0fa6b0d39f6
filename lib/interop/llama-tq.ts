// llama.cpp's ternary block types, TQ1_0 and TQ2_0 (ggml type ids 34 and 35), read and written
// bit-exactly from their public definitions (layouts in docs/METHODS.md). A block holds 256
// weights as trit codes c = t + 1 ∈ {0, 1, 2} and one f16 scale d: weight = (c − 1) · d.

export const QK = 256;
export const TQ1_0_BYTES = 54; // qs[48], qh[4], d
export const TQ2_0_BYTES = 66; // qs[64], d

export interface TernaryBlocks {
  /** n codes (0..2), n a multiple of 256. */
  codes: Uint8Array;
  /** f16 bit patterns, one per block. */
  scales: Uint16Array;
}

/** TQ1_0: element of digit n (0 = most significant) of byte b of a block (-1: the qh padding digit). */
function tq1Element(b: number, n: number): number {
  if (b < 32) return b + 32 * n;
  if (b < 48) return 160 + (b - 32) + 16 * n;
  return n < 4 ? 240 + (b - 48) + 4 * n : -1;
}

function checkBlocks(codes: Uint8Array, scales: Uint16Array): number {
  if (codes.length % QK) throw new RangeError(`TQ blocks hold multiples of ${QK} weights, got ${codes.length}`);
  if (scales.length !== codes.length / QK) throw new RangeError(`${codes.length / QK} blocks need as many scales, got ${scales.length}`);
  for (let i = 0; i < codes.length; i++) if (codes[i] > 2) throw new RangeError(`code ${codes[i]} at ${i} is not a trit code (0..2)`);
  return codes.length / QK;
}

function blockCount(bytes: Uint8Array, size: number, name: string): number {
  if (bytes.length % size) throw new RangeError(`${name} data must be a multiple of ${size} bytes, got ${bytes.length}`);
  return bytes.length / size;
}

export function encodeTQ1_0({ codes, scales }: TernaryBlocks): Uint8Array {
  const blocks = checkBlocks(codes, scales);
  const out = new Uint8Array(blocks * TQ1_0_BYTES);
  const view = new DataView(out.buffer);
  for (let k = 0; k < blocks; k++) {
    const base = k * QK;
    for (let b = 0; b < 52; b++) {
      let c = 0;
      for (let n = 0; n < 5; n++) {
        const e = tq1Element(b, n);
        c = c * 3 + (e < 0 ? 0 : codes[base + e]); // qh: the 4 trits shifted up one trit
      }
      out[k * TQ1_0_BYTES + b] = Math.floor((c * 256 + 242) / 243); // ceiling of c · 256 / 243
    }
    view.setUint16(k * TQ1_0_BYTES + 52, scales[k], true);
  }
  return out;
}

export function decodeTQ1_0(data: Uint8Array): TernaryBlocks {
  const blocks = blockCount(data, TQ1_0_BYTES, 'TQ1_0');
  const codes = new Uint8Array(blocks * QK);
  const scales = new Uint16Array(blocks);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  for (let k = 0; k < blocks; k++) {
    for (let b = 0; b < 52; b++) {
      const byte = data[k * TQ1_0_BYTES + b];
      for (let n = 0; n < 5; n++) {
        const e = tq1Element(b, n);
        if (e < 0) continue;
        const q = (byte * 3 ** n) & 0xff; // the trit of digit n becomes the top of a byte fraction
        codes[k * QK + e] = (q * 3) >> 8;
      }
    }
    scales[k] = view.getUint16(k * TQ1_0_BYTES + 52, true);
  }
  return { codes, scales };
}

export function encodeTQ2_0({ codes, scales }: TernaryBlocks): Uint8Array {
  const blocks = checkBlocks(codes, scales);
  const out = new Uint8Array(blocks * TQ2_0_BYTES);
  const view = new DataView(out.buffer);
  for (let k = 0; k < blocks; k++) {
    for (let b = 0; b < 64; b++) {
      const e = (b >> 5) * 128 + (b & 31); // 32-byte chunks of 128 weights; byte m holds m + 32n at bits 2n
      let q = 0;
      for (let n = 0; n < 4; n++) q |= codes[k * QK + e + 32 * n] << (2 * n);
      out[k * TQ2_0_BYTES + b] = q;
    }
    view.setUint16(k * TQ2_0_BYTES + 64, scales[k], true);
  }
  return out;
}

export function decodeTQ2_0(data: Uint8Array): TernaryBlocks {
  const blocks = blockCount(data, TQ2_0_BYTES, 'TQ2_0');
  const codes = new Uint8Array(blocks * QK);
  const scales = new Uint16Array(blocks);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  for (let k = 0; k < blocks; k++) {
    for (let b = 0; b < 64; b++) {
      const byte = data[k * TQ2_0_BYTES + b];
      const e = (b >> 5) * 128 + (b & 31);
      for (let n = 0; n < 4; n++) {
        const c = (byte >> (2 * n)) & 3;
        if (c === 3) throw new RangeError(`TQ2_0 block ${k}: code 3 is not a trit code`);
        codes[k * QK + e + 32 * n] = c;
      }
    }
    scales[k] = view.getUint16(k * TQ2_0_BYTES + 64, true);
  }
  return { codes, scales };
}

/**
 * TQ2_0 blocks straight from tensorzip's `ternary:g256:p2` streams: that packing's 32-byte
 * blocks are TQ2_0's qs, so each 256-weight group is its 64 packed bytes followed by its scale.
 */
export function tq2FromTernaryG256P2(packed: Uint8Array, scales: Uint16Array): Uint8Array {
  const blocks = scales.length;
  if (packed.length !== blocks * 64) throw new RangeError(`ternary:g256:p2 data for ${blocks} groups must be ${blocks * 64} bytes, got ${packed.length}`);
  const out = new Uint8Array(blocks * TQ2_0_BYTES);
  const view = new DataView(out.buffer);
  for (let k = 0; k < blocks; k++) {
    out.set(packed.subarray(k * 64, (k + 1) * 64), k * TQ2_0_BYTES);
    view.setUint16(k * TQ2_0_BYTES + 64, scales[k], true);
  }
  return out;
}
