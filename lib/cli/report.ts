// Human-readable reports for the CLI. Every number is the measured one; ratios are original
// file bytes over container bytes, and every lossy tensor is shown with its error.
import type { BudgetReport } from '../budget/plan';
import * as path from 'node:path';
import { formatBytes, table } from '../core/format';
import { DESTRUCTIVE_ERROR } from '../pipeline/metrics';
import type { CompressReport, DryRunReport } from '../pipeline/compress';
import type { ImatrixResult } from '../eval/imatrix';
import type { EvalResult, PerplexityFigures } from '../eval/perplexity';
import type { InspectReport } from '../pipeline/inspect';
import type { VerifyReport } from '../pipeline/verify';
import type { ExportReport } from '../pipeline/export';

const num = (x: number | null | undefined, digits = 3) => (x === null || x === undefined || Number.isNaN(x) ? '-' : !Number.isFinite(x) ? 'inf' : x.toExponential(digits - 1));
const db = (x: number | null | undefined) => (x === null || x === undefined ? 'inf' : !Number.isFinite(x) ? 'inf' : x.toFixed(1));

interface Row {
  name: string;
  method: string;
  dtype: string;
  shape: number[];
  bitsPerWeight: number;
  metrics?: { relativeError: number; snrDb: number | null; maxAbsError: number } | undefined;
  note?: string;
  seconds?: number;
}

function tensorTable(rows: Row[], withTime: boolean): string {
  const header = ['tensor', 'method', 'dtype', 'shape', 'bits/w', 'rel.err', 'SNR dB', 'max|err|', ...(withTime ? ['time'] : [])];
  const body = rows.map((r) => [
    r.name,
    r.method,
    r.dtype,
    r.shape.join('x') || 'scalar',
    r.bitsPerWeight.toFixed(3),
    r.metrics ? num(r.metrics.relativeError) : 'exact',
    r.metrics ? db(r.metrics.snrDb) : 'inf',
    r.metrics ? num(r.metrics.maxAbsError) : '0',
    ...(withTime ? [`${(r.seconds ?? 0).toFixed(2)}s`] : []),
  ]);
  return table(header, body, 3);
}

/** Notes, one line per note: the tensors that share it are counted, and a few named. */
function notes(rows: Row[]): string[] {
  const byNote = new Map<string, string[]>();
  for (const r of rows) if (r.note) byNote.set(r.note, [...(byNote.get(r.note) ?? []), r.name]);
  const out = [...byNote].map(([text, names]) =>
    names.length === 1 ? `  ${names[0]}: ${text}` : `  ${names.length} tensors: ${text} (${names.slice(0, 3).join(', ')}${names.length > 3 ? `, and ${names.length - 3} more` : ''})`,
  );
  const destroyed = rows.filter((r) => r.metrics && r.metrics.relativeError > DESTRUCTIVE_ERROR);
  if (destroyed.length)
    out.push(
      `  WARNING: ${destroyed.length} tensor(s) have relative error above ${DESTRUCTIVE_ERROR}: at this setting their weights no longer` +
        ' carry what the model learned.' +
        (destroyed.some((r) => r.method.startsWith('ternary'))
          ? ' A model not trained for ternary weights (BitNet b1.58 style) will not work at this setting.'
          : ' A model not trained for this setting will not work.'),
    );
  return out;
}

/** quiet: the summary alone (and any warning), without the per-tensor table and notes. */
export function formatCompress(r: CompressReport, quiet = false): string {
  const rows: Row[] = r.tensors.map((t) => ({ ...t, metrics: t.metrics && { ...t.metrics, snrDb: t.metrics.snrDb } }));
  const n = notes(rows).filter((line) => !quiet || line.startsWith('  WARNING'));
  const lines = [
    ...(quiet ? [] : [tensorTable(rows, true), '']),
    ...(n.length ? ['notes:', ...n, ''] : []),
    `original:    ${formatBytes(r.originalBytes)} (${r.originalBytes} bytes: ${formatBytes(r.weightBytes)} of safetensors with ${r.tensors.length} tensors` +
      `${r.files.length ? ` + ${formatBytes(r.carriedBytes)} in ${r.files.length} carried file${r.files.length === 1 ? '' : 's'}` : ''})`,
    ...(r.skipped.length ? [`skipped:     ${skippedSummary(r.skipped)}`] : []),
    ...(r.unmatched.length ? [`unmatched:   ${r.unmatched.join(', ')} matched no file`] : []),
    ...(r.symlinks.length ? [`symlinks:    ${symlinkSummary(r.symlinks)}`] : []),
    `container:   ${formatBytes(r.containerBytes)} (${r.containerBytes} bytes) -> ${r.output}`,
    `ratio:       ${r.ratio.toFixed(3)}x (original file bytes / container bytes)`,
    `bits/weight: ${r.bitsPerWeight.toFixed(3)} overall (container bits / ${r.weights} weights)` +
      (r.lossy ? `; ${r.lossy.bitsPerWeight.toFixed(3)} for the ${r.lossy.weights} weights of lossy tensors` : ''),
    `wall time:   ${r.seconds.toFixed(2)} s on ${r.device}`,
  ];
  return lines.join('\n');
}

/** compress --target-bpw: the container's report, then the plan's own figures. */
export function formatBudget(r: BudgetReport, quiet = false): string {
  const c = r.compress;
  const byMethod = new Map<string, number>();
  for (const p of r.plan) byMethod.set(p.spec, (byMethod.get(p.spec) ?? 0) + 1);
  const lines = [
    formatCompress(c, quiet),
    `target:      ${r.targetBitsPerWeight.toFixed(3)} bits/weight (${r.targetBytes} bytes); the container has ${c.bitsPerWeight.toFixed(3)} (${c.containerBytes} bytes)` +
      (r.tries > 1 ? `, planned ${r.tries} times to fit` : ''),
    `plan:        ${r.plan.length} weight matrices from ${r.candidates.length} candidates: ${[...byMethod].sort((a, b) => b[1] - a[1]).map(([spec, n]) => `${n} × ${spec}`).join(', ')}`,
    r.sensitivity === 'calibrated'
      ? `KL:          predicted ${r.predictedKl!.toFixed(4)}, measured ${r.measured!.klMean.toFixed(4)} nats (top-1 agreement ${(100 * r.measured!.top1Agreement).toFixed(1)} %) over ${r.measured!.scored} positions of the calibration text`
      : 'KL:          not predicted: without --calibration, each matrix counts its weights\' squared relative error alike (data-free)',
    `total time:  ${r.seconds.toFixed(1)} s (every candidate, the sensitivities, the container)`,
  ];
  return lines.join('\n');
}

export function formatDryRun(r: DryRunReport, quiet = false): string {
  const rows = r.tensors.map((t) => [t.name, t.method, t.dtype, t.shape.join('x') || 'scalar', formatBytes(t.originalBytes), formatBytes(t.projectedBytes), t.bitsPerWeight.toFixed(3)]);
  const n = notes(r.tensors.map((t) => ({ ...t, bitsPerWeight: t.bitsPerWeight })));
  return [
    ...(quiet ? [] : [table(['tensor', 'method', 'dtype', 'shape', 'original', 'projected', 'bits/w'], rows, 3), '']),
    ...(n.length && !quiet ? ['notes:', ...n, ''] : []),
    `dry run:     ${r.tensors.length} tensors of ${r.input}, ${formatBytes(r.originalBytes)} -> about ${formatBytes(r.projectedBytes)}, ${r.bitsPerWeight.toFixed(3)} bits/weight over ${r.weights} weights`,
    '             (what the methods store, before the entropy stage, which only shrinks it; the container adds its header and the carried files;',
    '             a lossy tensor found to hold NaN/Inf would be stored lossless); nothing was read beyond the headers, nothing written',
  ].join('\n');
}

/** What was left out, biggest first: not in the container, not in the ratio. */
function skippedSummary(skipped: CompressReport['skipped']): string {
  const total = skipped.reduce((a, f) => a + f.bytes, 0);
  const list = [...skipped].sort((a, b) => b.bytes - a.bytes || (a.path < b.path ? -1 : 1));
  const shown = list.slice(0, 5).map((f) => `${f.path} (${formatBytes(f.bytes)}, ${f.why})`).join(', ') + (list.length > 5 ? `, and ${list.length - 5} more` : '');
  return `${skipped.length} file${skipped.length === 1 ? '' : 's'}, ${formatBytes(total)}, not in the container nor in the ratio: ${shown}; --include <glob> carries a file`;
}

/** "read 3 files through symlinks (into /hub/models--org--name/blobs)": where the bytes came from. */
function symlinkSummary(links: CompressReport['symlinks']): string {
  const into = [...new Set(links.map((l) => path.dirname(l.target)))].sort();
  const shown = into.slice(0, 3).join(', ') + (into.length > 3 ? `, and ${into.length - 3} more folders` : '');
  return `read ${links.length} file${links.length === 1 ? '' : 's'} through symlinks (into ${shown})`;
}

export function formatInspect(r: InspectReport): string {
  const m = r.meta;
  const rows: Row[] = m.tensors.map((t) => ({ ...t, metrics: t.metrics && { ...t.metrics } }));
  const n = notes(rows);
  return [
    `container:   ${r.path} (${r.containerBytes} bytes), format version ${m.formatVersion}, written by ${m.tool}`,
    `options:     method ${m.options.method}${m.options.coder ? `, coder ${m.options.coder}` : ''}, lzma ${m.options.lzma}${m.options.policy ? `, policy ${JSON.stringify(m.options.policy)}` : ''}`,
    `source:      ${m.source.kind}, ${m.source.shards.length} safetensors file(s): ${m.source.shards.map((s) => s.path).join(', ')}`,
    ...(m.files.length ? [`files:       ${m.files.map((f) => `${f.path} (${f.bytes} B)`).join(', ')}`] : []),
    '',
    tensorTable(rows, false),
    ...(n.length ? ['', 'notes:', ...n] : []),
    '',
    `ratio:       ${r.summary.ratio.toFixed(3)}x (${r.summary.originalBytes} original bytes / ${r.summary.containerBytes} container bytes)`,
    `bits/weight: ${r.summary.bitsPerWeight.toFixed(3)} overall` + (r.summary.lossy ? `; ${r.summary.lossy.bitsPerWeight.toFixed(3)} for lossy tensors` : ''),
  ].join('\n');
}

export function formatVerify(r: VerifyReport): string {
  const header = ['tensor', 'method', 'result', 'rel.err', 'SNR dB', 'max|err|', 'cosine'];
  const rows = r.tensors.map((t) => {
    const m = t.metrics;
    // Figures only where they were measured (lossy, against the original) or hold by definition
    // (bit-exact); a failed comparison has none to show.
    const exact = t.ok && !m && r.against !== undefined;
    const result = !t.ok ? 'FAILED' : m ? 'ok (measured)' : r.against === undefined ? 'ok (decoded)' : 'ok (bit-exact)';
    if (m) return [t.name, t.method, result, num(m.relativeError), db(m.snrDb), num(m.maxAbsError), Number.isNaN(m.cosine) ? '-' : m.cosine.toFixed(6)];
    return [t.name, t.method, result, ...(exact ? ['exact', 'inf', '0', '1'] : ['-', '-', '-', '-'])];
  });
  const verdict = r.against === undefined
    ? 'verify: OK (every checksum matched, every piece decoded, the recorded figures consistent; no original compared)'
    : 'verify: OK (every checksum matched; lossless data bit-exact; lossy errors as recorded)';
  return [
    table(header, rows, 2),
    '',
    `files:       ${r.files.length ? r.files.map((f) => `${f.path} ${f.ok ? 'ok' : 'FAILED'}`).join(', ') : 'none'}`,
    `ratio:       ${r.summary.ratio.toFixed(3)}x, ${r.summary.bitsPerWeight.toFixed(3)} bits/weight overall`,
    ...(r.problems.length ? ['', `${r.problems.length} problem${r.problems.length === 1 ? '' : 's'}:`, ...r.problems.map((p) => `  ${p}`)] : []),
    '',
    r.ok ? verdict : 'verify: FAILED',
  ].join('\n');
}

const pplText = (f: PerplexityFigures) => `${f.perplexity.toFixed(4)} ± ${f.perplexityError.toFixed(4)}`;

export function formatEval(r: EvalResult): string {
  const lines: string[] = [];
  if (r.reference && r.kl && r.top1Agreement !== undefined) {
    const d = r.perplexity - r.reference.perplexity, sign = d >= 0 ? '+' : '';
    const e = (x: number) => x.toExponential(3);
    lines.push(
      table(
        ['model', 'perplexity', 'Δ perplexity', 'mean KL', 'median KL', 'p99 KL', 'max KL', 'top-1 agreement'],
        [
          [`${r.reference.model} (reference)`, pplText(r.reference), '-', '-', '-', '-', '-', '-'],
          [r.model, pplText(r), `${sign}${d.toFixed(4)} (${sign}${((d / r.reference.perplexity) * 100).toFixed(3)} %)`, e(r.kl.mean), e(r.kl.median), e(r.kl.p99), e(r.kl.max), `${(r.top1Agreement * 100).toFixed(3)} %`],
        ],
      ),
      '',
      'KL: KL(P_reference ‖ P_model) of the next-token distributions per scored token, in nats. top-1: share of scored tokens where both',
      "models' most likely next token is the same.",
    );
  } else {
    lines.push(table(['model', 'perplexity', 'mean NLL'], [[r.model, pplText(r), r.meanNll.toFixed(5)]]));
  }
  lines.push(`${r.chunks} chunks of ${r.ctx} tokens, ${r.scored} scored (the second half of each chunk), from ${r.tokens}; ${r.seconds.toFixed(1)} s`);
  return lines.join('\n');
}

export function formatImatrix(r: ImatrixResult): string {
  return `wrote ${r.output}: ${r.entries} importance vectors (mean squared input per column) from ${r.activations} tokens ` +
    `(${r.chunks} chunks of ${r.ctx}, ${r.tokens}) in ${r.seconds.toFixed(1)} s`;
}

/** export's report: the file, its size and bits/weight, and how each kind of tensor got there. */
export function formatExport(r: ExportReport): string {
  const groups = new Map<string, number>();
  for (const t of r.tensors) {
    const how: Record<ExportReport['tensors'][number]['how'], string> = {
      copied: `copied from ${t.method}`,
      'as-stored': 'as stored',
      decoded: `decoded from ${t.method}`,
      requantized: `re-quantized from ${t.method}`,
      f32: 'widened to f32 (1-D)',
    };
    const key = `${t.type} ${how[t.how]}`;
    groups.set(key, (groups.get(key) ?? 0) + 1);
  }
  return [
    `wrote ${r.output}: GGUF v3, architecture ${r.architecture}, ${formatBytes(r.bytes)} (${r.bytes} bytes), ${r.bitsPerWeight.toFixed(3)} bits/weight over ${r.weights} weights, in ${r.seconds.toFixed(2)} s`,
    ...[...groups].map(([k, n]) => `  ${String(n).padStart(4)} tensor(s): ${k}`),
    ...requantSummary(r.tensors),
  ].join('\n');
}

/** One line for the re-quantized tensors: the mean and the largest relative error added. */
function requantSummary(tensors: ExportReport['tensors']): string[] {
  const re = tensors.filter((t) => t.relativeError !== undefined);
  if (!re.length) return [];
  const worst = re.reduce((a, b) => (b.relativeError! > a.relativeError! ? b : a));
  const mean = re.reduce((a, t) => a + t.relativeError!, 0) / re.length;
  return [`  re-quantizing added a relative RMS error of ${mean.toFixed(4)} on average, at most ${worst.relativeError!.toFixed(4)} (${worst.name})`];
}
