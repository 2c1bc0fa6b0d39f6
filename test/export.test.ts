// tensorzip export (lib/pipeline/export.ts) on the tensorzip side: names, metadata, the rotary
// row order llama.cpp's Llama graph wants, the tokenizer, and refusals that leave nothing behind.
// llama.cpp's own check of the files is test/gguf-llama-cpp.test.ts.
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { GgufFile } from '../lib/interop/gguf';
import { SafetensorsFile } from '../lib/io/safetensors';
import { compress } from '../lib/pipeline/compress';
import { exportGguf, ggufName, permuteRotaryRows, wholeGroups } from '../lib/pipeline/export';
import { generateCheckpoint } from '../lib/tools/generate';
import { expandPreset } from '../lib/pipeline/policy';

const CLI = path.join(__dirname, '..', 'lib', 'cli.js');

describe('export to GGUF', function () {
  this.timeout(120000);
  let dir: string;
  let model: string;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'tz-export-'));
    model = (await generateCheckpoint(path.join(dir, 'm'), { hidden: 64, intermediate: 160, layers: 2, heads: 4, kvHeads: 2, vocab: 320, seed: 5 })).dir;
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it("names every tensor as llama.cpp does and ignores the ones it computes itself", () => {
    assert.equal(ggufName('model.embed_tokens.weight'), 'token_embd.weight');
    assert.equal(ggufName('model.layers.11.self_attn.k_proj.bias'), 'blk.11.attn_k.bias');
    assert.equal(ggufName('model.layers.0.mlp.down_proj.weight'), 'blk.0.ffn_down.weight');
    assert.equal(ggufName('model.layers.0.post_attention_layernorm.weight'), 'blk.0.ffn_norm.weight');
    assert.equal(ggufName('lm_head.weight'), 'output.weight');
    assert.equal(ggufName('model.layers.0.self_attn.o_proj.bias'), undefined);
  });

  it('gguf presets: the type\'s spec for matrices, Q8_0 embeddings, the user\'s own rules first', () => {
    assert.deepEqual(expandPreset('gguf:q4_0', {}), { method: 'rtn:4:g32', policy: { '*embed_tokens*': 'rtn:8:g32', 'lm_head*': 'rtn:8:g32' } });
    const mine = expandPreset('gguf:tq2_0', { 'model.embed_tokens.weight': 'lossless', 'lm_head*': 'rtn:5:g32' });
    assert.deepEqual(Object.entries(mine.policy), [['model.embed_tokens.weight', 'lossless'], ['lm_head*', 'rtn:5:g32'], ['*embed_tokens*', 'rtn:8:g32']]);
    assert.deepEqual(expandPreset('rtn:4', { a: 'lossless' }), { method: 'rtn:4', policy: { a: 'lossless' } });
  });

  it('re-chunks a stream into whole groups for re-quantizing (chunks of some methods end mid-group)', async () => {
    async function* pieces(sizes: number[]) {
      let v = 0;
      for (const n of sizes) yield Uint8Array.from({ length: n }, () => v++ & 255);
    }
    const out: Uint8Array[] = [];
    for await (const c of wholeGroups(pieces([5, 70, 21]), 32)) out.push(c);
    assert.deepEqual(out.map((c) => c.length), [64, 32]);
    assert.deepEqual([...Buffer.concat(out)], Array.from({ length: 96 }, (_, i) => i));
    await assert.rejects(async () => {
      for await (const _ of wholeGroups(pieces([40]), 32)) void _;
    }, /ended 8 bytes into one/);
  });

  it('interleaves the halves of each head for the rotary layout', () => {
    // 2 heads of 4 rows, one byte per row: row h·4 + 2i + j comes from h·4 + 2j + i.
    assert.deepEqual([...permuteRotaryRows(Uint8Array.from([0, 1, 2, 3, 4, 5, 6, 7]), 2, 1)], [0, 2, 1, 3, 4, 6, 5, 7]);
    assert.throws(() => permuteRotaryRows(new Uint8Array(6), 2, 1), /rotary pairs/);
  });

  it('writes a generated model: metadata from config.json, tokens, tensors as stored, q and k rows reordered', async () => {
    const out = path.join(dir, 'gen.gguf');
    const report = await exportGguf(model, out);
    const g = await GgufFile.open(out);
    const st = await SafetensorsFile.open(path.join(model, 'model.safetensors'));
    try {
      const config = JSON.parse(await readFile(path.join(model, 'config.json'), 'utf8'));
      assert.equal(g.scalar('general.architecture'), 'llama');
      assert.equal(g.scalar('llama.block_count'), config.num_hidden_layers);
      assert.equal(g.scalar('llama.attention.head_count_kv'), config.num_key_value_heads);
      assert.equal(g.scalar('llama.embedding_length'), config.hidden_size);
      assert.equal(g.scalar('tokenizer.ggml.model'), 'gpt2');
      const tokens = g.metadata.get('tokenizer.ggml.tokens');
      assert.ok(tokens?.kind === 'array' && tokens.values.length === config.vocab_size);
      assert.equal(g.tensors.length, st.header.tensors.length);
      assert.equal(report.bytes, (await readFile(out)).length);
      for (const e of st.header.tensors) {
        const t = g.tensor(ggufName(e.name)!)!;
        assert.deepEqual(t.dims, [...e.shape].reverse(), e.name);
        const stored = await st.read(e);
        const written = await g.read(t);
        if (e.shape.length === 1) assert.equal(t.type, 'F32');
        else {
          assert.equal(t.type, 'BF16');
          const heads = /q_proj/.test(e.name) ? config.num_attention_heads : /k_proj/.test(e.name) ? config.num_key_value_heads : 0;
          const rowBytes = e.shape[1] * 2;
          assert.ok(Buffer.from(heads ? permuteRotaryRows(stored, heads, rowBytes) : stored).equals(written), e.name);
          if (heads) assert.ok(!Buffer.from(stored).equals(written), `${e.name} rows moved`);
        }
      }
    } finally {
      await g.close();
      await st.close();
    }
  });

  it('copies rtn:4:g32 blocks from a container and says which tensors were decoded', async () => {
    const tzip = path.join(dir, 'q4.tzip');
    await compress(model, tzip, { method: 'rtn:4:g32' });
    const report = await exportGguf(tzip, path.join(dir, 'q4.gguf'));
    const by = (name: string) => report.tensors.find((t) => t.name === name)!;
    assert.deepEqual([by('model.layers.0.mlp.up_proj.weight').type, by('model.layers.0.mlp.up_proj.weight').how], ['Q4_0', 'copied']);
    assert.deepEqual([by('model.embed_tokens.weight').type, by('model.embed_tokens.weight').how, by('model.embed_tokens.weight').method], ['BF16', 'decoded', 'rtn:8:g128']);
    assert.equal(by('model.norm.weight').how, 'f32');
    assert.ok(report.bitsPerWeight > 4.5 && report.bitsPerWeight < 16, `${report.bitsPerWeight}`);
  });

  it('--type re-quantizes what is not a ggml type already, to the blocks compress would have stored, and reports the error added', async () => {
    const direct = await exportGguf(model, path.join(dir, 'direct-q4.gguf'), { type: 'Q4_0' });
    const up = direct.tensors.find((t) => t.name === 'model.layers.1.mlp.up_proj.weight')!;
    assert.equal(up.how, 'requantized');
    assert.ok(up.relativeError! > 0.05 && up.relativeError! < 0.2, `${up.relativeError}`);
    const viaContainer = path.join(dir, 'q4-all.tzip');
    await compress(model, viaContainer, { method: 'gguf:q4_0', policy: { '*embed_tokens*': 'rtn:4:g32', 'lm_head*': 'rtn:4:g32' } });
    const copied = await exportGguf(viaContainer, path.join(dir, 'copied-q4.gguf'));
    assert.ok(copied.tensors.filter((t) => t.type === 'Q4_0').every((t) => t.how === 'copied'));
    const [a, b] = await Promise.all([GgufFile.open(path.join(dir, 'direct-q4.gguf')), GgufFile.open(path.join(dir, 'copied-q4.gguf'))]);
    try {
      // Tensors too small for a lossy method stay lossless in the container (BF16 there).
      const both = a.tensors.filter((t) => b.tensor(t.name)!.type === 'Q4_0');
      assert.ok(both.length >= 6, `${both.length} tensors`);
      for (const t of both) assert.ok((await a.read(t)).equals(await b.read(b.tensor(t.name)!)), t.name);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('gguf:tq2_0 gives matrices whose rows do not split into 256-weight blocks Q4_0 instead, with a note', async () => {
    const tzip = path.join(dir, 'tq2.tzip');
    const r = await compress(model, tzip, { method: 'gguf:tq2_0' });
    const up = r.tensors.find((t) => t.name === 'model.layers.0.mlp.up_proj.weight')!;
    assert.equal(up.method, 'rtn:4:g32');
    assert.match(up.note ?? '', /rows of 64 weights do not split into gguf:tq2_0's blocks of 256: rtn:4:g32/);
    const exported = await exportGguf(tzip, path.join(dir, 'tq2.gguf'));
    assert.ok(exported.tensors.filter((t) => t.type !== 'F32' && t.type !== 'BF16').every((t) => t.how === 'copied'));
    assert.ok(exported.tensors.some((t) => t.type === 'Q4_0'));
  });

  it('refuses what it cannot export, in words, leaving nothing behind and existing files as they were', async () => {
    const existing = path.join(dir, 'existing.gguf');
    await writeFile(existing, 'keep');
    const run = (args: string[]) => promisify(execFile)(process.execPath, [CLI, 'export', ...args]).then(() => ({ code: 0, stderr: '' }), (e) => ({ code: e.code as number, stderr: String(e.stderr) }));
    let r = await run([model, '-o', existing]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /exists \(use -f\/--force/);
    assert.equal(await readFile(existing, 'utf8'), 'keep');
    r = await run([model, '-o', existing, '--force']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await readFile(existing)).subarray(0, 4).toString(), 'GGUF');

    const variant = async (name: string, change: (m: string) => Promise<void>) => {
      const m = path.join(dir, name);
      await cp(model, m, { recursive: true });
      await change(m);
      return m;
    };
    const editJson = (file: string, edit: (j: Record<string, unknown>) => void) => async (m: string) => {
      const j = JSON.parse(await readFile(path.join(m, file), 'utf8'));
      edit(j);
      await writeFile(path.join(m, file), JSON.stringify(j));
    };
    const cases: Array<[string, (m: string) => Promise<void>, RegExp]> = [
      ['no-tokenizer', (m) => rm(path.join(m, 'tokenizer.json')), /no tokenizer\.json/],
      ['spm', editJson('tokenizer.json', (j) => ((j.model as Record<string, unknown>).byte_fallback = true)), /exported as SentencePiece, which needs spaces as ▁/],
      ['pre', editJson('tokenizer.json', (j) => (j.pre_tokenizer = { type: 'Whitespace' })), /pre-tokenizer .*Whitespace.* not one llama\.cpp implements/],
      ['rope', editJson('config.json', (j) => Object.assign(j, { model_type: 'qwen2', rope_scaling: { type: 'linear', factor: 2 } })), /rope_scaling of a qwen2 model is not exported yet/],
      ['gpt2', editJson('config.json', (j) => (j.model_type = 'gpt2')), /model_type "gpt2" is not supported/],
    ];
    for (const [name, change, message] of cases) {
      const m = await variant(name, change);
      const out = path.join(dir, `${name}.gguf`);
      r = await run([m, '-o', out]);
      assert.equal(r.code, 1, name);
      assert.match(r.stderr, message, name);
    }
    assert.deepEqual((await readdir(dir)).filter((f) => f.endsWith('.gguf') || f.includes('.tmp')).sort(), ['copied-q4.gguf', 'direct-q4.gguf', 'existing.gguf', 'gen.gguf', 'q4.gguf', 'tq2.gguf']);
  });
});
