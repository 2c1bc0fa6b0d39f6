// What decompress writes for a shard: the bytes before its data (the stored original header of an
// exact shard, or a new header for a repacked one) and its tensors in data order. decompress
// writes this and verify checks this, so a container cannot pass verify and then fail to
// decompress (or the other way round): they make the same checks through the same code.
import { DTYPE_SIZES, numelOf } from '../io/dtypes';
import { parseHeader } from '../io/safetensors';
import { FormatError } from '../core/errors';
import { buildHeader, type TensorSpec } from '../io/safetensors-writer';
import type { JobContext } from '../jobs';
import type { ShardRecord, TensorRecord } from './format';
import type { ContainerReader } from './reader';

export interface ShardOutput {
  /** Length prefix and header JSON, exactly as written. */
  header: Buffer;
  /** The shard's tensors in data order (the reader has checked that it holds each). */
  tensors: TensorRecord[];
  specs: TensorSpec[];
  /** Data bytes of each tensor. */
  sizes: number[];
}

export async function shardOutput(reader: ContainerReader, shard: ShardRecord, ctx: JobContext): Promise<ShardOutput> {
  const tensors = shard.tensors.map((name) => reader.tensor(name)!);
  const specs = tensors.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape }));
  const corrupt = (what: string) => new FormatError(reader.path, `shard ${shard.path}: ${what} (corrupted container)`);
  if (!shard.header) {
    // A rebuilt header lays tensors back to back (safetensors allows no gaps). The recorded order
    // is kept when every tensor then stays aligned to its element size; otherwise (an original
    // that aligned with gaps, e.g. F32 after 3 bytes of U8) the larger elements go first.
    const aligned = alignedOrder(tensors);
    const ordered = aligned.map((k) => specs[k]);
    try {
      return { tensors: aligned.map((k) => tensors[k]), specs: ordered, ...buildHeader(ordered, shard.metadata) };
    } catch (e) {
      throw new FormatError(reader.path, `shard ${shard.path}: cannot rebuild its header (${e instanceof Error ? e.message : e})`);
    }
  }
  const header = await reader.fileContent(shard.header, ctx, 'header');
  const sizes = specs.map((t) => numelOf(t.shape) * DTYPE_SIZES[t.dtype]);
  // The stored header must be a safetensors header that describes exactly these tensors, in this
  // order, tiling the data section.
  if (header.length < 8 || header.readBigUInt64LE(0) !== BigInt(header.length - 8)) throw corrupt('the stored header has a wrong length prefix');
  let parsed;
  try {
    parsed = parseHeader(shard.path, header.subarray(8), header.length + sizes.reduce((a, b) => a + b, 0));
  } catch (e) {
    throw corrupt(`the stored header is invalid (${e instanceof Error ? e.message : e})`);
  }
  const describe = (t: { name: string; dtype: string; shape: number[] }) => `${JSON.stringify(t.name)} ${t.dtype} [${t.shape}]`;
  for (let k = 0; k < Math.max(parsed.tensors.length, specs.length); k++) {
    const [h, r] = [parsed.tensors[k], specs[k]];
    if (!h || !r || describe(h) !== describe(r))
      throw corrupt(`the stored header does not match its tensors (tensor ${k}: header ${h ? describe(h) : 'none'}, records ${r ? describe(r) : 'none'})`);
  }
  return { header, tensors, specs, sizes };
}

/** Indices of `tensors` in the order a back-to-back layout keeps aligned: as listed when that is
 * aligned, else stably by element size, largest first (then every offset is a multiple of the
 * sizes that follow). */
function alignedOrder(tensors: TensorRecord[]): number[] {
  const listed = tensors.map((_, k) => k);
  let offset = 0;
  for (const t of tensors) {
    const size = DTYPE_SIZES[t.dtype];
    if (offset % size) return listed.sort((a, b) => DTYPE_SIZES[tensors[b].dtype] - DTYPE_SIZES[tensors[a].dtype] || a - b);
    offset += numelOf(t.shape) * size;
  }
  return listed;
}
