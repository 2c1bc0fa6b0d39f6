// An independent statement of the rANS piece format (docs/FORMAT.md, "rANS pieces") in plain
// TypeScript: frequencies, encoder, frame reader and decoder written from the document, to hold
// the native coder to it byte for byte. Slow and simple on purpose.
import { packLsbFirst, unpackLsbFirst } from './helpers';

export const SCALE_BITS = 12;
export const SCALE = 1 << SCALE_BITS;
export const LANES = 32;
export const LOW = 1 << 16;

/** Normalised frequencies of one context's histogram over `alphabet` symbols (FORMAT.md: floors,
 * then remainders, then the cheapest decrements; fewer than two symbols: SCALE - 1 and 1). */
export function normalise(counts: number[], alphabet = 256): number[] {
  const n = counts.reduce((a, b) => a + b, 0);
  const present = counts.filter((c) => c > 0).length;
  if (present < 2) {
    const s = present ? counts.findIndex((c) => c > 0) : 0;
    const freq = new Array<number>(256).fill(0);
    freq[s] = SCALE - 1;
    freq[(s + 1) % alphabet] = 1;
    return freq;
  }
  const freq = counts.map((c) => (c ? Math.max(1, Math.floor((c * SCALE) / n)) : 0));
  let sum = freq.reduce((a, b) => a + b, 0);
  if (sum < SCALE) {
    const order = [...freq.keys()].sort((a, b) => ((counts[b] * SCALE) % n) - ((counts[a] * SCALE) % n) || a - b);
    for (let j = 0; sum < SCALE; j = (j + 1) % 256) if (counts[order[j]]) freq[order[j]]++, sum++;
  }
  while (sum > SCALE) {
    let best = -1;
    for (let s = 0; s < 256; s++) if (freq[s] > 1 && (best < 0 || counts[s] * freq[best] < counts[best] * freq[s])) best = s;
    freq[best]--, sum--;
  }
  return freq;
}

const cumulative = (freq: number[]) => freq.map((_, s) => freq.slice(0, s).reduce((a, b) => a + b, 0));

/** One block: 32 final states (u32 LE), then the words in reading order (u16 LE); symbol i
 * with the frequencies of context i mod freqs.length. */
export function encodeBlock(freqs: number[][], src: Uint8Array): Uint8Array {
  const cums = freqs.map(cumulative);
  const x = new Array<number>(LANES).fill(LOW);
  const words: number[] = []; // in emission order (reversed when stored)
  for (let i = src.length - 1; i >= 0; i--) {
    const l = i % LANES, c = i % freqs.length, f = freqs[c][src[i]];
    if (x[l] >= f * 2 ** (32 - SCALE_BITS)) words.push(x[l] % 65536), (x[l] = Math.floor(x[l] / 65536));
    x[l] = Math.floor(x[l] / f) * SCALE + (x[l] % f) + cums[c][src[i]];
  }
  const out = new DataView(new ArrayBuffer(4 * LANES + 2 * words.length));
  x.forEach((v, l) => out.setUint32(4 * l, v, true));
  words.reverse().forEach((w, j) => out.setUint16(4 * LANES + 2 * j, w, true));
  return new Uint8Array(out.buffer);
}

/** Decodes one block of n symbols, or returns null for a block that does not end where it should. */
export function decodeBlock(freqs: number[][], block: Uint8Array, n: number): Uint8Array | null {
  const cums = freqs.map(cumulative);
  const symbols = freqs.map((freq, c) => {
    const symbol = new Uint8Array(SCALE);
    freq.forEach((f, s) => symbol.fill(s, cums[c][s], cums[c][s] + f));
    return symbol;
  });
  const view = new DataView(block.buffer, block.byteOffset, block.byteLength);
  const x = Array.from({ length: LANES }, (_, l) => view.getUint32(4 * l, true));
  let at = 4 * LANES;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const l = i % LANES, c = i % freqs.length, slot = x[l] % SCALE, s = symbols[c][slot];
    out[i] = s;
    x[l] = (freqs[c][s] * Math.floor(x[l] / SCALE) + slot - cums[c][s]) >>> 0;
    if (x[l] < LOW) {
      if (at + 2 > block.length) return null;
      x[l] = (x[l] * 65536 + view.getUint16(at, true)) >>> 0;
      at += 2;
    }
  }
  return at === block.length && x.every((v) => v === LOW) ? out : null;
}

export interface Frame {
  kind: 'constant' | 'coded';
  value?: number;
  bits?: number;
  blockSymbols?: number;
  freqs?: number[][];
  blocks?: Uint8Array[];
}

/** Codes of `bits` bits packed LSB first in `bytes`: all of them, the last padded with zeros. */
const unpackCodes = (bytes: Uint8Array, bits: number) => Uint8Array.from(unpackLsbFirst(bytes, Math.ceil((bytes.length * 8) / bits), bits));

/** The frame of a piece's bytes as FORMAT.md lays it out. */
export function encodeFrame(src: Uint8Array, model: { bits?: number; contexts?: number } = {}, blockSymbols = 1 << 18): Uint8Array {
  if (src.every((b) => b === src[0])) return Uint8Array.of(1, 1, src.length ? src[0] : 0);
  const bits = model.bits ?? 8;
  return codedFrame(bits === 8 ? src : unpackCodes(src, bits), bits, model.contexts ?? 1, blockSymbols);
}

/** A coded frame of these symbols. */
export function codedFrame(symbols: Uint8Array, bits: number, contexts: number, blockSymbols = 1 << 18): Uint8Array {
  const counts = Array.from({ length: contexts }, () => new Array<number>(256).fill(0));
  symbols.forEach((s, i) => counts[i % contexts][s]++);
  const freqs = counts.map((c) => normalise(c, 1 << bits));
  const blocks: Uint8Array[] = [];
  for (let b = 0; b < symbols.length; b += blockSymbols) blocks.push(encodeBlock(freqs, symbols.subarray(b, b + blockSymbols)));
  const tables = freqs.map((freq) => {
    const t = new DataView(new ArrayBuffer(32 + 2 * freq.filter((f) => f > 0).length));
    let at = 32;
    freq.forEach((f, s) => {
      if (!f) return;
      t.setUint8(s >> 3, t.getUint8(s >> 3) | (1 << (s & 7)));
      t.setUint16(at, f, true), (at += 2);
    });
    return new Uint8Array(t.buffer);
  });
  const head = new DataView(new ArrayBuffer(8));
  head.setUint8(0, 1), head.setUint8(1, 0), head.setUint8(2, bits), head.setUint8(3, contexts), head.setUint32(4, blockSymbols, true);
  const sizes = new DataView(new ArrayBuffer(4 * blocks.length));
  blocks.forEach((b, i) => sizes.setUint32(4 * i, b.length, true));
  return Buffer.concat([new Uint8Array(head.buffer), ...tables, new Uint8Array(sizes.buffer), ...blocks]);
}

/** The parts of a coded frame for a piece of n bytes. */
export function parseFrame(frame: Uint8Array, n: number): Frame {
  if (frame[1] === 1) return { kind: 'constant', value: frame[2] };
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const bits = frame[2], contexts = frame[3], blockSymbols = view.getUint32(4, true);
  let at = 8;
  const freqs = Array.from({ length: contexts }, () => {
    const freq = new Array<number>(256).fill(0);
    const bitmap = at;
    at += 32;
    for (let s = 0; s < 256; s++) if ((frame[bitmap + (s >> 3)] >> (s & 7)) & 1) (freq[s] = view.getUint16(at, true)), (at += 2);
    return freq;
  });
  const count = Math.ceil(Math.ceil((n * 8) / bits) / blockSymbols);
  const sizes = Array.from({ length: count }, (_, b) => view.getUint32(at + 4 * b, true));
  at += 4 * count;
  const blocks = sizes.map((size) => frame.subarray(at, (at += size)));
  return { kind: 'coded', bits, blockSymbols, freqs, blocks };
}

/** A piece of n bytes back from its frame, by this document alone (null: a block did not decode). */
export function decodeFrame(frame: Uint8Array, n: number): Uint8Array | null {
  const f = parseFrame(frame, n);
  if (f.kind === 'constant') return new Uint8Array(n).fill(f.value!);
  const count = Math.ceil((n * 8) / f.bits!);
  const parts = f.blocks!.map((b, i) => decodeBlock(f.freqs!, b, Math.min(f.blockSymbols!, count - i * f.blockSymbols!)));
  if (parts.some((p) => !p)) return null;
  const symbols = Buffer.concat(parts as Uint8Array[]);
  return f.bits === 8 ? symbols : packLsbFirst(symbols, f.bits!, n);
}
