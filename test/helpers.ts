// Shared test helpers: bit views, generated inputs covering every class of float value, and a
// way to run node with a modified environment (the CPU path and CUDA probe are fixed per process).
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { Rng } from '../lib/core/random';

export const root = path.resolve(__dirname, '..', '..');
export const cliPath = path.join(root, 'dist', 'lib', 'cli.js');

export function bitsOf(a: Float32Array): Uint32Array {
  return new Uint32Array(a.buffer, a.byteOffset, a.length);
}

export function floatsOf(bits: ArrayLike<number>): Float32Array {
  return new Float32Array(Uint32Array.from(bits).buffer);
}

/** n values drawn from N(0, sigma²), deterministic for a seed. */
export function gaussian(n: number, seed: number, sigma = 1): Float32Array {
  const r = new Rng(seed);
  return Float32Array.from({ length: n }, () => r.normal() * sigma);
}

/** f32 bit patterns that exercise rounding: specials, ties, subnormals, both ranges' edges. */
export const specialF32Bits = [
  0x00000000, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0xffc00000, 0x7f800001, 0x7fbfffff,
  0xff812345, 0x00000001, 0x807fffff, 0x00400000, 0x3f800000, 0x3f808000, 0x3f818000, 0x3f807fff,
  0x3f808001, 0x7f7fffff, 0x7f7f8000, 0x7f7f7fff, 0x477ff000, 0x477fefff, 0x477fe000, 0x47800000,
  0x33000000, 0x33000001, 0x33400000, 0x32ffffff, 0x387fe000, 0x387ff000, 0x38800000, 0x387fffff,
  0x3f801000, 0x3f803000, 0x3f802fff, 0x3f801001, 0xc2f6e979, 0x3c23d70a,
];

/**
 * n f32 bit patterns: the specials, then random patterns of which a share are exact bf16 ties,
 * f16 ties, or values inside the f16 range (where f16 rounding matters).
 */
export function randomF32Bits(n: number, seed: number): Uint32Array {
  const rng = new Rng(seed);
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    let x = rng.u32();
    switch (rng.u32() % 8) {
      case 0: x = ((x & 0xffff0000) | 0x8000) >>> 0; break;
      case 1: x = ((x & 0xffffe000) | 0x1000) >>> 0; break;
      case 2: x = ((x & 0x807fffff) | ((100 + ((x >>> 24) % 50)) << 23)) >>> 0; break;
    }
    out[i] = i < specialF32Bits.length ? specialF32Bits[i] : x;
  }
  return out;
}

export function randomU16(n: number, seed: number): Uint16Array {
  const rng = new Rng(seed);
  const out = new Uint16Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.u32() & 0xffff;
  return out;
}

/** Independent statement of LSB-first code packing (binding/cpu/codec/bitpack.h): bit b of code i is
 * bit i·bits + b of the stream, bit 0 of a byte its least significant; bits past `bytes` bytes are cut off. */
export function packLsbFirst(codes: ArrayLike<number>, bits: number, bytes = Math.ceil((codes.length * bits) / 8)): Uint8Array {
  const out = new Uint8Array(bytes);
  for (let i = 0; i < codes.length; i++)
    for (let b = 0; b < bits; b++) if ((i * bits + b) >> 3 < bytes && (codes[i] >> b) & 1) out[(i * bits + b) >> 3] |= 1 << ((i * bits + b) & 7);
  return out;
}

/** n codes of `bits` bits from an LSB-first stream; bits past its end read as 0. */
export function unpackLsbFirst(packed: Uint8Array, n: number, bits: number): Uint32Array {
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++)
    for (let b = 0; b < bits; b++) {
      const at = i * bits + b;
      if (at < packed.length * 8) out[i] |= ((packed[at >> 3] >> (at & 7)) & 1) << b;
    }
  return out;
}

/** Index of the first difference between two arrays of the same length, or -1. */
export function firstDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

export function hex(x: number, digits = 8): string {
  return '0x' + (x >>> 0).toString(16).padStart(digits, '0');
}

/** Runs `node -e code` in the package root with extra environment; returns stdout/stderr/status. */
export function runNode(code: string, env: Record<string, string | undefined> = {}) {
  const r = spawnSync(process.execPath, ['-e', code], { cwd: root, env: { ...process.env, ...env }, encoding: 'utf8' });
  return { stdout: r.stdout, stderr: r.stderr, status: r.status };
}

/** backendInfo() of a fresh process with the given environment. */
export function backendInfoWith(env: Record<string, string | undefined>) {
  const r = runNode("console.log(JSON.stringify(require('tensorzip').backendInfo()))", env);
  if (r.status !== 0) throw new Error(`child failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout);
}
