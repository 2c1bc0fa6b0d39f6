// lossless (docs/METHODS.md, "lossless"): split elements into byte planes (floats rotated so the
// sign bit leaves the exponent byte), one stream per plane; the entropy stage then codes each
// plane that shrinks. Exact round trip for every dtype.
import { DTYPE_SIZES, isFloatDtype, type Dtype } from '../io/dtypes';
import { native } from '../native';
import { planeStreams, type Method } from './method';
import { SpecError } from '../core/errors';
import { takeBuffer } from '../core/buffer-pool';

export const lossless: Method<Record<string, never>> = {
  name: 'lossless',
  lossy: false,
  parse(args) {
    if (args.length) throw new SpecError(`lossless takes no parameters (got '${args.join(':')}')`);
    return {};
  },
  format: () => 'lossless',
  unsupported: () => undefined,
  chunkUnit: () => 1,
  streamNames: (_p, dtype) => Array.from({ length: DTYPE_SIZES[dtype] }, (_, k) => `plane${k}`),
  rawStreamBytes: (_p, dtype, elements) => Array.from({ length: DTYPE_SIZES[dtype] }, () => elements),
  nominalBits: (_p, dtype) => 8 * DTYPE_SIZES[dtype],
  planes: (_p, dtype) => ({ width: DTYPE_SIZES[dtype], rotate: isFloatDtype(dtype) }),
  async encode(_p, dtype: Dtype, raw, { buffers }) {
    const width = DTYPE_SIZES[dtype];
    const planes = takeBuffer(buffers, raw.byteLength); // every byte is written by the split
    native.bytePlanes({ mode: 'split', src: raw, width, rotate: isFloatDtype(dtype), dst: planes });
    return { streams: planeStreams(planes, width) };
  },
  async decode(_p, dtype: Dtype, streams, elements, { buffers }) {
    const width = DTYPE_SIZES[dtype];
    const out = takeBuffer(buffers, width * elements); // every byte is written by the merge
    native.bytePlanes({ mode: 'merge', src: streams, width, rotate: isFloatDtype(dtype), dst: out });
    return out;
  },
};
