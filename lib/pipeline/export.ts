// export: a Llama-family model (a .tzip container or a model directory) as a GGUF file llama.cpp
// loads (docs/FORMAT.md, "GGUF export"). Tensors whose stored encoding is a ggml type are copied
// block for block without re-quantizing (rtn:8/5/4 at g32 as Q8_0/Q5_0/Q4_0, ternary:g256:p2 as
// TQ2_0, lossless as its dtype); every other 2-D tensor is decoded and stored in its dtype;
// 1-D tensors (norms, biases) as F32, as llama.cpp expects. Streams chunk by chunk; q and k
// projections, whose rows llama.cpp's Llama graph wants in another order, are gathered whole.
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { ContainerReader } from '../container/reader';
import type { TensorRecord } from '../container/format';
import { DTYPE_SIZES, numelOf, type Dtype } from '../io/dtypes';
import { checkOutput } from '../io/output-path';
import { openModelSource, type ModelSource } from '../io/model-source';
import { parseJsonFile } from '../io/strict-json';
import { ggmlBytes, writeGguf, type GgmlType, type GgufTensorSource, type GgufValue } from '../interop/gguf';
import { ggufTokenizer } from '../interop/gguf-tokenizer';
import { tq2FromTernaryG256P2 } from '../interop/llama-tq';
import { parseLlamaConfig, type LlamaConfig } from '../model/config';
import { floatDtype, floatView, fromF32, toF32, u16View } from '../methods/f32';
import { parseSpec } from '../methods/registry';
import { native } from '../native';
import { runJob, type JobContext } from '../jobs';
import { defaultThreads } from '../core/threads';

/** The ggml types `--type` re-quantizes to (with rtn at groups of 32: the same blocks). */
export const REQUANT_TYPES = { Q8_0: 8, Q5_0: 5, Q4_0: 4 } as const;
export type RequantType = keyof typeof REQUANT_TYPES;

export interface ExportOptions {
  /** Re-quantize every matrix that is not a ggml block type already to this type (rtn, groups of
   * 32); default: such matrices are stored in their dtype. */
  type?: RequantType;
  force?: boolean;
  threads?: number;
  signal?: AbortSignal;
  onNote?: (line: string) => void;
}

export interface ExportedTensor {
  name: string;
  /** The GGUF tensor's name. */
  gguf: string;
  type: GgmlType;
  /** copied: the stored blocks as they are; as-stored: the dtype's bytes (lossless, or the
   * original file); decoded: the method decoded to the stored dtype; requantized: decoded, then
   * rtn at groups of 32 to --type; f32: a 1-D tensor widened. */
  how: 'copied' | 'as-stored' | 'decoded' | 'requantized' | 'f32';
  /** requantized: the relative RMS error it added, √(Σ(w − ŵ)² / Σw²) against the weights before. */
  relativeError?: number;
  /** The tensor's method in the container (a model directory: 'lossless'). */
  method: string;
}

export interface ExportReport {
  output: string;
  architecture: string;
  bytes: number;
  weights: number;
  bitsPerWeight: number;
  tensors: ExportedTensor[];
  seconds: number;
}

/** llama.cpp's architecture for a config's model_type: Mistral runs as Llama. */
const ARCH: Record<LlamaConfig['modelType'], string> = { llama: 'llama', mistral: 'llama', qwen2: 'qwen2' };

const LAYER_NAMES: Array<[RegExp, string]> = [
  [/^input_layernorm\.weight$/, 'attn_norm.weight'],
  [/^self_attn\.q_proj\.(weight|bias)$/, 'attn_q.$1'],
  [/^self_attn\.k_proj\.(weight|bias)$/, 'attn_k.$1'],
  [/^self_attn\.v_proj\.(weight|bias)$/, 'attn_v.$1'],
  [/^self_attn\.o_proj\.weight$/, 'attn_output.weight'],
  [/^post_attention_layernorm\.weight$/, 'ffn_norm.weight'],
  [/^mlp\.gate_proj\.weight$/, 'ffn_gate.weight'],
  [/^mlp\.up_proj\.weight$/, 'ffn_up.weight'],
  [/^mlp\.down_proj\.weight$/, 'ffn_down.weight'],
];

/** The GGUF name of a Hugging Face Llama tensor, or undefined for one llama.cpp does not load. */
export function ggufName(name: string): string | undefined {
  if (name === 'model.embed_tokens.weight') return 'token_embd.weight';
  if (name === 'model.norm.weight') return 'output_norm.weight';
  if (name === 'lm_head.weight') return 'output.weight';
  const m = /^model\.layers\.(\d+)\.(.+)$/.exec(name);
  if (!m) return undefined;
  for (const [re, to] of LAYER_NAMES) if (re.test(m[2])) return `blk.${m[1]}.${m[2].replace(re, to)}`;
  return undefined;
}

/** Tensors Hugging Face checkpoints carry that llama.cpp computes itself. */
const IGNORED = /\.rotary_emb\.inv_freq$/;

/** One tensor's rows as llama.cpp's Llama graph wants q and k: within each head, the two halves
 * of the rotary pairs interleaved (row h·d + 2i + j <- row h·d + j·d/2 + i). */
export function permuteRotaryRows(data: Uint8Array, heads: number, rowBytes: number): Uint8Array {
  const rows = data.byteLength / rowBytes;
  if (!Number.isInteger(rows) || rows % heads || (rows / heads) % 2) throw new RangeError(`cannot split ${rows} rows into ${heads} heads of rotary pairs`);
  const d = rows / heads, half = d / 2;
  const out = new Uint8Array(data.byteLength);
  for (let h = 0; h < heads; h++)
    for (let i = 0; i < half; i++)
      for (let j = 0; j < 2; j++) {
        const from = (h * d + j * half + i) * rowBytes;
        out.set(data.subarray(from, from + rowBytes), (h * d + 2 * i + j) * rowBytes);
      }
  return out;
}

/** Where a tensor's bytes come from, chunk by chunk, and what they are. */
interface Source {
  name: string;
  dtype: Dtype;
  shape: number[];
  method: string;
  /** The stored dtype's bytes, chunk by chunk. */
  decoded(): AsyncIterable<Uint8Array>;
  /** The ggml type the stored streams are, bit for bit, and their blocks chunk by chunk. */
  blocks?: { type: GgmlType; chunks(): AsyncIterable<Uint8Array> };
}

const DTYPE_TYPE: Partial<Record<Dtype, GgmlType>> = { F32: 'F32', F16: 'F16', BF16: 'BF16' };
const RTN_TYPE: Record<number, GgmlType> = { 8: 'Q8_0', 5: 'Q5_0', 4: 'Q4_0' };

function containerSources(reader: ContainerReader, ctx: JobContext): Source[] {
  return reader.meta.tensors.map((t) => ({
    name: t.name,
    dtype: t.dtype,
    shape: t.shape,
    method: t.method,
    decoded: async function* () {
      for (const decode of reader.chunkDecoders(t, ctx)) yield await decode();
    },
    blocks: exactBlocks(reader, t, ctx),
  }));
}

/** The ggml blocks a tensor's streams already are, if they are (rows must hold whole blocks). */
function exactBlocks(reader: ContainerReader, t: TensorRecord, ctx: JobContext): Source['blocks'] {
  const spec = parseSpec(t.method);
  const row = t.shape.length === 2 ? t.shape[1] : 0;
  const params = spec.params as Record<string, unknown>; // a :rot spec is method 'rot': never a ggml type
  if (spec.method.name === 'rtn' && params.group === 32 && RTN_TYPE[params.bits as number] && row % 32 === 0) {
    const bits = params.bits as 4 | 5 | 8;
    const type = RTN_TYPE[bits];
    return {
      type,
      async *chunks() {
        for (const streams of reader.chunkStreams(t, ctx)) {
          const [codes, scaleBytes] = await streams();
          const scales = u16View(scaleBytes);
          const out = new Uint8Array(ggmlBytes(type, scales.length * 32));
          native.rtnGgmlBlocks({ bits, codes, scales, out });
          yield out;
        }
      },
    };
  }
  if (spec.method.name === 'ternary' && params.group === 256 && params.packing === 2 && params.scale === 'group' && row % 256 === 0)
    return {
      type: 'TQ2_0',
      async *chunks() {
        for (const streams of reader.chunkStreams(t, ctx)) {
          const [packed, scaleBytes] = await streams();
          yield tq2FromTernaryG256P2(packed, u16View(scaleBytes));
        }
      },
    };
  return undefined;
}

/** A model directory's tensors: read in chunks of about 8 MiB, as stored. */
function directorySources(source: ModelSource): Source[] {
  return source.tensors.map(({ shard, entry }) => ({
    name: entry.name,
    dtype: entry.dtype,
    shape: entry.shape,
    method: 'lossless',
    decoded: async function* () {
      const step = Math.max(DTYPE_SIZES[entry.dtype], (8 << 20) - ((8 << 20) % DTYPE_SIZES[entry.dtype]));
      for (let at = 0; at < entry.byteLength; at += step) yield await source.shards[shard].file.read(entry, at, Math.min(step, entry.byteLength - at));
    },
  }));
}

export async function exportGguf(input: string, output: string, options: ExportOptions = {}): Promise<ExportReport> {
  const t0 = process.hrtime.bigint();
  const ctx: JobContext = { threads: options.threads ?? defaultThreads(), signal: options.signal };
  const isContainer = input.endsWith('.tzip');
  const reader = isContainer ? await ContainerReader.open(input) : undefined;
  const source = reader ? undefined : await openModelSource(input);
  try {
    const file = async (rel: string): Promise<Buffer | undefined> => {
      if (reader) {
        const f = reader.meta.files.find((x) => x.path === rel);
        return f ? reader.fileContent(f, ctx) : undefined;
      }
      if (source!.kind !== 'directory') return undefined;
      return readFile(path.join(source!.root, rel)).catch(() => undefined);
    };
    const label = reader ? input : source!.root;
    const configBytes = await file('config.json');
    if (!configBytes) throw new Error(`${label}: no config.json; export needs the model's config and tokenizer`);
    const configJson = parseJsonFile(configBytes, 'config.json') as Record<string, unknown>;
    const sources = reader ? containerSources(reader, ctx) : directorySources(source!);
    const shapes = new Map(sources.map((s) => [s.name, s.shape]));
    const config = parseLlamaConfig(configJson, 'config.json', (name) => shapes.get(name));
    const tokenizerBytes = await file('tokenizer.json');
    if (!tokenizerBytes) throw new Error(`${label}: no tokenizer.json; export needs the model's tokenizer`);
    const tokenizerConfig = await file('tokenizer_config.json');
    const arch = ARCH[config.modelType];
    const ropeFreqs = ropeFactors(config, configJson.rope_scaling);
    if (ropeFreqs && arch !== 'llama') throw new Error(`config.json: rope_scaling of a ${config.modelType} model is not exported yet (llama.cpp's ${arch} graph takes no rope_freqs tensor)`);

    const checked = await checkOutput(output, { kind: 'file', inputs: [input], force: options.force });
    for (const line of checked.notes) options.onNote?.(line);

    const metadata: Array<[string, GgufValue]> = [
      ['general.architecture', { kind: 'string', value: arch }],
      ['general.name', { kind: 'string', value: path.basename(label).replace(/\.tzip$/, '') }],
      [`${arch}.context_length`, { kind: 'u32', value: Number(configJson.max_position_embeddings ?? 4096) }],
      [`${arch}.embedding_length`, { kind: 'u32', value: config.hidden }],
      [`${arch}.block_count`, { kind: 'u32', value: config.layers }],
      [`${arch}.feed_forward_length`, { kind: 'u32', value: config.intermediate }],
      [`${arch}.attention.head_count`, { kind: 'u32', value: config.heads }],
      [`${arch}.attention.head_count_kv`, { kind: 'u32', value: config.kvHeads }],
      [`${arch}.attention.key_length`, { kind: 'u32', value: config.headDim }],
      [`${arch}.attention.value_length`, { kind: 'u32', value: config.headDim }],
      [`${arch}.rope.dimension_count`, { kind: 'u32', value: config.headDim }],
      [`${arch}.rope.freq_base`, { kind: 'f32', value: config.ropeTheta }],
      [`${arch}.attention.layer_norm_rms_epsilon`, { kind: 'f32', value: config.eps }],
      [`${arch}.vocab_size`, { kind: 'u32', value: config.vocab }],
      ...ggufTokenizer(tokenizerBytes, tokenizerConfig, configJson, config.vocab),
    ];
    if (config.window) options.onNote?.(`sliding_window ${config.window}: llama.cpp's Llama graph attends to the whole context; outputs agree up to ${config.window} tokens`);

    const exported: ExportedTensor[] = [];
    const tensors: GgufTensorSource[] = [];
    for (const s of sources) {
      const name = ggufName(s.name);
      if (!name) {
        if (IGNORED.test(s.name)) continue;
        throw new Error(`${label}: tensor ${s.name} has no place in llama.cpp's ${arch} model`);
      }
      if (s.shape.length < 1 || s.shape.length > 2) throw new Error(`${label}: tensor ${s.name} has ${s.shape.length} dimensions; export takes 1-D and 2-D tensors`);
      // llama.cpp's llama graph would need these in the reordered rotary layout too.
      if (arch === 'llama' && /attn_[qk]\.bias$/.test(name)) throw new Error(`${label}: tensor ${s.name}: q/k biases of a ${config.modelType} model are not exported`);
      const record: ExportedTensor = { name: s.name, gguf: name, type: 'F32', how: 'f32', method: s.method };
      const plan = planTensor(s, label, options.type, ctx, record);
      Object.assign(record, { type: plan.type, how: plan.how });
      exported.push(record);
      const heads = arch === 'llama' && /attn_q\.weight$/.test(name) ? config.heads : arch === 'llama' && /attn_k\.weight$/.test(name) ? config.kvHeads : 0;
      tensors.push({
        name,
        dims: [...s.shape].reverse(),
        type: plan.type,
        data: heads ? () => permuted(plan.chunks(), heads, ggmlBytes(plan.type, s.shape[1])) : plan.chunks,
      });
    }
    if (ropeFreqs) {
      tensors.push({ name: 'rope_freqs.weight', dims: [ropeFreqs.length], type: 'F32', data: async function* () { yield new Uint8Array(ropeFreqs.buffer); } });
      exported.push({ name: 'rope_scaling (config.json)', gguf: 'rope_freqs.weight', type: 'F32', how: 'f32', method: 'computed' });
    }
    const bytes = await writeGguf(output, metadata, tensors, { signal: options.signal });
    const weights = sources.reduce((a, s) => a + numelOf(s.shape), 0);
    return { output, architecture: arch, bytes, weights, bitsPerWeight: (8 * bytes) / weights, tensors: exported, seconds: Number(process.hrtime.bigint() - t0) / 1e9 };
  } finally {
    await reader?.close();
    await source?.close();
  }
}

/** rope_scaling as llama.cpp's rope_freqs tensor: per rotated pair, the divisor of its unscaled
 * frequency θ^(−2i/d) (Llama 3's smooth scaling and linear scaling alike); undefined without
 * scaling. */
function ropeFactors(config: LlamaConfig, scaling: unknown): Float32Array | undefined {
  if (scaling == null) return undefined;
  const factors = Float32Array.from(config.invFreq, (f, i) => config.ropeTheta ** (-(2 * i) / config.headDim) / f);
  // rope_type 'default' gives 1 up to the f32 rounding of the frequencies.
  return factors.every((f) => Math.abs(f - 1) < 1e-6) ? undefined : factors;
}

/** How a tensor is written: its ggml type and its bytes chunk by chunk. */
function planTensor(s: Source, label: string, requant: RequantType | undefined, ctx: JobContext, record: ExportedTensor): { type: GgmlType; how: ExportedTensor['how']; chunks: () => AsyncIterable<Uint8Array> } {
  const stored = DTYPE_TYPE[s.dtype];
  if (!stored) throw new Error(`${label}: tensor ${s.name} is ${s.dtype}; GGUF export takes F32, F16 and BF16 weights`);
  if (s.shape.length === 1)
    return {
      type: 'F32',
      how: 'f32',
      chunks: async function* () {
        for await (const c of s.decoded()) yield s.dtype === 'F32' ? c : fromF32('F32', toF32(s.dtype, c));
      },
    };
  if (s.blocks) return { type: s.blocks.type, how: 'copied', chunks: s.blocks.chunks };
  if (requant && s.shape[1] % 32 === 0) {
    const bits = REQUANT_TYPES[requant];
    return {
      type: requant,
      how: 'requantized',
      chunks: async function* () {
        let signal = 0, noise = 0;
        for await (const raw of wholeGroups(s.decoded(), 32 * DTYPE_SIZES[s.dtype])) {
          const weights = floatView(s.dtype, raw);
          const codes = new Uint8Array((weights.length * bits) / 8);
          const scales = new Uint16Array(weights.length / 32);
          const args = { weights, dtype: floatDtype(s.dtype), bits, group: 32, codes, scales, measure: true as const, threads: ctx.threads };
          const sums = await runJob((progress) => native.rtnEncode(args, progress), { signal: ctx.signal });
          signal += sums.signal;
          noise += sums.noise;
          const out = new Uint8Array(ggmlBytes(requant, weights.length));
          native.rtnGgmlBlocks({ bits, codes, scales, out });
          yield out;
        }
        record.relativeError = signal > 0 ? Math.sqrt(noise / signal) : 0;
      },
    };
  }
  return { type: stored, how: s.method === 'lossless' ? 'as-stored' : 'decoded', chunks: s.decoded };
}

/** The same bytes in pieces that are whole multiples of `unit` bytes (chunks of some methods end
 * mid-group); the stream's total must be a multiple too. */
export async function* wholeGroups(chunks: AsyncIterable<Uint8Array>, unit: number): AsyncIterable<Uint8Array> {
  let carry = new Uint8Array(0);
  for await (const c of chunks) {
    const all = carry.length ? Buffer.concat([carry, c]) : c;
    const whole = all.length - (all.length % unit);
    if (whole) yield all.subarray(0, whole);
    carry = Uint8Array.from(all.subarray(whole));
  }
  if (carry.length) throw new Error(`a stream of whole ${unit}-byte groups ended ${carry.length} bytes into one`);
}

/** The whole tensor gathered, its rows permuted for llama.cpp's rotary layout. */
async function* permuted(chunks: AsyncIterable<Uint8Array>, heads: number, rowBytes: number): AsyncIterable<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const c of chunks) parts.push(c);
  yield permuteRotaryRows(Buffer.concat(parts), heads, rowBytes);
}
