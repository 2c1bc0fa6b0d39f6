// Deterministic pseudo-random data for demos, tests and benchmarks (no downloads: every tensor
// is generated). xoshiro128** seeded through splitmix32; normals by Box-Muller.

export class Rng {
  private s = new Uint32Array(4);
  private spare: number | undefined;

  constructor(seed: number) {
    let x = seed >>> 0;
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      this.s[i] = (z ^ (z >>> 16)) >>> 0;
    }
  }

  /** Uniform 32-bit unsigned integer. */
  u32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform in [0, 1). */
  uniform(): number {
    return this.u32() / 4294967296;
  }

  /** Standard normal. */
  normal(): number {
    if (this.spare !== undefined) {
      const v = this.spare;
      this.spare = undefined;
      return v;
    }
    let u = 0;
    while (u === 0) u = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    const a = 2 * Math.PI * this.uniform();
    this.spare = r * Math.sin(a);
    return r * Math.cos(a);
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/**
 * A weight matrix with the statistics of a trained LLM layer: normal entries with a per-row scale
 * (rows differ by up to ~2x) and a small share of large outliers, as seen in real checkpoints.
 */
export function weightMatrix(rows: number, cols: number, seed: number, sigma = 0.02): Float32Array {
  const rng = new Rng(seed);
  const w = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const rowScale = sigma * (0.6 + 0.8 * rng.uniform());
    for (let c = 0; c < cols; c++) {
      const outlier = rng.uniform() < 1e-3 ? 8 : 1;
      w[r * cols + c] = rng.normal() * rowScale * outlier;
    }
  }
  return w;
}
