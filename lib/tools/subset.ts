// A safetensors file holding some tensors of a model, byte for byte: the benchmarks time methods
// too slow for the whole model (SeedLM on 2 cores) on such a subset and extrapolate.
import { openModelSource } from '../io/model-source';
import { SafetensorsWriter } from '../io/safetensors-writer';

const COPY_CHUNK = 1 << 23;

/** Writes the tensors of `input` whose names pass `keep` (in file order) to `output`; returns
 * their names and their number of weights. */
export async function writeSubset(input: string, keep: (name: string) => boolean, output: string): Promise<{ names: string[]; weights: number }> {
  const source = await openModelSource(input);
  try {
    const picked = source.tensors.filter((t) => keep(t.entry.name));
    if (!picked.length) throw new Error(`${input}: no tensor matches the subset`);
    const writer = await SafetensorsWriter.create(output, picked.map(({ entry }) => ({ name: entry.name, dtype: entry.dtype, shape: entry.shape })));
    try {
      for (const { shard, entry } of picked)
        for (let at = 0; at < entry.byteLength; at += COPY_CHUNK)
          await writer.write(await source.shards[shard].file.read(entry, at, Math.min(COPY_CHUNK, entry.byteLength - at)));
      await writer.finish();
    } catch (e) {
      await writer.abort();
      throw e;
    }
    return { names: picked.map((t) => t.entry.name), weights: picked.reduce((a, t) => a + t.entry.numel, 0) };
  } finally {
    await source.close();
  }
}
