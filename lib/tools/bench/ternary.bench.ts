// ternary encode+pack and decode at the MLP shapes of a 1.5B-class model, bf16 in and out (the
// kernels read and write bf16 themselves), as bytes read + written per second and as % of copy
// bandwidth. numpy runs the same absmean ternarization and base-3 packing on the same bf16 bytes.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runJob } from '../../jobs';
import { metricsFromSums } from '../../pipeline/metrics';
import { OPT_ROUNDS } from '../../methods/ternary';
import { native } from '../../native';
import { weightMatrix } from '../../core/random';
import { measure } from './measure';
import { numpyVersion, PY_MEDIAN, runPython, skippedRow } from './peers';
import { bandwidthRow, figureRow, infoRow, threadWord, type BenchContext, type BenchRow } from './row';

// bf16 -> f32, g256 absmean scale (f16), trits, 5 per byte: the work of `ternary` (g256, p3).
const NUMPY_TERNARY = `${PY_MEDIAN}
u = np.fromfile(sys.argv[1], dtype=np.uint16)
powers = np.array([1, 3, 9, 27, 81], dtype=np.uint8)
def encode():
    w = (u.astype(np.uint32) << 16).view(np.float32).reshape(-1, 256)
    s = np.abs(w).mean(axis=1, keepdims=True).astype(np.float16).astype(np.float32)
    q = (np.clip(np.rint(w / np.where(s > 0, s, 1)), -1, 1) + 1).astype(np.uint8).reshape(-1, 5)
    return (q * powers).sum(axis=1, dtype=np.uint8), s.astype(np.float16)
print(json.dumps({'seconds': median(encode)}))`;

export async function ternaryBench({ threads, limits, peers }: BenchContext): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  for (const [r, c] of [[1536, 8960], [8960, 1536]]) {
    const n = r * c;
    const bf16 = new Uint16Array(n);
    native.kernelRow('f32_to_bf16', { src: weightMatrix(r, c, 5), dst: bf16 });
    for (const packing of [3, 2] as const) {
      const packed = new Uint8Array(Math.ceil(n / (packing === 3 ? 5 : 4)));
      const scales = new Uint16Array(Math.ceil(n / 256));
      const traffic = 2 * n + packed.length + 2 * scales.length; // bf16 in, codes + scales out (and back)
      const out = new Uint16Array(n);
      const what = `${r}x${c} bf16 g256 p${packing}`;
      const id = `ternary.${r}x${c}.p${packing}`;
      // The kernel alone on one thread (synchronous), then the job the pipeline runs.
      const encode1 = await measure(`ternary encode ${what} 1t`, () => native.kernelRow('ternary_encode', { weights: bf16, dtype: 'BF16', group: 256, packing, packed, scales }));
      const decode1 = await measure(`ternary decode ${what} 1t`, () => native.kernelRow('ternary_decode', { out, dtype: 'BF16', group: 256, packing, packed, scales }));
      const encode = await measure(`ternary encode ${what}`, () =>
        runJob((p) => native.ternaryEncode({ weights: bf16, dtype: 'BF16', group: 256, packing, packed, scales, threads }, p)),
      );
      const decode = await measure(`ternary decode ${what}`, () =>
        runJob((p) => native.ternaryDecode({ out, dtype: 'BF16', group: 256, packing, packed, scales, threads }, p)),
      );
      rows.push(
        bandwidthRow(`${id}.encode.1t`, `ternary encode+pack ${what}, 1 thread`, traffic / encode1, limits, 1),
        bandwidthRow(`${id}.decode.1t`, `ternary unpack+decode ${what}, 1 thread`, traffic / decode1, limits, 1),
        bandwidthRow(`${id}.encode.job`, `ternary encode+pack ${what}, job, ${threadWord(threads)}`, traffic / encode, limits, threads),
        bandwidthRow(`${id}.decode.job`, `ternary unpack+decode ${what}, job, ${threadWord(threads)}`, traffic / decode, limits, threads),
      );
      if (packing === 3 && r === 1536) rows.push(...numpyPeer(bf16, traffic, traffic / encode1, peers));
    }
  }
  rows.push(...optErrorRows());
  return rows;
}

function numpyPeer(bf16: Uint16Array, traffic: number, ours: number, peers: boolean): BenchRow[] {
  const peer = `${numpyVersion()} ternary g256 p3 encode, same bf16 1536x8960`;
  if (!peers) return [skippedRow('ternary.peer.numpy', peer, '--no-peers')];
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tz-bench-'));
  try {
    writeFileSync(path.join(dir, 'w.bf16'), new Uint8Array(bf16.buffer));
    const r = runPython(NUMPY_TERNARY, [path.join(dir, 'w.bf16')], 1);
    if (!r.ok) return [skippedRow('ternary.peer.numpy', peer, r.reason)];
    const rate = traffic / r.result.seconds;
    return [infoRow('ternary.peer.numpy', `${peer}, 1 thread: tensorzip's 1-thread kernel is ${(ours / rate).toFixed(1)}x faster`, rate / 1e9, 'GB/s', 'peer')];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
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
      native.kernelRow('ternary_encode', { weights: w, dtype: 'F32', group: 256, packing: 3, rounds, packed, scales });
      native.kernelRow('ternary_decode', { out, dtype: 'F32', group: 256, packing: 3, packed, scales });
      return metricsFromSums(native.tensorStats(w, out)).relativeError;
    };
    const plain = error(0);
    const opt = error(OPT_ROUNDS);
    rows.push(
      figureRow(`ternary.error.${r}x${c}.absmean`, `ternary g256 ${r}x${c} relative error, absmean`, plain, 'rel.err', 'lower'),
      figureRow(`ternary.error.${r}x${c}.opt`, `ternary g256:opt ${r}x${c} relative error (${(100 * (1 - opt / plain)).toFixed(1)}% below absmean)`, opt, 'rel.err', 'lower'),
    );
  }
  return rows;
}
