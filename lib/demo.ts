// `tensorzip demo` / `npm start`: shows the backend in use and runs the native conversion
// kernels on a generated LLM-like weight matrix, printing measured time and round-trip error.
import { backendInfo } from './backend';
import { convertAsync } from './convert';
import { errorMetrics, type ErrorMetrics } from './metrics';
import { weightMatrix } from './random';

export interface DemoRow extends ErrorMetrics {
  conversion: string;
  device: 'cpu' | 'cuda';
  seconds: number;
  /** Bytes read + written by both conversions, per second. */
  bytesPerSecond: number;
}

export interface DemoResult {
  backend: ReturnType<typeof backendInfo>;
  rows: number;
  cols: number;
  seed: number;
  results: DemoRow[];
}

export async function runDemo({ rows = 4096, cols = 4096, seed = 1 } = {}): Promise<DemoResult> {
  const backend = backendInfo();
  const w = weightMatrix(rows, cols, seed);
  const devices: Array<'cpu' | 'cuda'> = 'gpus' in backend.cuda ? ['cpu', 'cuda'] : ['cpu'];
  const results: DemoRow[] = [];
  for (const device of devices) {
    for (const [name, down, up] of [
      ['f32 -> bf16 -> f32', 'f32_to_bf16', 'bf16_to_f32'],
      ['f32 -> f16 -> f32', 'f32_to_f16', 'f16_to_f32'],
    ] as const) {
      // Output buffers are touched once before timing: first-touch page faults would otherwise
      // dominate and the kernels are what this measures.
      const half = await convertAsync(down, w, { device });
      const back = await convertAsync(up, half, { device });
      const t0 = process.hrtime.bigint();
      await convertAsync(down, w, { device, dst: half });
      await convertAsync(up, half, { device, dst: back });
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      const bytes = w.byteLength * 2 + half.byteLength * 2;
      results.push({ conversion: name, device, seconds, bytesPerSecond: bytes / seconds, ...errorMetrics(w, back) });
    }
  }
  return { backend, rows, cols, seed, results };
}

export function formatDemo(d: DemoResult): string {
  const cuda = 'gpus' in d.backend.cuda
    ? d.backend.cuda.gpus.map((g) => `${g.name} (sm ${g.computeCapability})`).join(', ')
    : `unavailable: ${d.backend.cuda.unavailable}`;
  const lines = [
    `CPU kernels: ${d.backend.cpu} (${d.backend.cpuReason})`,
    `CUDA:        ${cuda}`,
    '',
    `Generated weight matrix ${d.rows} x ${d.cols} f32 (${((d.rows * d.cols * 4) / 2 ** 20).toFixed(1)} MiB, seed ${d.seed}), LLM-like statistics`,
    '',
    pad(['conversion', 'device', 'time', 'GB/s', 'rel. error', 'SNR dB', 'max abs err']),
    ...d.results.map((r) =>
      pad([
        r.conversion,
        r.device,
        `${(r.seconds * 1000).toFixed(1)} ms`,
        (r.bytesPerSecond / 1e9).toFixed(2),
        r.relativeError.toExponential(3),
        r.snrDb.toFixed(1),
        r.maxAbsError.toExponential(2),
      ]),
    ),
    '',
    'Time: both conversions into already-touched buffers; GB/s counts bytes read + written. Errors: against the f32 original.',
  ];
  return lines.join('\n');
}

const widths = [20, 7, 11, 7, 12, 8, 11];
function pad(cells: string[]): string {
  return cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' ');
}
