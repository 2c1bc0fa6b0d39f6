// safetensors dtypes and what tensorzip does with each.

/** Bytes per element of every safetensors dtype tensorzip accepts. */
export const DTYPE_SIZES = {
  BOOL: 1, U8: 1, I8: 1, F8_E5M2: 1, F8_E4M3: 1, F8_E8M0: 1,
  I16: 2, U16: 2, F16: 2, BF16: 2,
  I32: 4, U32: 4, F32: 4,
  I64: 8, U64: 8, F64: 8,
} as const;

export type Dtype = keyof typeof DTYPE_SIZES;

export function isDtype(s: string): s is Dtype {
  return Object.prototype.hasOwnProperty.call(DTYPE_SIZES, s);
}

/** Dtypes the lossy methods encode (read as f32, written back by round-to-nearest-even). */
export const ENCODED_DTYPES: readonly Dtype[] = ['F32', 'F16', 'BF16'];

/** IEEE-style floats: lossless storage rotates the sign bit out of the exponent byte. */
export function isFloatDtype(d: Dtype): boolean {
  return d === 'F16' || d === 'BF16' || d === 'F32' || d === 'F64';
}

/** Elements of a shape (1 for a scalar []). */
export function numelOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
