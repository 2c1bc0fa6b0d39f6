// decompress: .tzip -> the original layout. A directory input comes back as a directory (shards,
// index and every carried file under their original names); a file input as one .safetensors.
// Tensors keep their names, dtypes and shapes (lossy ones rounded to the stored dtype with
// round-to-nearest-even); a shard with a standard layout gets its original header byte for byte
// (lib/container/output.ts, shared with verify).
import { mkdir, open, readdir, rename, rm, rmdir, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { ContainerReader } from './container/reader';
import type { ShardRecord } from './container/format';
import { shardOutput } from './container/output';
import { SafetensorsWriter, tempPathFor } from './io/safetensors-writer';
import type { JobContext } from './methods/method';
import { defaultThreads } from './threads';

export interface DecompressOptions {
  threads?: number;
  signal?: AbortSignal;
  /** Called after each tensor with (tensors done, tensor count). */
  onProgress?: (done: number, total: number) => void;
}

export interface DecompressReport {
  output: string;
  files: string[];
  tensors: number;
  seconds: number;
}

export async function decompress(container: string, output: string, options: DecompressOptions = {}): Promise<DecompressReport> {
  const t0 = process.hrtime.bigint();
  const ctx: JobContext = { threads: options.threads ?? defaultThreads(), signal: options.signal };
  const reader = await ContainerReader.open(container);
  try {
    const { source, files } = reader.meta;
    const written: string[] = [];
    let done = 0;
    const onTensor = () => options.onProgress?.(++done, reader.meta.tensors.length);
    if (source.kind === 'file') {
      const shard = source.shards[0];
      const isDir = await stat(output).then((s) => s.isDirectory(), () => false);
      const target = isDir ? path.join(output, shard.path) : output;
      await writeShard(reader, shard, target, ctx, onTensor);
      written.push(target);
    } else {
      await ensureAbsentOrEmpty(output);
      const temp = tempPathFor(path.resolve(output));
      await mkdir(temp);
      try {
        for (const shard of source.shards) {
          await mkdir(path.dirname(path.join(temp, shard.path)), { recursive: true });
          await writeShard(reader, shard, path.join(temp, shard.path), ctx, onTensor);
          written.push(shard.path);
        }
        for (const f of files) {
          await mkdir(path.dirname(path.join(temp, f.path)), { recursive: true });
          const fh = await open(path.join(temp, f.path), 'wx');
          try {
            for await (const chunk of reader.readFile(f, ctx)) await fh.write(chunk);
          } finally {
            await fh.close();
          }
          written.push(f.path);
        }
        await rmdir(output).catch(() => undefined); // an existing empty directory is replaced
        await rename(temp, output);
      } catch (e) {
        await rm(temp, { recursive: true, force: true });
        throw e;
      }
    }
    return { output, files: written, tensors: reader.meta.tensors.length, seconds: Number(process.hrtime.bigint() - t0) / 1e9 };
  } finally {
    await reader.close();
  }
}

async function ensureAbsentOrEmpty(dir: string): Promise<void> {
  const entries = await readdir(dir).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return [];
    if (e.code === 'ENOTDIR') throw new Error(`${dir}: exists and is not a directory`);
    throw e;
  });
  if (entries.length) throw new Error(`${dir}: output directory exists and is not empty`);
}

async function writeShard(reader: ContainerReader, shard: ShardRecord, target: string, ctx: JobContext, onTensor: () => void): Promise<void> {
  const { header, tensors, specs, sizes } = await shardOutput(reader, shard, ctx);
  const writer = await SafetensorsWriter.createWithHeader(target, header, specs, sizes);
  try {
    for (const t of tensors) {
      for await (const chunk of reader.decodeTensor(t, ctx)) await writer.write(chunk);
      onTensor();
    }
    await writer.finish();
  } catch (e) {
    await writer.abort();
    throw e;
  }
}
