// tensorzip export checked by llama.cpp itself (through node-llama-cpp, run in a child process):
// the shipped trained model and containers of it whose weights are ggml blocks are exported,
// loaded by llama.cpp, and its next-token distributions on held-out token ids are compared with
// tensorzip's own forward pass over the same container. llama.cpp rounds activations to 8 bits
// (Q8_0/Q4_0/Q5_0 weights) or bf16 (BF16 weights) inside its matrix products, so the two differ
// by that rounding; a wrong weight, layout or row order would differ by far more than the
// container differs from the original model, which is the bound each case checks.
// node-llama-cpp is installed by .ci/run (scripts/llama-cpp.sh); without it the test skips,
// unless CI is set.
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { compress } from '../lib/pipeline/compress';
import { exportGguf } from '../lib/pipeline/export';
import { GgufFile } from '../lib/interop/gguf';
import { LlamaModel } from '../lib/model/llama';
import { generateCheckpoint } from '../lib/tools/generate';
import { Rng } from '../lib/core/random';
import { SafetensorsFile } from '../lib/io/safetensors';
import { SafetensorsWriter, type TensorSpec } from '../lib/io/safetensors-writer';
import { fromF32 } from '../lib/methods/f32';

const REPO = path.join(__dirname, '..', '..');
const MODEL = path.join(REPO, 'models', 'kjv-llama');
const LLAMA_CPP = process.env.TENSORZIP_LLAMA_CPP ?? path.join(REPO, '.ci', 'llama-cpp', 'node_modules', 'node-llama-cpp');
const PROBE = path.join(REPO, 'test', 'fixtures', 'llama-cpp-probs.mjs');

/** Byte-level BPE ids of a held-out passage: every id is a byte token or a merge. */
async function heldOutIds(n: number): Promise<number[]> {
  const tokenizer = JSON.parse(await readFile(path.join(MODEL, 'tokenizer.json'), 'utf8'));
  const vocab: Record<string, number> = tokenizer.model.vocab;
  const text = (await readFile(path.join(MODEL, 'eval.txt'), 'utf8')).slice(0, 4000);
  // Bytes as GPT-2's printable characters, then the vocabulary's longest matches (a valid
  // tokenization for this comparison: both sides see the same ids).
  const printable = (b: number) => (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
  const map: string[] = [];
  let extra = 0;
  for (let b = 0; b < 256; b++) map[b] = String.fromCharCode(printable(b) ? b : 256 + extra++);
  const chars = [...Buffer.from(text, 'utf8')].map((b) => map[b]).join('');
  const ids = [tokenizer.added_tokens.find((t: { content: string }) => t.content === '<s>').id];
  for (let i = 0; i < chars.length && ids.length < n; ) {
    let len = Math.min(12, chars.length - i);
    while (len > 1 && vocab[chars.slice(i, i + len)] === undefined) len--;
    ids.push(vocab[chars.slice(i, i + len)]);
    i += len;
  }
  return ids;
}

/** tensorzip's next-token distributions: its forward pass, final norm and head in f64. */
async function tensorzipProbs(input: string, ids: number[]): Promise<Float64Array[]> {
  const model = await LlamaModel.open(input);
  try {
    const c = model.config;
    const hidden = await model.forward([Uint32Array.from(ids)]);
    const norm = await model.weights.read('model.norm.weight');
    const head = await model.weights.read(c.tied ? 'model.embed_tokens.weight' : 'lm_head.weight');
    return ids.map((_, p) => {
      const x = hidden.subarray(p * c.hidden, (p + 1) * c.hidden);
      const rms = 1 / Math.sqrt(x.reduce((a, v) => a + v * v, 0) / c.hidden + c.eps);
      const logits = new Float64Array(c.vocab);
      for (let v = 0; v < c.vocab; v++) {
        let s = 0;
        for (let i = 0; i < c.hidden; i++) s += head[v * c.hidden + i] * Math.fround(Math.fround(x[i] * rms) * norm[i]);
        logits[v] = s;
      }
      const max = Math.max(...logits);
      const e = logits.map((l) => Math.exp(l - max));
      const z = e.reduce((a, b) => a + b, 0);
      return e.map((v) => v / z);
    });
  } finally {
    await model.weights.close();
  }
}

async function llamaCppProbs(gguf: string, ids: number[]): Promise<number[][]> {
  const { stdout } = await promisify(execFile)(process.execPath, [PROBE, LLAMA_CPP, gguf, JSON.stringify(ids)], { maxBuffer: 1 << 28 });
  return JSON.parse(stdout).probs;
}

async function llamaCppTokenize(gguf: string, texts: string[]): Promise<number[][]> {
  const { stdout } = await promisify(execFile)(process.execPath, [PROBE, LLAMA_CPP, gguf, JSON.stringify(texts), 'tokenize'], { maxBuffer: 1 << 26 });
  return JSON.parse(stdout);
}

/** A SentencePiece-style BPE tokenizer.json (as Llama 2's: ▁ for spaces, one prepended, byte
 * fallback) with `vocab` tokens, its merges learnt on `text` within ▁-words. */
function sentencePieceTokenizer(text: string, vocab: number): object {
  const pieces = new Map<string, number>();
  const add = (p: string) => pieces.has(p) || pieces.set(p, pieces.size);
  ['<unk>', '<s>', '</s>'].forEach(add);
  for (let b = 0; b < 256; b++) add(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
  const words = text.split(/ +/).filter(Boolean).map((w) => [...('▁' + w)]);
  for (const w of words) w.forEach(add);
  const merges: string[] = [];
  while (pieces.size < vocab) {
    const counts = new Map<string, number>();
    for (const w of words) for (let i = 0; i + 1 < w.length; i++) counts.set(w[i] + ' ' + w[i + 1], (counts.get(w[i] + ' ' + w[i + 1]) ?? 0) + 1);
    let best = '', most = 1;
    for (const [pair, n] of counts) if (n > most || (n === most && best && pair < best)) [best, most] = [pair, n];
    if (!best) break;
    const [a, b] = best.split(' ');
    merges.push(best);
    add(a + b);
    for (const w of words)
      for (let i = 0; i + 1 < w.length; i++) if (w[i] === a && w[i + 1] === b) w.splice(i, 2, a + b);
  }
  return {
    version: '1.0',
    added_tokens: ['<unk>', '<s>', '</s>'].map((content, id) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: '▁' }, { type: 'Replace', pattern: { String: ' ' }, content: '▁' }] },
    pre_tokenizer: null,
    post_processor: null,
    decoder: { type: 'Sequence', decoders: [{ type: 'Replace', pattern: { String: '▁' }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' }, { type: 'Strip', content: ' ', start: 1, stop: 0 }] },
    model: { type: 'BPE', dropout: null, unk_token: '<unk>', continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: true, byte_fallback: true, vocab: Object.fromEntries(pieces), merges },
  };
}

/** Mean KL(p‖q) over positions and the share of positions whose most likely token agrees. */
function compare(p: ArrayLike<number>[], q: ArrayLike<number>[]): { kl: number; top1: number } {
  let kl = 0, agree = 0;
  const argmax = (a: ArrayLike<number>) => {
    let best = 0;
    for (let i = 1; i < a.length; i++) if (a[i] > a[best]) best = i;
    return best;
  };
  for (let i = 0; i < p.length; i++) {
    for (let v = 0; v < p[i].length; v++) if (p[i][v] > 0) kl += p[i][v] * Math.log(p[i][v] / Math.max(q[i][v], 1e-30));
    if (argmax(p[i]) === argmax(q[i])) agree++;
  }
  return { kl: kl / p.length, top1: agree / p.length };
}

describe('GGUF export run by llama.cpp', function () {
  this.timeout(300000);
  let dir: string;
  let ids: number[];
  let original: Float64Array[];
  before(async function () {
    if (!existsSync(path.join(LLAMA_CPP, 'package.json'))) {
      if (process.env.CI) throw new Error(`node-llama-cpp is not installed at ${LLAMA_CPP} (.ci/run installs it with scripts/llama-cpp.sh)`);
      this.skip();
    }
    dir = await mkdtemp(path.join(os.tmpdir(), 'tz-llama-cpp-'));
    ids = await heldOutIds(96);
    original = await tensorzipProbs(MODEL, ids);
  });
  after(() => dir && rm(dir, { recursive: true, force: true }));

  const cases: Array<{ name: string; method?: string; policy?: Record<string, string>; types: string[] }> = [
    { name: 'the shipped model as stored (BF16)', types: ['BF16', 'F32'] },
    { name: 'rtn:8:g32 as Q8_0 (a policy for the embeddings)', method: 'rtn:8:g32', policy: { '*embed_tokens*': 'rtn:8:g32', 'lm_head*': 'rtn:8:g32' }, types: ['Q8_0', 'F32'] },
    { name: '--method gguf:q5_0 (Q5_0, embeddings Q8_0)', method: 'gguf:q5_0', types: ['Q5_0', 'Q8_0', 'F32'] },
    { name: '--method gguf:q4_0 (Q4_0, embeddings Q8_0)', method: 'gguf:q4_0', types: ['Q4_0', 'Q8_0', 'F32'] },
    { name: '--method gguf:tq2_0 (TQ2_0, embeddings Q8_0)', method: 'gguf:tq2_0', types: ['TQ2_0', 'Q8_0', 'F32'] },
  ];
  it('a generated model, --method gguf:q4_0: the same agreement on weights it was never trained into', async () => {
    const gen = (await generateCheckpoint(path.join(dir, 'gen'), { hidden: 128, intermediate: 352, layers: 2, heads: 4, kvHeads: 2, vocab: 512, seed: 8 })).dir;
    const tzip = path.join(dir, 'gen.tzip');
    await compress(gen, tzip, { method: 'gguf:q4_0' });
    const gguf = path.join(dir, 'gen.gguf');
    await exportGguf(tzip, gguf);
    const rng = new Rng(3);
    const genIds = Array.from({ length: 64 }, () => rng.u32() % 512);
    const same = compare(await tensorzipProbs(tzip, genIds), await llamaCppProbs(gguf, genIds));
    console.log(`      generated model, Q4_0: llama.cpp vs tensorzip: KL ${same.kl.toExponential(2)}, top-1 ${(100 * same.top1).toFixed(1)} %`);
    assert.ok(same.kl < 2e-3, `KL ${same.kl}`);
    assert.ok(same.top1 >= 0.9, `top-1 ${same.top1}`);
  });

  it("Llama 3's rope scaling as a rope_freqs tensor, --method gguf:q4_0: the same agreement", async () => {
    const base = (await generateCheckpoint(path.join(dir, 'rope-src'), { hidden: 128, intermediate: 352, layers: 2, heads: 4, kvHeads: 2, vocab: 512, seed: 10 })).dir;
    const scaled = path.join(dir, 'rope');
    await cp(base, scaled, { recursive: true });
    const config = JSON.parse(await readFile(path.join(base, 'config.json'), 'utf8'));
    // A short original context, so that the scaling changes the frequencies a 64-token run uses.
    const rope_scaling = { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 32 };
    await writeFile(path.join(scaled, 'config.json'), JSON.stringify({ ...config, rope_scaling }));
    const tzip = path.join(dir, 'rope.tzip');
    await compress(scaled, tzip, { method: 'gguf:q4_0' });
    const gguf = path.join(dir, 'rope.gguf');
    const report = await exportGguf(tzip, gguf);
    assert.ok(report.tensors.some((t) => t.gguf === 'rope_freqs.weight'));
    const rng = new Rng(5);
    const genIds = Array.from({ length: 64 }, () => rng.u32() % 512);
    const theirs = await llamaCppProbs(gguf, genIds);
    const same = compare(await tensorzipProbs(tzip, genIds), theirs);
    // The same weights without the scaling: llama.cpp must agree with the scaled run, not this one.
    const unscaledTzip = path.join(dir, 'rope-unscaled.tzip');
    await compress(base, unscaledTzip, { method: 'gguf:q4_0' });
    const unscaled = compare(await tensorzipProbs(unscaledTzip, genIds), theirs);
    console.log(`      rope scaling, Q4_0: llama.cpp vs tensorzip: KL ${same.kl.toExponential(2)}, top-1 ${(100 * same.top1).toFixed(1)} %; vs tensorzip without the scaling: KL ${unscaled.kl.toExponential(2)}`);
    assert.ok(same.kl < 2e-3, `KL ${same.kl}`);
    assert.ok(same.top1 >= 0.9, `top-1 ${same.top1}`);
    assert.ok(unscaled.kl > 10 * same.kl, `without the scaling KL ${unscaled.kl}, with it ${same.kl}`);
  });

  it('a SentencePiece-style tokenizer (Llama 2, Mistral): llama.cpp splits text into the ids tensorzip\'s tokenizer gives', async () => {
    const gen = (await generateCheckpoint(path.join(dir, 'spm'), { hidden: 64, intermediate: 176, layers: 1, heads: 4, kvHeads: 2, vocab: 640, seed: 11 })).dir;
    const corpus = (await readFile(path.join(MODEL, 'calibration.txt'), 'utf8')).replace(/\s+/g, ' ').slice(0, 20000);
    const tokenizer = sentencePieceTokenizer(corpus, 640);
    await writeFile(path.join(gen, 'tokenizer.json'), JSON.stringify(tokenizer));
    await writeFile(path.join(gen, 'tokenizer_config.json'), JSON.stringify({ add_bos_token: true, bos_token: '<s>', eos_token: '</s>', unk_token: '<unk>' }));
    const gguf = path.join(dir, 'spm.gguf');
    await exportGguf(gen, gguf);
    const g = await GgufFile.open(gguf);
    assert.equal(g.scalar('tokenizer.ggml.model'), 'llama');
    await g.close();
    const texts = ['And God said, Let there be light: and there was light.', 'So the word of the LORD came unto Jonah', '  two spaces, tabs\tand an accent: café — done', 'x'];
    const { Tokenizer } = await import('@huggingface/tokenizers');
    const hf = new Tokenizer(tokenizer, {});
    const want = texts.map((t) => hf.encode(t, { add_special_tokens: false }).ids);
    assert.deepEqual(await llamaCppTokenize(gguf, texts), want);
    assert.ok(want[2].some((id: number) => id >= 3 && id < 259), 'the accent and the dash fall back to byte tokens');
    assert.ok(want[0].length < texts[0].length / 2, 'merged pieces, not characters');
  });

  it('a Qwen2 model (q/k/v biases, no row reorder), --method gguf:q8_0: the same agreement', async () => {
    // A generated Llama made a Qwen2: the same tensors plus q/k/v biases, model_type qwen2.
    const llama = (await generateCheckpoint(path.join(dir, 'qwen-src'), { hidden: 128, intermediate: 352, layers: 2, heads: 4, kvHeads: 2, vocab: 512, seed: 9 })).dir;
    const qwen = path.join(dir, 'qwen2');
    await cp(llama, qwen, { recursive: true });
    const config = JSON.parse(await readFile(path.join(llama, 'config.json'), 'utf8'));
    await writeFile(path.join(qwen, 'config.json'), JSON.stringify({ ...config, model_type: 'qwen2', architectures: ['Qwen2ForCausalLM'] }));
    const st = await SafetensorsFile.open(path.join(llama, 'model.safetensors'));
    const rng = new Rng(4);
    const bias = (n: number) => fromF32('BF16', Float32Array.from({ length: n }, () => (rng.uniform() - 0.5) * 0.2));
    const entries: Array<{ spec: TensorSpec; data: Uint8Array }> = [];
    for (const e of st.header.tensors) {
      entries.push({ spec: { name: e.name, dtype: e.dtype, shape: e.shape }, data: await st.read(e) });
      const m = /^(model\.layers\.\d+\.self_attn\.[qkv]_proj)\.weight$/.exec(e.name);
      if (m) entries.push({ spec: { name: `${m[1]}.bias`, dtype: 'BF16', shape: [e.shape[0]] }, data: bias(e.shape[0]) });
    }
    await st.close();
    await rm(path.join(qwen, 'model.safetensors'));
    entries.sort((a, b) => (a.spec.name < b.spec.name ? -1 : 1));
    const writer = await SafetensorsWriter.create(path.join(qwen, 'model.safetensors'), entries.map((e) => e.spec));
    for (const e of entries) await writer.write(e.data);
    await writer.finish();

    const tzip = path.join(dir, 'qwen2.tzip');
    await compress(qwen, tzip, { method: 'gguf:q8_0' });
    const gguf = path.join(dir, 'qwen2.gguf');
    const report = await exportGguf(tzip, gguf);
    assert.equal(report.architecture, 'qwen2');
    assert.equal(report.tensors.filter((t) => t.gguf.endsWith('.bias')).length, 6);
    const genIds = Array.from({ length: 64 }, () => rng.u32() % 512);
    const same = compare(await tensorzipProbs(tzip, genIds), await llamaCppProbs(gguf, genIds));
    console.log(`      Qwen2, Q8_0: llama.cpp vs tensorzip: KL ${same.kl.toExponential(2)}, top-1 ${(100 * same.top1).toFixed(1)} %`);
    assert.ok(same.kl < 2e-3, `KL ${same.kl}`);
    assert.ok(same.top1 >= 0.9, `top-1 ${same.top1}`);
  });

  for (const c of cases)
    it(`${c.name}: llama.cpp's distributions match tensorzip's on the same weights`, async () => {
      let input = MODEL;
      if (c.method) {
        input = path.join(dir, `${c.method.replace(/\W+/g, '-')}.tzip`);
        await compress(MODEL, input, { method: c.method, policy: c.policy });
      }
      const gguf = path.join(dir, `${path.basename(input)}.gguf`);
      const report = await exportGguf(input, gguf);
      const g = await GgufFile.open(gguf);
      const types = new Set(g.tensors.map((t) => t.type));
      await g.close();
      assert.deepEqual([...types].sort(), [...c.types].sort(), 'the tensor types written');
      assert.ok(report.tensors.filter((t) => t.type !== 'F32').every((t) => t.how === (c.method ? 'copied' : 'as-stored')), 'every matrix copied as stored');

      const ours = c.method ? await tensorzipProbs(input, ids) : original;
      const theirs = await llamaCppProbs(gguf, ids);
      const same = compare(ours, theirs);
      const vsOriginal = compare(original, ours);
      console.log(`      ${c.name}: ${report.bitsPerWeight.toFixed(3)} bits/w; llama.cpp vs tensorzip on the same weights: KL ${same.kl.toExponential(2)}, top-1 ${(100 * same.top1).toFixed(1)} %; the container vs the original: KL ${vsOriginal.kl.toExponential(2)}`);
      assert.ok(same.top1 >= 0.95, `top-1 agreement ${same.top1}`);
      // Activation rounding gives 1e-5 (bf16) to 1e-3 (8-bit blocks); a misplaced row or a wrong
      // scale on this model gives KL far above 0.01.
      assert.ok(same.kl < 2e-3, `KL ${same.kl}`);
      if (vsOriginal.kl > 0.01) assert.ok(same.kl < vsOriginal.kl / 10, `llama.cpp differs from tensorzip (KL ${same.kl}) by more than a tenth of the quantization's own KL (${vsOriginal.kl})`);
    });
});
