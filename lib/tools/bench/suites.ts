// Which kernel suite (lib/tools/presets.ts names them; lib/tools/bench/run.ts runs them) a
// recorded row belongs to, for --compare to expect only the rows of the suites that ran.
import type { BenchRow } from './row';

/** The limits every run measures first. */
export const LIMITS = 'limits';

/** Rows written before rows carried their suite: the suite from the id's first word. */
const BY_PREFIX: Record<string, string> = {
  limit: LIMITS, convert: 'convert', rtn: 'rtn', ternary: 'ternary', seedlm: 'seedlm',
  kmeans: 'kmeans', method: 'kmeans', lossless: 'lzma', rans: 'lzma', lzma: 'lzma', forward: 'forward',
};

export function suiteOf(row: Pick<BenchRow, 'id' | 'suite'>): string | undefined {
  return row.suite ?? BY_PREFIX[row.id.split('.')[0]];
}
