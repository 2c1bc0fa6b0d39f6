// `tensorzip merge parts... -o out.tzip`: the part files of `compress --shard i/n` (one per shard)
// assembled into the container one `compress` would have written, byte for byte. Every part
// must come from the same input files and options (their run key, which also holds the tool
// version), every shard must be there exactly once, and each part must hold exactly its
// shard's tensors. The input model is read again for what parts do not carry (shard headers,
// config and tokenizer files), from the path the parts recorded unless `input` says otherwise.
import type { FileHandle } from 'node:fs/promises';
import { openRegularFile, readProblem, withCode } from '../io/regular-file';
import { writeContainer, type CompressOptions, type CompressReport } from '../pipeline/compress';
import { PART_FORMAT, type PartOptions } from './part';
import { openModelSource } from '../io/model-source';
import { checkOutput } from '../io/output-path';
import { readLog, readLogHeader, type FinishedTensor, type LogHeader } from '../pipeline/resume';
import { shardTensors, type ShardSpec } from './shard';

export interface MergeOptions extends Pick<CompressOptions, 'threads' | 'signal' | 'onProgress' | 'force' | 'onNote'> {
  /** The input model, when it is not at the path the parts recorded (e.g. another mount). */
  input?: string;
}

interface Part {
  path: string;
  file: FileHandle;
  header: LogHeader & { input: string; options: PartOptions; shard: ShardSpec; tensors: number };
}

export async function merge(partPaths: string[], output: string, options: MergeOptions = {}): Promise<CompressReport> {
  if (!partPaths.length) throw new Error('merge needs the part files of every shard');
  await checkOutput(output, { kind: 'file', inputs: partPaths, force: options.force }); // before reading anything
  const parts: Part[] = [];
  try {
    for (const p of partPaths) {
      const file = await openRegularFile(p).catch((e: NodeJS.ErrnoException) => {
        throw withCode(new Error(`${p}: cannot read part file (${readProblem(e)})`), e);
      });
      parts.push({ path: p, file, header: undefined as unknown as Part['header'] });
      const { header } = await readLogHeader(file, p, 'part file (made by compress --shard)');
      if (header.format !== PART_FORMAT || !header.shard) throw new Error(`${p}: not a tensorzip part file (made by compress --shard)`);
      parts[parts.length - 1].header = header as Part['header'];
    }
    const [first] = parts;
    for (const part of parts.slice(1)) {
      if (part.header.input !== first.header.input)
        throw new Error(`${part.path} was made from ${part.header.input}, but ${first.path} from ${first.header.input}: parts of different inputs`);
      if (part.header.key !== first.header.key)
        throw new Error(`${part.path} and ${first.path} were made with different options (or tensorzip versions, or from input files that changed in between)`);
      if (part.header.shard.count !== first.header.shard.count)
        throw new Error(`${part.path} is shard ${part.header.shard.index}/${part.header.shard.count}, but ${first.path} is of ${first.header.shard.count} shards`);
    }
    const count = first.header.shard.count;
    const byIndex = new Map<number, Part>();
    for (const part of parts) {
      const other = byIndex.get(part.header.shard.index);
      if (other) throw new Error(`${part.path} and ${other.path} are both shard ${part.header.shard.index}/${count}`);
      byIndex.set(part.header.shard.index, part);
    }
    const missing = Array.from({ length: count }, (_, i) => i).filter((i) => !byIndex.has(i));
    if (missing.length) throw new Error(`missing part${missing.length > 1 ? 's' : ''} for shard${missing.length > 1 ? 's' : ''} ${missing.join(', ')} of ${count}`);

    // Each part must hold exactly its shard's tensors, in tensor order.
    const input = options.input ?? first.header.input;
    const source = await openModelSource(input);
    const sizes = source.tensors.map((t) => t.entry.byteLength);
    await source.close();
    if (sizes.length !== first.header.tensors) throw new Error(`${input} has ${sizes.length} tensors, but the parts were made from a model with ${first.header.tensors}`);
    const orders = shardTensors(sizes, count);
    const finished: FinishedTensor[] = [];
    for (const [index, part] of [...byIndex].sort((a, b) => a[0] - b[0])) {
      const order = orders[index];
      const got = (await readLog(part.file, part.path, order, 'part file')).finished;
      if (got.length !== order.length) throw new Error(`${part.path} holds ${got.length} of shard ${index}'s ${order.length} tensors (an incomplete or damaged part: make it again)`);
      finished.push(...got);
    }
    finished.sort((a, b) => a.tensor - b.tensor);
    const o = first.header.options;
    return (await writeContainer(input, output, { ...o, threads: options.threads, signal: options.signal, onProgress: options.onProgress, force: options.force, onNote: options.onNote }, { key: first.header.key, finished })) as CompressReport;
  } finally {
    await Promise.all(parts.map((p) => p.file.close().catch(() => undefined)));
  }
}
