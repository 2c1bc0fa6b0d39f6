// Model-level quality: perplexity and KL divergence (`eval`), importance matrices (`imatrix`).
import { strict as assert } from 'node:assert';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { compress } from '../lib/pipeline/compress';
import { computeImportance } from '../lib/eval/imatrix';
import { evaluate } from '../lib/eval/perplexity';
import { generateCheckpoint } from '../lib/tools/generate';
import { loadImportance } from '../lib/methods/importance';
import { SafetensorsFile } from '../lib/io/safetensors';
import { SafetensorsWriter } from '../lib/io/safetensors-writer';
import { parseLlamaConfig } from '../lib/model/config';
import { LlamaModel } from '../lib/model/llama';
import { openWeights } from '../lib/model/weights';
import { tokenizeText } from '../lib/eval/tokens';
import { cliPath, root } from './helpers';
import { logSoftmax, referenceImportance, referenceLogits } from './reference-llama';
import { writeTinyModel, type TinyModel } from './tiny-llama';

const cli = (...args: string[]) => spawnSync(process.execPath, [cliPath, ...args], { cwd: root, encoding: 'utf8' });

const TEXT = 'The quick brown fox jumps over the lazy dog. ' +
  'Quantization maps each weight to one of a few levels; the error it leaves is measured on the model itself. '.repeat(12);

describe('eval and imatrix', function () {
  this.timeout(60_000);
  let tmp: string, generated: string, text: string, tiny: TinyModel, ids: string;
  const tinyIds = Array.from({ length: 3 * 24 + 5 }, (_, i) => (i * 37 + ((i * i) % 11)) % 97);

  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'tz-eval-'));
    generated = path.join(tmp, 'gen');
    await generateCheckpoint(generated, { hidden: 64, intermediate: 176, layers: 2, heads: 4, kvHeads: 2, vocab: 512 });
    text = path.join(tmp, 'text.txt');
    await writeFile(text, TEXT);
    tiny = await writeTinyModel(path.join(tmp, 'tiny'), { modelType: 'qwen2', kvHeads: 1 });
    ids = path.join(tmp, 'ids.json');
    await writeFile(ids, JSON.stringify(tinyIds));
  });
  after(async () => rm(tmp, { recursive: true, force: true }));

  it('perplexity follows llama.cpp: the second half of each chunk, from the reference forward pass', async () => {
    const r = await evaluate(tiny.dir, { tokens: ids }, { ctx: 24, threads: 2 });
    assert.equal(r.chunks, 3);
    assert.equal(r.scored, 3 * (24 - 1 - 12));
    let nll = 0;
    for (let c = 0; c < 3; c++) {
      const chunk = tinyIds.slice(c * 24, (c + 1) * 24);
      const logits = referenceLogits(tiny.ref, tiny.weights, chunk);
      for (let j = 12; j < 23; j++) nll -= logSoftmax(logits.subarray(j * 97, (j + 1) * 97))[chunk[j + 1]];
    }
    const expected = Math.exp(nll / r.scored);
    assert.ok(Math.abs(r.perplexity / expected - 1) < 1e-5, `${r.perplexity} vs ${expected}`);
    assert.ok(r.perplexityError > 0);
    const limited = await evaluate(tiny.dir, { tokens: ids }, { ctx: 24, chunks: 2, threads: 1 });
    assert.equal(limited.chunks, 2);
    await assert.rejects(evaluate(tiny.dir, { tokens: ids }, { ctx: 24, signal: AbortSignal.abort() }), { name: 'AbortError' });
  });

  it('a lossless .tzip has exactly the perplexity of the original; KL(original, original) is 0', async () => {
    const tzip = path.join(tmp, 'lossless.tzip');
    await compress(generated, tzip, { method: 'lossless' });
    const original = await evaluate(generated, { text }, { ctx: 64, threads: 2 });
    const decoded = await evaluate(tzip, { text }, { ctx: 64, threads: 2 });
    assert.equal(decoded.perplexity, original.perplexity);
    assert.match(original.tokens, /BOS 1/);
    const self = await evaluate(generated, { text }, { ctx: 64, against: generated, threads: 1 });
    assert.deepEqual(self.kl, { mean: 0, median: 0, p99: 0, max: 0 });
    assert.equal(self.top1Agreement, 1);
    assert.equal(self.perplexity, original.perplexity, 'the thread count does not change the result');
    assert.equal(self.reference!.perplexity, original.perplexity);
  });

  it('--against on a lossy container: positive KL, both perplexities, from the command line', async () => {
    const tzip = path.join(tmp, 'rtn2.tzip');
    await compress(generated, tzip, { method: 'rtn:2:g32' });
    const r = cli('eval', tzip, '--text', text, '--ctx', '64', '--against', generated, '--json');
    assert.equal(r.status, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.ok(j.kl.mean > 0 && j.kl.p99 >= j.kl.median && j.kl.max >= j.kl.p99, JSON.stringify(j.kl));
    assert.ok(j.top1Agreement < 1);
    assert.notEqual(j.perplexity, j.reference.perplexity);
    const human = cli('eval', tzip, '--text', text, '--ctx', '64', '--against', generated);
    assert.equal(human.status, 0, human.stderr);
    assert.match(human.stdout, /^model +perplexity +Δ perplexity +mean KL +median KL +p99 KL +max KL +top-1 agreement$/m);
    assert.match(human.stdout, /rtn2\.tzip +\d+\.\d+ ± \d+\.\d+ +[+-]\d+\.\d+ \([+-]\d+\.\d+ %\) +\d\.\d+e[+-]\d+ .* \d+\.\d+ %$/m);
  });

  it('bench e2e --eval-chunks times eval of the original and adds KL and top-1 per container (tiny shape)', () => {
    const tiny = ['--hidden', '128', '--intermediate', '352', '--layers', '1', '--heads', '4', '--kv-heads', '2', '--vocab', '512'];
    const r = cli('bench', 'e2e', ...tiny, '--methods', 'lossless,rtn:2:g32,seedlm:4', '--eval-chunks', '2', '--json');
    assert.equal(r.status, 0, r.stderr);
    const e = JSON.parse(r.stdout);
    assert.equal(e.originalEval.chunks, 2);
    assert.equal(e.originalEval.scored, 2 * 255);
    const [lossless, rtn2, seedlm] = e.rows;
    assert.equal(lossless.quality.klMean, 0);
    assert.ok(rtn2.quality.klMean > 0 && rtn2.quality.top1Agreement < 1);
    assert.equal(seedlm.quality, undefined);
  });

  it('imatrix matches the reference mean squared inputs and feeds --importance', async () => {
    const model = await LlamaModel.open(tiny.dir);
    let r;
    try {
      r = await computeImportance(model, { tokens: ids }, { ctx: 24, threads: 2 });
    } finally {
      await model.close();
    }
    const expected = referenceImportance(tiny.ref, tiny.weights, [0, 1, 2].map((c) => tinyIds.slice(c * 24, (c + 1) * 24)));
    assert.deepEqual([...r.importance.keys()].sort(), [...expected.keys()].sort());
    for (const [name, want] of expected) {
      const got = r.importance.get(name)!;
      want.forEach((w, i) => assert.ok(Math.abs(got[i] - w) <= 1e-4 * (Math.abs(w) + 1e-3), `${name}[${i}]: ${got[i]} vs ${w}`));
    }
    const out = path.join(tmp, 'imatrix.safetensors');
    const c = cli('imatrix', generated, '--text', text, '--ctx', '64', '-o', out);
    assert.equal(c.status, 0, c.stderr);
    const st = await SafetensorsFile.open(out);
    assert.equal(st.header.metadata?.format, 'tensorzip-imatrix');
    await st.close();
    const source = await LlamaModel.open(generated);
    const names = source.expectedTensors();
    await source.close();
    const loaded = await loadImportance(out, names);
    assert.equal(loaded.size, 2 * 7 + 1);
    const v = await compress(generated, path.join(tmp, 'vptq.tzip'), { method: 'vptq:2', importance: out });
    assert.ok(v.tensors.some((t) => t.method.startsWith('vptq')));
    // rtn and ternary:opt choose other scales with it; the containers verify against the original.
    for (const method of ['rtn:4', 'ternary:opt']) {
      const plain = path.join(tmp, `plain-${method}.tzip`), weighted = path.join(tmp, `weighted-${method}.tzip`);
      await compress(generated, plain, { method });
      await compress(generated, weighted, { method, importance: out });
      assert.notDeepEqual(await readFile(weighted), await readFile(plain), method);
      const ok = cli('verify', weighted, '--against', generated);
      assert.equal(ok.status, 0, ok.stdout + ok.stderr);
    }
  });

  it('--importance must serve the run: refused from another model (a layer of two), or where no method uses it; a note names the methods that ignore it', async () => {
    const one = path.join(tmp, 'gen-1layer');
    await generateCheckpoint(one, { hidden: 64, intermediate: 176, layers: 1, heads: 4, kvHeads: 2, vocab: 512 });
    const im = path.join(tmp, 'imatrix-1layer.safetensors');
    assert.equal(cli('imatrix', one, '--text', text, '--ctx', '64', '-o', im).status, 0);
    let r = cli('compress', generated, '-o', path.join(tmp, 'half.tzip'), '-m', 'rtn:4', '--importance', im);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /no importance vector for 5 of the 12 tensors whose method uses it \(model\.layers\.1\.self_attn\.q_proj\.weight, .*was it made from another model\?/);
    r = cli('compress', one, '-o', path.join(tmp, 'plain.tzip'), '--tensor-method', '*=ternary', '--importance', im);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /--importance .*: no tensor of this run uses it \(rtn, ternary :opt and vptq do; ternary:g256:p3 does not\)/);
    r = cli('compress', one, '-o', path.join(tmp, 'mixed.tzip'), '-m', 'rtn:4', '--tensor-method', '*q_proj*=ternary', '--importance', im);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /--importance is not used by ternary:g256:p3 \(rtn, ternary :opt and vptq use it\)/);
  });

  describe('bad input: a clear error, exit 1 (2 for usage), no output', () => {
    const cases: Array<[string, (dir: string) => Promise<void>, RegExp]> = [
      ['config.json without hidden_size', async (d) => editConfig(d, (c) => delete c.hidden_size), /config\.json: hidden_size is missing/],
      ['an unsupported model_type', async (d) => editConfig(d, (c) => (c.model_type = 'gpt2')), /model_type "gpt2" is not supported/],
      ['heads not a multiple of kv heads', async (d) => editConfig(d, (c) => (c.num_key_value_heads = 3)), /must be a multiple of num_key_value_heads/],
      ['an unsupported rope scaling', async (d) => editConfig(d, (c) => (c.rope_scaling = { rope_type: 'yarn', factor: 4 })), /rope_scaling type "yarn" is not supported/],
      ['a shape that disagrees with config.json', async (d) => editConfig(d, (c) => (c.intermediate_size = 81)), /intermediate_size gives 81 rows for model\.layers\.0\.mlp\.gate_proj\.weight, but it has 80 \(shape \[80, 48\]\)/],
      ['a down_proj that disagrees with config.json', (d) => editTensorShape(d, 'model.layers.1.mlp.down_proj.weight'), /mlp\.down_proj\.weight has shape .*, but config\.json implies/],
      // Hostile sizes are checked against the weights before anything is sized by them (these ran out of memory before).
      ['num_hidden_layers 10^9', async (d) => editConfig(d, (c) => (c.num_hidden_layers = 1e9)), /num_hidden_layers is 1000000000, but the weights have no layer 999999999/],
      ['num_hidden_layers 10^7', async (d) => editConfig(d, (c) => (c.num_hidden_layers = 1e7)), /num_hidden_layers is 10000000, but the weights have no layer 9999999/],
      ['num_hidden_layers 1 of 2', async (d) => editConfig(d, (c) => (c.num_hidden_layers = 1)), /num_hidden_layers is 1, but the weights have a layer 1 too/],
      ['head_dim 2·10^9', async (d) => editConfig(d, (c) => (c.head_dim = 2e9)), /num_attention_heads × head_dim \(\d+ × 2000000000\) gives \d+ rows for model\.layers\.0\.self_attn\.q_proj\.weight/],
      ['vocab_size 10^12', async (d) => editConfig(d, (c) => (c.vocab_size = 1e12)), /vocab_size × hidden_size is 1000000000000 × \d+, but model\.embed_tokens\.weight is/],
      ['no lm_head although untied', (d) => dropTensor(d, 'lm_head.weight'), /tensor lm_head\.weight is missing \(config\.json says tie_word_embeddings is false\)/],
      ['no config.json', async (d) => rm(path.join(d, 'config.json')), /no config\.json/],
      ['invalid JSON in config.json', async (d) => writeFile(path.join(d, 'config.json'), '{'), /config\.json: invalid JSON/],
    ];
    for (const [name, mutate, message] of cases)
      it(name, async () => {
        const dir = path.join(tmp, `bad-${name.replace(/\W+/g, '-')}`);
        await writeTinyModel(dir);
        await mutate(dir);
        const out = path.join(tmp, `out-${name.replace(/\W+/g, '-')}.safetensors`);
        for (const r of [cli('eval', dir, '--tokens', ids, '--ctx', '24'), cli('imatrix', dir, '--tokens', ids, '--ctx', '24', '-o', out)]) {
          assert.equal(r.status, 1, r.stderr);
          assert.match(r.stderr, message);
        }
        assert.ok(!(await readdir(tmp)).some((f) => f.includes(path.basename(out))), 'no output left behind');
      });

    it('a tokenizer whose pre-tokenizer regex backtracks without end is stopped by its budget, or at once by a signal', async () => {
      const dir = path.join(tmp, 'evil-tokenizer');
      await generateCheckpoint(dir, { hidden: 64, intermediate: 176, layers: 1, heads: 4, kvHeads: 2, vocab: 320 });
      const file = path.join(dir, 'tokenizer.json');
      const t = JSON.parse(await readFile(file, 'utf8'));
      // (a|a)+$ on a run of a's followed by b: 2^40 ways to fail before giving up.
      t.pre_tokenizer = { type: 'Sequence', pretokenizers: [{ type: 'Split', pattern: { Regex: '(a|a)+$' }, behavior: 'Isolated', invert: false }, t.pre_tokenizer] };
      await writeFile(file, JSON.stringify(t));
      const evil = path.join(tmp, 'evil.txt');
      await writeFile(evil, 'hello world '.repeat(50) + 'a'.repeat(40) + 'b');
      const weights = await openWeights(dir);
      try {
        await assert.rejects(tokenizeText(evil, weights, undefined, 1), /evil\.txt: tokenizing took longer than 1 s, so it was stopped .*give token ids with --tokens instead/);
        const ac = new AbortController();
        setTimeout(() => ac.abort(), 300);
        await assert.rejects(tokenizeText(evil, weights, ac.signal), { name: 'AbortError' });
        assert.ok((await tokenizeText(text, weights)).ids.length > 0, 'ordinary text still tokenizes');
      } finally {
        await weights.close();
      }
      // The same tokenizer carried inside a container.
      const container = path.join(tmp, 'evil.tzip');
      await compress(dir, container, { method: 'rtn:8' });
      const inside = await openWeights(container);
      try {
        await assert.rejects(tokenizeText(evil, inside, undefined, 1), /tokenizing took longer than 1 s, so it was stopped/);
      } finally {
        await inside.close();
      }
      // The CLI stops on the first SIGINT (the main thread is free while the worker tokenizes).
      const child = spawn(process.execPath, [cliPath, 'eval', dir, '--text', evil, '--ctx', '8'], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      setTimeout(() => child.kill('SIGINT'), 1500);
      const status = await new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      assert.equal(status, 130, stderr);
      assert.match(stderr, /interrupted/);
    });

    it('a hostile config.json inside a .tzip is refused as in a folder', async () => {
      const dir = path.join(tmp, 'hostile-in-tzip');
      await writeTinyModel(dir);
      await editConfig(dir, (c) => (c.num_hidden_layers = 1e9));
      const container = path.join(tmp, 'hostile.tzip');
      await compress(dir, container, { method: 'rtn:8' });
      const r = cli('eval', container, '--tokens', ids, '--ctx', '24');
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, /config\.json: num_hidden_layers is 1000000000, but the weights have no layer 999999999/);
    });

    it('token ids outside the vocabulary, too few tokens for a chunk, both or neither of --text and --tokens', async () => {
      const big = path.join(tmp, 'big.json');
      await writeFile(big, JSON.stringify([1, 2, 97]));
      let r = cli('eval', tiny.dir, '--tokens', big, '--ctx', '4');
      assert.equal(r.status, 1);
      assert.match(r.stderr, /token 2 is id 97, not below the model's vocabulary size 97/);
      r = cli('eval', tiny.dir, '--tokens', ids, '--ctx', '512');
      assert.equal(r.status, 1);
      assert.match(r.stderr, /fewer tokens than one chunk of --ctx 512/);
      r = cli('eval', tiny.dir, '--tokens', ids, '--text', text);
      assert.equal(r.status, 2);
      assert.match(r.stderr, /exactly one of --text <file> or --tokens <file>/);
      r = cli('eval', tiny.dir, '--ctx', '24');
      assert.equal(r.status, 2);
      r = cli('eval', tiny.dir, '--text', text);
      assert.equal(r.status, 1);
      assert.match(r.stderr, /no tokenizer\.json/);
      const odd = path.join(tmp, 'ids.bin');
      await writeFile(odd, Buffer.alloc(7));
      r = cli('eval', tiny.dir, '--tokens', odd);
      assert.equal(r.status, 1);
      assert.match(r.stderr, /7 bytes is not a whole number of uint32 token ids/);
      const bin = path.join(tmp, 'ids32.bin');
      await writeFile(bin, Buffer.from(Uint32Array.from(tinyIds).buffer));
      const fromBin = await evaluate(tiny.dir, { tokens: bin }, { ctx: 24 });
      const fromJson = await evaluate(tiny.dir, { tokens: ids }, { ctx: 24 });
      assert.equal(fromBin.perplexity, fromJson.perplexity);
    });

    it('a model evaluated against a different model is refused', async () => {
      const r = cli('eval', tiny.dir, '--tokens', ids, '--ctx', '24', '--against', generated);
      assert.equal(r.status, 1);
      assert.match(r.stderr, /is not the same model/);
    });

    it('the config parser refuses what the forward pass would compute differently', () => {
      const base = { model_type: 'llama', hidden_size: 8, intermediate_size: 16, num_hidden_layers: 1, num_attention_heads: 2, vocab_size: 10 };
      assert.equal(parseLlamaConfig(base).kvHeads, 2);
      assert.throws(() => parseLlamaConfig({ ...base, hidden_act: 'gelu' }), /hidden_act "gelu" is not supported/);
      assert.throws(() => parseLlamaConfig({ ...base, attention_bias: true }), /attention_bias: true is not supported/);
      assert.throws(() => parseLlamaConfig({ ...base, model_type: 'qwen2', use_sliding_window: true }), /use_sliding_window/);
      assert.throws(() => parseLlamaConfig({ ...base, head_dim: 3 }), /head_dim \(3\) must be even/);
      assert.throws(() => parseLlamaConfig([]), /must be a JSON object/);
      assert.equal(parseLlamaConfig({ ...base, model_type: 'mistral', sliding_window: 4096 }).window, 4096);
      assert.equal(parseLlamaConfig({ ...base, model_type: 'mistral', sliding_window: null }).window, 0);
    });
  });
});

async function editConfig(dir: string, edit: (c: Record<string, unknown>) => unknown): Promise<void> {
  const file = path.join(dir, 'config.json');
  const c = JSON.parse(await readFile(file, 'utf8'));
  edit(c);
  await writeFile(file, JSON.stringify(c));
}

/** Rewrites model.safetensors with one tensor's dimensions reversed (the same bytes). */
async function editTensorShape(dir: string, name: string): Promise<void> {
  const file = path.join(dir, 'model.safetensors');
  const st = await SafetensorsFile.open(file);
  const all = st.header.tensors;
  const data = await Promise.all(all.map((t) => st.read(t)));
  await st.close();
  const w = await SafetensorsWriter.create(file, all.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.name === name ? [...t.shape].reverse() : t.shape })));
  for (const d of data) await w.write(d);
  await w.finish();
}

/** Rewrites model.safetensors without one tensor. */
async function dropTensor(dir: string, name: string): Promise<void> {
  const file = path.join(dir, 'model.safetensors');
  const st = await SafetensorsFile.open(file);
  const keep = st.header.tensors.filter((t) => t.name !== name);
  const data = await Promise.all(keep.map((t) => st.read(t)));
  await st.close();
  const w = await SafetensorsWriter.create(file, keep.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape })));
  for (const d of data) await w.write(d);
  await w.finish();
}
