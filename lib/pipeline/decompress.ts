// decompress: .tzip -> the original layout. A directory input comes back as a directory (shards,
// index and every carried file under their original names); a file input as one .safetensors.
// Tensors keep their names, dtypes and shapes (lossy ones rounded to the stored dtype with
// round-to-nearest-even); a shard with a standard layout gets its original header byte for byte
// (lib/container/output.ts, shared with verify).
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { ContainerReader } from '../container/reader';
import type { ShardRecord } from '../container/format';
import { shardOutput } from '../container/output';
import { SafetensorsWriter } from '../io/safetensors-writer';
import { checkOutput, writeFailure } from '../io/output-path';
import { tempPathFor } from '../io/temp-files';
import type { JobContext } from '../jobs';
import { backendInfo } from '../backend';
import { DeviceUse, resolveDevice, type DeviceSpec } from '../device';
import { defaultThreads } from '../core/threads';
import type { Progress } from '../core/progress';
import { DECODE_AHEAD, runAhead } from '../core/ahead';
import { BufferPool } from '../core/buffer-pool';

export interface DecompressOptions {
  threads?: number;
  /** Where the rANS stage and the methods' decoders run (default 'auto': the first GPU when the
   * CUDA backend is available). The output is the same on every device. */
  device?: DeviceSpec;
  /** Replace an existing output file or directory (never the container itself). */
  force?: boolean;
  /** Lines for the user that are not errors (leftovers of interrupted runs removed). */
  onNote?: (line: string) => void;
  signal?: AbortSignal;
  /** After each tensor (unit 'tensors'). */
  onProgress?: (p: Progress) => void;
}

export interface DecompressReport {
  output: string;
  files: string[];
  tensors: number;
  /** e.g. 'cpu (avx2, 2 threads)', with the kernels that fell back to the CPU on a GPU. */
  device: string;
  seconds: number;
}

export async function decompress(container: string, output: string, options: DecompressOptions = {}): Promise<DecompressReport> {
  const t0 = process.hrtime.bigint();
  const device = new DeviceUse(resolveDevice(options.device));
  const ctx: JobContext = { threads: options.threads ?? defaultThreads(), device: device.native, signal: options.signal, buffers: new BufferPool() };
  const reader = await ContainerReader.open(container);
  try {
    const { source, files } = reader.meta;
    const written: string[] = [];
    let done = 0;
    const onTensor = (name: string) => options.onProgress?.({ done: ++done, total: reader.meta.tensors.length, unit: 'tensors', item: name });
    const check = async (target: string, kind: 'file' | 'directory') => {
      const bytes = source.shards.reduce((a, sh) => a + sh.bytes, 0) + files.reduce((a, f) => a + f.bytes, 0);
      const checked = await checkOutput(target, { kind, inputs: [container], force: options.force, space: { bytes, exact: true, what: 'the model' } });
      for (const line of checked.notes) options.onNote?.(line);
      return checked;
    };
    if (source.kind === 'file') {
      const shard = source.shards[0];
      // An existing directory (or a path ending in /) receives the file under its original name.
      const intoDir = /[/\\]$/.test(output) || (await stat(output).then((s) => s.isDirectory(), () => false));
      const target = intoDir ? path.join(output, shard.path) : output;
      await check(target, 'file');
      await (await writeShard(reader, shard, target, ctx, onTensor)).finished;
      written.push(target);
    } else {
      const { exists } = await check(output, 'directory');
      const temp = tempPathFor(path.resolve(output));
      await mkdir(temp).catch((e) => {
        throw writeFailure(e, output);
      });
      // Each shard's fsync runs while the next one decodes (a sync costs about 0.3 s on a VM disk
      // however much it flushes); all are done before the directory appears.
      const finishing: Array<Promise<void>> = [];
      try {
        for (const shard of source.shards) {
          await mkdir(path.dirname(path.join(temp, shard.path)), { recursive: true });
          await finishing[finishing.length - 2]; // at most one shard syncs while the next decodes
          const { finished } = await writeShard(reader, shard, path.join(temp, shard.path), ctx, onTensor);
          finished.catch(() => undefined); // awaited below
          finishing.push(finished);
          written.push(shard.path);
        }
        await Promise.all(finishing);
        for (const f of files) {
          await mkdir(path.dirname(path.join(temp, f.path)), { recursive: true });
          const fh = await open(path.join(temp, f.path), 'wx');
          try {
            for await (const chunk of reader.readFile(f, ctx)) await fh.write(chunk);
          } catch (e) {
            throw writeFailure(e, path.join(output, f.path));
          } finally {
            await fh.close();
          }
          written.push(f.path);
        }
        await replaceDirectory(temp, output, exists);
      } catch (e) {
        await Promise.allSettled(finishing);
        await rm(temp, { recursive: true, force: true });
        throw e;
      }
    }
    return { output, files: written, tensors: reader.meta.tensors.length, device: device.describe(backendInfo().cpu, ctx.threads), seconds: Number(process.hrtime.bigint() - t0) / 1e9 };
  } finally {
    await reader.close();
  }
}

/** Puts the finished directory `temp` at `output`; an existing one (empty, or replaced with
 * --force) is moved aside first and removed only once the new one is in place. */
async function replaceDirectory(temp: string, output: string, exists: boolean): Promise<void> {
  const old = exists ? tempPathFor(path.resolve(output)) : undefined;
  try {
    if (old) await rename(output, old);
    await rename(temp, output);
  } catch (e) {
    if (old) await rename(old, output).catch(() => undefined);
    throw writeFailure(e, output);
  }
  if (old) await rm(old, { recursive: true, force: true });
}

/** Decodes a shard into `target`; resolves once every byte is handed to the file, with `finished`:
 * the file synced and in place. */
async function writeShard(reader: ContainerReader, shard: ShardRecord, target: string, ctx: JobContext, onTensor: (name: string) => void): Promise<{ finished: Promise<void> }> {
  const { header, tensors, specs, sizes } = await shardOutput(reader, shard, ctx);
  const writer = await SafetensorsWriter.createWithHeader(target, header, specs, sizes, { direct: true });
  // Chunks are decoded up to DECODE_AHEAD ahead, across tensors, while the current one is written
  // (writes stay in order): the cores decode while the disk writes (lib/io/append-file.ts).
  const steps = tensors.flatMap((t) => {
    const decoders = reader.chunkDecoders(t, ctx);
    const chunks = decoders.length ? decoders : [async () => new Uint8Array(0)];
    return chunks.map((decode, c) => async () => ({ chunk: await decode(), last: c === chunks.length - 1, name: t.name }));
  });
  let writing: Promise<void> = Promise.resolve();
  try {
    for await (const { chunk, last, name } of runAhead(steps, DECODE_AHEAD)) {
      if (chunk.byteLength) {
        await writing;
        writing = writer.write(chunk).then(() => ctx.buffers?.give(chunk)); // copied by the writer
        writing.catch(() => undefined); // awaited before the next write or below
      }
      if (last) onTensor(name);
    }
    await writing;
  } catch (e) {
    await writing.catch(() => undefined);
    await writer.abort();
    throw e;
  }
  return { finished: writer.finish() };
}
