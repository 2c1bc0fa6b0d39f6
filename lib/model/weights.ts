// A model's tensors as f32, one at a time, from a Hugging Face directory (or a lone .safetensors
// file beside its config.json) or straight from a .tzip container, which is decoded tensor by
// tensor and never as a whole. Also the small files around the weights (config, tokenizer).
import { stat } from 'node:fs/promises';
import { readRegularFile } from '../io/regular-file';
import * as path from 'node:path';
import { ContainerReader } from '../container/reader';
import type { Dtype } from '../io/dtypes';
import { openModelSource, type ModelSource } from '../io/model-source';
import { FormatError } from '../core/errors';
import { toF32 } from '../methods/f32';

export interface WeightReader {
  /** What was opened, for messages. */
  label: string;
  /** The tensor's shape, or undefined when the model has no such tensor. */
  shape(name: string): number[] | undefined;
  /** The tensor decoded to f32. */
  read(name: string, options?: { threads?: number; signal?: AbortSignal }): Promise<Float32Array>;
  /** A file of the model directory (e.g. 'config.json'), or undefined when there is none. */
  file(relPath: string): Promise<Buffer | undefined>;
  close(): Promise<void>;
}

const FLOATS: Dtype[] = ['F32', 'F16', 'BF16'];

function checkFloat(label: string, name: string, dtype: Dtype): void {
  if (!FLOATS.includes(dtype)) throw new FormatError(label, `tensor ${name} is ${dtype}; the forward pass reads F32, F16 or BF16 weights`);
}

/** Opens a model directory, a .safetensors file or a .tzip container. */
export async function openWeights(input: string): Promise<WeightReader> {
  const info = await stat(input).catch(() => {
    throw new Error(`${input}: no such file or directory`);
  });
  if (info.isFile() && input.endsWith('.tzip')) return containerWeights(await ContainerReader.open(input));
  return sourceWeights(await openModelSource(input));
}

/** `base` with some tensors replaced by the given f32 values (a model with one tensor quantized,
 * as `compress --target-bpw` measures a tensor's sensitivity). */
export function withReplacements(base: WeightReader, replace: ReadonlyMap<string, Float32Array>): WeightReader {
  for (const [name, values] of replace) {
    const shape = base.shape(name);
    if (!shape) throw new FormatError(base.label, `tensor ${name} is missing`);
    if (shape.reduce((a, b) => a * b, 1) !== values.length) throw new Error(`the replacement of ${name} has ${values.length} values, the tensor [${shape.join(', ')}]`);
  }
  return { ...base, read: async (name, options) => replace.get(name) ?? base.read(name, options) };
}

function sourceWeights(source: ModelSource): WeightReader {
  const byName = new Map(source.tensors.map((t) => [t.entry.name, t]));
  const label = source.kind === 'directory' ? source.root : source.shards[0].file.path;
  return {
    label,
    shape: (name) => byName.get(name)?.entry.shape,
    async read(name) {
      const t = byName.get(name);
      if (!t) throw new FormatError(label, `tensor ${name} is missing`);
      checkFloat(label, name, t.entry.dtype);
      return toF32(t.entry.dtype, await source.shards[t.shard].file.read(t.entry));
    },
    async file(relPath) {
      return readRegularFile(path.join(source.root, relPath)).catch((e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT') return undefined;
        throw e;
      });
    },
    close: () => source.close(),
  };
}

function containerWeights(reader: ContainerReader): WeightReader {
  return {
    label: reader.path,
    shape: (name) => reader.tensor(name)?.shape,
    async read(name, { threads = 1, signal } = {}) {
      const t = reader.tensor(name);
      if (!t) throw new FormatError(reader.path, `tensor ${name} is missing`);
      checkFloat(reader.path, name, t.dtype);
      const parts: Uint8Array[] = [];
      for await (const part of reader.decodeTensor(t, { threads, signal })) parts.push(part);
      return toF32(t.dtype, parts.length === 1 ? parts[0] : Buffer.concat(parts));
    },
    async file(relPath) {
      const f = reader.meta.files.find((r) => r.path === relPath);
      return f ? reader.fileContent(f, { threads: 1 }) : undefined;
    },
    close: () => reader.close(),
  };
}
