// rtn encode (absmax scale per group, round, pack) and decode on one 1536 x 8960 f32 matrix, as
// bytes read + written per second against copy bandwidth; numpy runs the same encode on the
// same weights.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runJob } from '../../jobs';
import { metricsFromSums } from '../../pipeline/metrics';
import { packedBytes } from '../../methods/method';
import { native } from '../../native';
import { weightMatrix } from '../../core/random';
import { measure } from './measure';
import { numpyVersion, PY_MEDIAN, runPython, skippedRow } from './peers';
import { bandwidthRow, figureRow, infoRow, threadWord, type BenchContext, type BenchRow } from './row';

export const SETTINGS = [
  { bits: 4, group: 32 },
  { bits: 8, group: 128 },
];

// The same definition (docs/METHODS.md#rtn): f16 scale max|w|/qmax, codes q + qmax, packed.
const NUMPY_RTN = `${PY_MEDIAN}
w = np.fromfile(sys.argv[1], dtype=np.float32)
bits, group = int(sys.argv[2]), int(sys.argv[3])
qmax = 2 ** (bits - 1) - 1
def encode():
    g = w.reshape(-1, group)
    s = (np.abs(g).max(axis=1, keepdims=True) / qmax).astype(np.float16).astype(np.float32)
    q = (np.clip(np.rint(g * (1 / np.where(s > 0, s, 1))), -qmax, qmax) + qmax).astype(np.uint8).reshape(-1)
    codes = q if bits == 8 else (q[0::2] | (q[1::2] << 4))
    return codes, s.astype(np.float16)
print(json.dumps({'seconds': median(encode)}))`;

export async function rtnBench({ threads, limits, peers }: BenchContext): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const w = weightMatrix(1536, 8960, 9);
  const n = w.length;
  const out = new Float32Array(n);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tz-bench-'));
  try {
    const file = path.join(dir, 'w.f32');
    if (peers) writeFileSync(file, new Uint8Array(w.buffer));
    for (const { bits, group } of SETTINGS) {
      const codes = new Uint8Array(packedBytes(n, bits));
      const scales = new Uint16Array(n / group);
      const traffic = 4 * n + codes.length + 2 * scales.length;
      const what = `rtn:${bits}:g${group} 1536x8960 f32`;
      const id = `rtn.${bits}.g${group}`;
      const encode1 = await measure(`${what} encode 1t`, () => native.kernelRow('rtn_encode', { weights: w, bits, group, codes, scales }));
      const decode1 = await measure(`${what} decode 1t`, () => native.kernelRow('rtn_decode', { out, bits, group, codes, scales }));
      const encode = await measure(`${what} encode`, () => runJob((p) => native.rtnEncode({ weights: w, bits, group, codes, scales, threads }, p)));
      const decode = await measure(`${what} decode`, () => runJob((p) => native.rtnDecode({ out, bits, group, codes, scales, threads }, p)));
      rows.push(
        bandwidthRow(`${id}.encode.1t`, `${what} encode, 1 thread`, traffic / encode1, limits, 1),
        bandwidthRow(`${id}.decode.1t`, `${what} decode, 1 thread`, traffic / decode1, limits, 1),
        bandwidthRow(`${id}.encode.job`, `${what} encode, job, ${threadWord(threads)}`, traffic / encode, limits, threads),
        bandwidthRow(`${id}.decode.job`, `${what} decode, job, ${threadWord(threads)}`, traffic / decode, limits, threads),
        figureRow(`${id}.error`, `${what} relative error`, metricsFromSums(native.tensorStats(w, out)).relativeError, 'rel.err', 'lower'),
      );
      const peer = `${numpyVersion()} ${what} encode, same weights`;
      const r = peers ? runPython(NUMPY_RTN, [file, String(bits), String(group)], 1) : { ok: false as const, reason: '--no-peers' };
      if (!r.ok) rows.push(skippedRow(`${id}.peer.numpy`, peer, r.reason));
      else {
        const rate = traffic / r.result.seconds;
        rows.push(infoRow(`${id}.peer.numpy`, `${peer}, 1 thread: tensorzip's 1-thread kernel is ${((traffic / encode1) / rate).toFixed(1)}x faster`, rate / 1e9, 'GB/s', 'peer'));
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}
