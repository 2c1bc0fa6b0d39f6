// ternary encode+pack and decode at the MLP shapes of a 1.5B-class model, bf16 in and out (the
// kernels read and write bf16 themselves), as bytes read + written per second and as % of copy
// bandwidth at the same traffic, measured in the same run.
import { runJob } from '../lib/jobs';
import { metricsFromSums } from '../lib/metrics';
import { OPT_ROUNDS } from '../lib/methods/ternary';
import { native } from '../lib/native';
import { weightMatrix } from '../lib/random';
import type { BenchRow } from './convert.bench';
import { copyBandwidth } from './limits';
import { measure } from './measure';

export async function ternaryBench(threads: number): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  for (const [r, c] of [[1536, 8960], [8960, 1536]]) {
    const n = r * c;
    const bf16 = new Uint16Array(n);
    native.convert('f32_to_bf16', weightMatrix(r, c, 5), bf16);
    for (const packing of [3, 2] as const) {
      const packed = new Uint8Array(Math.ceil(n / (packing === 3 ? 5 : 4)));
      const scales = new Uint16Array(Math.ceil(n / 256));
      const traffic = 2 * n + packed.length + 2 * scales.length; // bf16 in, codes + scales out (and back)
      const out = new Uint16Array(n);
      const what = `${r}x${c} bf16 g256 p${packing}`;
      // The kernel alone on one thread (synchronous), then the job the pipeline runs.
      const copy1 = await copyBandwidth(Math.round(traffic / 2), 1);
      const encode1 = await measure(`ternary encode ${what} 1t`, () => native.ternaryEncode(bf16, 'BF16', 256, packing, -1, 0, packed, scales));
      const decode1 = await measure(`ternary decode ${what} 1t`, () => native.ternaryDecode(out, 'BF16', 256, packing, -1, 0, packed, scales));
      const copy = await copyBandwidth(Math.round(traffic / 2), threads);
      const encode = await measure(`ternary encode ${what}`, () =>
        runJob((p) => native.ternaryEncodeAsync(bf16, 'BF16', 256, packing, -1, 0, packed, scales, { threads }, p)),
      );
      const decode = await measure(`ternary decode ${what}`, () =>
        runJob((p) => native.ternaryDecodeAsync(out, 'BF16', 256, packing, -1, 0, packed, scales, { threads }, p)),
      );
      for (const [kind, s, limit, t] of [
        ['encode+pack', encode1, copy1, 1],
        ['unpack+decode', decode1, copy1, 1],
        ['encode+pack', encode, copy, threads],
        ['unpack+decode', decode, copy, threads],
      ] as const)
        rows.push({
          name: `ternary ${kind} ${what}, ${t === 1 ? '1 thread' : `job, ${t} threads`}`,
          throughput: traffic / s / 1e9,
          unit: 'GB/s',
          pctOfLimit: (100 * traffic) / s / limit,
          limit: `copy ${t} thread${t === 1 ? '' : 's'}`,
        });
    }
  }
  rows.push(...optErrorRows());
  return rows;
}

/** What :opt saves: relative error of plain absmean and of :opt on the same generated matrices. */
function optErrorRows(): BenchRow[] {
  const rows: BenchRow[] = [];
  for (const [r, c] of [[1536, 8960], [8960, 1536]]) {
    const w = weightMatrix(r, c, 7);
    const packed = new Uint8Array(Math.ceil(w.length / 5));
    const scales = new Uint16Array(Math.ceil(w.length / 256));
    const out = new Float32Array(w.length);
    const error = (rounds: number) => {
      native.ternaryEncode(w, 'F32', 256, 3, -1, rounds, packed, scales);
      native.ternaryDecode(out, 'F32', 256, 3, -1, 0, packed, scales);
      return metricsFromSums(native.errorSums(w, out)).relativeError;
    };
    const plain = error(0);
    const opt = error(OPT_ROUNDS);
    rows.push({
      name: `ternary g256 ${r}x${c} relative error: absmean ${plain.toFixed(4)} -> :opt ${opt.toFixed(4)} (${(100 * (1 - opt / plain)).toFixed(1)}% lower)`,
      throughput: opt,
      unit: 'rel.err',
      pctOfLimit: NaN,
      limit: '-',
    });
  }
  return rows;
}
