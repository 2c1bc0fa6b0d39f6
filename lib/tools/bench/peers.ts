// Peers run on the same machine and the same inputs, when installed: Python scripts (numpy,
// scikit-learn, faiss) print one JSON line; a missing peer is reported as skipped, never faked.
import { spawnSync } from 'node:child_process';
import { infoRow, type BenchRow } from './row';

/** A Python 3 with numpy; Debian's modules (python3-sklearn, python3-faiss) live under /usr/bin/python3. */
export const PYTHON = ['/usr/bin/python3', 'python3'].find((p) => spawnSync(p, ['-c', 'import numpy'], { stdio: 'ignore' }).status === 0);

/** Python prelude: median(f) times f three times and returns the median in seconds. */
export const PY_MEDIAN = `
import json, sys, time, numpy as np
def median(f, n=3):
    ts = []
    for _ in range(n):
        t = time.perf_counter(); f(); ts.append(time.perf_counter() - t)
    return sorted(ts)[n // 2]
`;

export type PeerResult = { ok: true; result: Record<string, number> } | { ok: false; reason: string };

/** Runs `script` with `args` on `threads` threads (OpenMP/BLAS); its last stdout line is JSON. */
export function runPython(script: string, args: string[], threads: number): PeerResult {
  if (!PYTHON) return { ok: false, reason: 'no python3 with numpy' };
  const env = { ...process.env, OMP_NUM_THREADS: String(threads), OPENBLAS_NUM_THREADS: String(threads) };
  const p = spawnSync(PYTHON, ['-c', script, ...args], { encoding: 'utf8', env, maxBuffer: 1 << 24 });
  if (p.status !== 0) return { ok: false, reason: /ModuleNotFoundError/.test(p.stderr) ? 'not installed' : `failed: ${p.stderr.trim().split('\n').pop()}` };
  return { ok: true, result: JSON.parse(p.stdout.trim().split('\n').pop()!) };
}

export function skippedRow(id: string, peer: string, reason: string): BenchRow {
  return infoRow(id, `${peer}: skipped (${reason})`, NaN, '-', 'peer');
}

/** The numpy version the peers run with, for their row names. */
export function numpyVersion(): string {
  if (!PYTHON) return 'numpy';
  const p = spawnSync(PYTHON, ['-c', 'import numpy; print(numpy.__version__)'], { encoding: 'utf8' });
  return `numpy ${p.stdout.trim()}`;
}
