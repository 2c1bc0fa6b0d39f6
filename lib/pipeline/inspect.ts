// inspect: what a container holds, from its metadata alone (nothing is decoded), and
// readTensor: random access to one tensor.
import { stat } from 'node:fs/promises';
import { ContainerReader } from '../container/reader';
import type { ContainerMeta } from '../container/format';
import type { Dtype } from '../io/dtypes';
import type { JobContext } from '../jobs';
import { defaultThreads } from '../core/threads';
import { totals, type Totals } from './totals';

export interface InspectReport {
  path: string;
  containerBytes: number;
  meta: ContainerMeta;
  summary: Totals;
}

/** Totals as compress reported them, recomputed from the metadata and the container size. */
export function compressReportFromMeta(reader: ContainerReader): Totals {
  return totals(reader.meta.tensors, reader.meta.totals.originalBytes, reader.file.header.fileSize);
}

export async function inspect(container: string): Promise<InspectReport> {
  const reader = await ContainerReader.open(container);
  try {
    return { path: container, containerBytes: (await stat(container)).size, meta: reader.meta, summary: compressReportFromMeta(reader) };
  } finally {
    await reader.close();
  }
}

/** One tensor of a container, decoded to its stored dtype, without reading the others. */
export async function readTensor(container: string, name: string, options: { threads?: number; signal?: AbortSignal } = {}): Promise<{ dtype: Dtype; shape: number[]; data: Uint8Array }> {
  const ctx: JobContext = { threads: options.threads ?? defaultThreads(), signal: options.signal };
  const reader = await ContainerReader.open(container);
  try {
    const t = reader.tensor(name);
    if (!t) throw new Error(`${container}: no tensor named ${JSON.stringify(name)}`);
    const parts: Uint8Array[] = [];
    for await (const chunk of reader.decodeTensor(t, ctx)) parts.push(chunk);
    return { dtype: t.dtype, shape: t.shape, data: Buffer.concat(parts) };
  } finally {
    await reader.close();
  }
}
