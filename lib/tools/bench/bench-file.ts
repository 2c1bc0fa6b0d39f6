// The bench JSON file: what `bench kernels --out` and `bench e2e --out` write, and what --compare
// reads back as a baseline. A baseline is read and checked before anything runs, so a wrong path
// or a broken file costs a second, not the minutes of a benchmark run.
import { accessSync, constants, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { BenchFile, RecordedRow } from './compare';

const JUDGES = new Set(['higher', 'lower', 'info']);

/** JSON has no NaN or Infinity: they are written as null (and read back as NaN). */
const NUMBERS = ['value', 'pctOfLimit', 'score', 'spread'] as const;

export function readBenchFile(file: string, kind: 'kernels' | 'e2e'): BenchFile {
  const text = readFileSync(file, 'utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new Error(`${file}: not a bench JSON file (${e instanceof Error ? e.message : e})`);
  }
  const bad = (problem: string): never => {
    throw new Error(`${file}: not a bench JSON file: ${problem}`);
  };
  if (typeof json !== 'object' || json === null || Array.isArray(json)) bad('not a JSON object');
  const f = json as Partial<BenchFile>;
  if (!Array.isArray(f.rows)) bad('no rows');
  const written = f.kind ?? 'kernels';
  if (written !== kind) throw new Error(`${file} was written by bench ${written}: --compare of bench ${kind} needs a file written by bench ${kind} --out`);
  const seen = new Set<string>();
  const rows = f.rows!.map((r: Partial<RecordedRow>, i): RecordedRow => {
    if (typeof r !== 'object' || r === null) return bad(`row ${i} is not an object`);
    if (typeof r.id !== 'string' || !r.id) return bad(`row ${i} has no id`);
    if (seen.has(r.id)) return bad(`row ${r.id} appears twice`);
    seen.add(r.id);
    if (!JUDGES.has(r.judge as string)) return bad(`row ${r.id}: judge must be higher, lower or info, got ${JSON.stringify(r.judge)}`);
    for (const k of NUMBERS) if (r[k] !== undefined && r[k] !== null && typeof r[k] !== 'number') bad(`row ${r.id}: ${k} must be a number, got ${JSON.stringify(r[k])}`);
    if (r.judge !== 'info' && typeof r.score !== 'number' && r.score !== null) bad(`row ${r.id} has no score`);
    const num = (v: unknown) => (typeof v === 'number' ? v : NaN);
    return {
      ...(r as RecordedRow),
      name: typeof r.name === 'string' ? r.name : r.id,
      value: num(r.value),
      pctOfLimit: num(r.pctOfLimit),
      score: num(r.score),
      spread: num(r.spread) || 0,
      limit: typeof r.limit === 'string' ? r.limit : '-',
    };
  });
  return {
    ...(f as BenchFile),
    date: String(f.date ?? 'unknown date'),
    machine: String(f.machine ?? 'unknown machine'),
    rows,
  };
}

/** Fails now if `file` cannot be written (a read-only directory, a path through a file), rather
 * than after the run. */
export function checkWritable(file: string): void {
  const dir = path.dirname(path.resolve(file));
  mkdirSync(dir, { recursive: true });
  accessSync(existsSync(file) ? file : dir, constants.W_OK);
}

export function writeBenchFile(file: string, content: BenchFile): void {
  mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  writeFileSync(file, JSON.stringify(content, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2) + '\n');
}
