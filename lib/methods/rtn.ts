// rtn (docs/METHODS.md, "rtn"): symmetric absmax round-to-nearest, 2-8 bits, f16 scale per
// group. The yardstick every lossy method is reported next to. Kernels:
// binding/cpu/quant/rtn_{scalar,avx2}.cc and binding/cuda/rtn.cu (where each runs:
// binding/backend_table.cc).
import { elementImportance } from './importance';
import { ENCODED_DTYPES } from '../io/dtypes';
import { runJob } from '../jobs';
import { native } from '../native';
import { bytesOf, floatOutput, floatDtype, floatView, u16View } from './f32';
import { F16_OVERFLOW, F16_VALUES, packedBytes, type Method } from './method';
import { SpecError } from '../core/errors';

export interface RtnParams {
  bits: number;
  group: number;
}

export const rtn: Method<RtnParams> = {
  name: 'rtn',
  lossy: true,
  usesImportance: () => true,
  parse(args) {
    if (args.length < 1 || args.length > 2) throw new SpecError('rtn needs bits and an optional group: rtn:<bits>[:g<group>]');
    const bits = Number(args[0]);
    if (!/^[0-9]+$/.test(args[0]) || bits < 2 || bits > 8) throw new SpecError(`rtn bits must be an integer from 2 to 8 (got '${args[0]}')`);
    let group = bits <= 4 ? 32 : 128;
    if (args.length === 2) {
      const m = /^g([0-9]+)$/.exec(args[1]);
      group = m ? Number(m[1]) : NaN;
      if (!m || group < 8 || group > 1 << 20 || group % 8) throw new SpecError(`rtn group must be g<N> with N a multiple of 8 from 8 to 1048576 (got '${args[1]}')`);
    }
    return { bits, group };
  },
  format: (p) => `rtn:${p.bits}:g${p.group}`,
  unsupported: (_p, dtype) => (ENCODED_DTYPES.includes(dtype) ? undefined : `rtn encodes F32/F16/BF16, not ${dtype}`),
  // Exactly the kernel's rule (binding/cpu/quant/rtn.h): the group holding max|w| gets the scale
  // f16(f32(max|w| / qmax)), which is Inf from 65520 on. Importance-weighted scales start there too.
  unrepresentable(p, absMax) {
    const qmax = 2 ** (p.bits - 1) - 1;
    if (Math.fround(Math.fround(absMax) / qmax) < F16_OVERFLOW) return undefined;
    return `its f16 group scale, max|w|/${qmax}, overflows from |w| = ${F16_OVERFLOW * qmax} on`;
  },
  chunkUnit: (p) => p.group,
  streamNames: () => ['codes', 'scales'],
  // Codes of 3, 5, 6 or 7 bits straddle bytes: coded as codes; 2, 4 and 8 bits fill bytes whole,
  // and a byte holds their joint distribution, which codes at least as well.
  symbolModel: (p, _dtype, stream) => (stream === 'scales' ? F16_VALUES : 8 % p.bits ? { bits: p.bits } : undefined),
  rawStreamBytes: (p, _dtype, elements) => [packedBytes(elements, p.bits), 2 * Math.ceil(elements / p.group)],
  nominalBits: (p, _dtype, numel) => (numel ? (8 * packedBytes(numel, p.bits) + 16 * Math.ceil(numel / p.group)) / numel : 0),
  async encode(p, dtype, raw, { threads, device, signal }, chunk) {
    // The job reads the stored dtype, and measures the reconstruction's error in it.
    const weights = floatView(dtype, raw);
    const codes = new Uint8Array(packedBytes(weights.length, p.bits));
    const scales = new Uint16Array(Math.ceil(weights.length / p.group));
    // With --importance: scales that minimise the error weighted by each weight's column importance.
    const importance = chunk.importance && elementImportance(chunk.importance, chunk.first, weights.length);
    const args = { weights, dtype: floatDtype(dtype), bits: p.bits, group: p.group, codes, scales, importance, measure: true as const, threads, device };
    const sums = await runJob((progress) => native.rtnEncode(args, progress), { signal });
    return { streams: [codes, bytesOf(scales)], sums };
  },
  async decode(p, dtype, [codes, scaleBytes], elements, { threads, device, signal, buffers }) {
    const out = floatOutput(dtype, elements, buffers);
    await runJob((progress) => native.rtnDecode({ out, dtype: floatDtype(dtype), bits: p.bits, group: p.group, codes, scales: u16View(scaleBytes), threads, device }, progress), { signal });
    return bytesOf(out);
  },
};
