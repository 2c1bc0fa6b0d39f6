// Splitting one compress across processes and machines: `compress --shard i/n` encodes only the
// tensors assigned to shard i into a part file, and `merge` (lib/parts/merge.ts) assembles the parts
// into the container a single `compress` would have written, byte for byte.
//
// The assignment depends only on the tensors' sizes in the input's tensor order: the largest
// tensor first (ties: the earlier one), each to the shard with the fewest bytes so far (ties: the
// lower shard), so every process computes the same split without talking to the others.

export interface ShardSpec {
  /** 0-based: 0 … count − 1 (SLURM_ARRAY_TASK_ID with --array=0-(n-1), JOB_COMPLETION_INDEX). */
  index: number;
  count: number;
}

export const MAX_SHARDS = 4096;

/** 'i/n' with 0 <= i < n <= 4096. */
export function parseShard(text: string): ShardSpec {
  const m = /^([0-9]+)\/([0-9]+)$/.exec(text.trim());
  const index = m ? Number(m[1]) : NaN, count = m ? Number(m[2]) : NaN;
  if (!m || count < 1 || count > MAX_SHARDS || index >= count)
    throw new Error(`--shard must be i/n with 0 <= i < n <= ${MAX_SHARDS} (0-based), got '${text}'`);
  return { index, count };
}

/** The shard of every tensor, from the tensors' byte sizes in input order. */
export function assignShards(sizes: number[], count: number): number[] {
  const order = sizes.map((_, i) => i).sort((a, b) => sizes[b] - sizes[a] || a - b);
  const load = new Array<number>(count).fill(0);
  const shard = new Array<number>(sizes.length);
  for (const t of order) {
    let best = 0;
    for (let s = 1; s < count; s++) if (load[s] < load[best]) best = s;
    shard[t] = best;
    load[best] += sizes[t];
  }
  return shard;
}

/** For every shard, its tensors' indices in tensor order: what a part holds, in that order. */
export function shardTensors(sizes: number[], count: number): number[][] {
  const out: number[][] = Array.from({ length: count }, () => []);
  assignShards(sizes, count).forEach((shard, tensor) => out[shard].push(tensor));
  return out;
}
