// Importance vectors (`--importance file.safetensors`): for each weight tensor, one F32 tensor of
// the same name holding the importance of every input column (shape [columns], columns being the
// product of the dimensions after the first), as llama.cpp's importance matrices do: typically the
// mean squared input activation of the column. vptq weights its k-means by them. Every entry must
// name a tensor of the model and fit its shape, and every value be finite and >= 0.
import { numelOf } from '../io/dtypes';
import { SafetensorsFile, type TensorEntry } from '../io/safetensors';
import { FormatError } from '../core/errors';
import { f32View } from './f32';
import { readProblem, withCode } from '../io/regular-file';

export type Importance = Map<string, Float32Array>;

/** Columns of a tensor's 2-D view [shape[0], columns]. */
export function columnsOf(shape: number[]): number {
  return numelOf(shape.slice(1));
}

/** Each weight's importance: that of its column, for elements [first, first + n) of a row-major
 * tensor whose rows are importance.length long. */
export function elementImportance(importance: Float32Array, first: number, n: number): Float32Array {
  const cols = importance.length;
  const out = new Float32Array(n);
  for (let i = 0, c = first % cols; i < n; i++, c = c + 1 === cols ? 0 : c + 1) out[i] = importance[c];
  return out;
}

export async function loadImportance(file: string, tensors: Array<Pick<TensorEntry, 'name' | 'shape'>>): Promise<Importance> {
  const st = await SafetensorsFile.open(file).catch((e: NodeJS.ErrnoException) => {
    if (e instanceof FormatError) throw new Error(`${e.message} (not a valid importance file)`);
    throw withCode(new Error(`${file}: cannot read importance file (${readProblem(e)})`), e);
  });
  try {
    const byName = new Map(tensors.map((t) => [t.name, t]));
    const out: Importance = new Map();
    for (const e of st.header.tensors) {
      const t = byName.get(e.name);
      if (!t) throw new Error(`${file}: importance entry ${e.name} is not a tensor of the model`);
      const columns = columnsOf(t.shape);
      if (e.dtype !== 'F32' || e.shape.length !== 1 || e.shape[0] !== columns)
        throw new Error(`${file}: importance entry ${e.name} must be F32 [${columns}] (one value per input column of [${t.shape.join(', ')}]), got ${e.dtype} [${e.shape.join(', ')}]`);
      const values = f32View(await st.read(e));
      const bad = values.findIndex((x) => !(x >= 0) || !Number.isFinite(x));
      if (bad >= 0) throw new Error(`${file}: importance entry ${e.name} has ${values[bad]} at column ${bad} (values must be finite and >= 0)`);
      out.set(e.name, values);
    }
    return out;
  } finally {
    await st.close();
  }
}
