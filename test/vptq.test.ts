// vptq: index packing for every width, spec parsing and resolution, the vector layout against an
// independent statement, planted clusters, the decoder against an oracle, residual codebooks,
// normalisation and importance weights, determinism, and the method through the whole pipeline.
import { strict as assert } from 'node:assert';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { compress } from '../lib/pipeline/compress';
import { generateCheckpoint } from '../lib/tools/generate';
import { inspect } from '../lib/pipeline/inspect';
import { SafetensorsFile } from '../lib/io/safetensors';
import { SafetensorsWriter } from '../lib/io/safetensors-writer';
import { toF32 } from '../lib/methods/f32';
import type { TensorFacts } from '../lib/methods/method';
import { parseSpec } from '../lib/methods/registry';
import { vptq, type VptqParams } from '../lib/methods/vptq';
import { runJob } from '../lib/jobs';
import { native } from '../lib/native';
import { Rng } from '../lib/core/random';
import { verify } from '../lib/pipeline/verify';
import { firstDifference, gaussian, packLsbFirst, unpackLsbFirst } from './helpers';
import { splitSafetensors } from './malformed';
import { decompress } from '../lib/pipeline/decompress';
import * as zlib from 'node:zlib';

/** f32 values rounded through f16, as a codebook is stored. */
function f16Round(a: Float32Array): Float32Array {
  const h = new Uint16Array(a.length);
  native.kernelRow('f32_to_f16', { src: a, dst: h });
  const out = new Float32Array(a.length);
  native.kernelRow('f16_to_f32', { src: h, dst: out });
  return out;
}

/** The method on one F32 tensor held in memory: prepare, encode the whole tensor as one chunk, decode. */
async function roundTrip(spec: string, w: Float32Array, shape: number[], opts: { threads?: number; importance?: Float32Array } = {}) {
  const { method, params } = parseSpec(spec);
  const p = method.resolve!(params, shape) as VptqParams;
  const raw = new Uint8Array(w.buffer, w.byteOffset, w.byteLength);
  const facts: TensorFacts = { shape, absMean: 0, absMax: 0 };
  const ctx = { threads: opts.threads ?? 2 };
  const read = async (first: number, count: number) => raw.slice(first * 4, (first + count) * 4);
  facts.tensorStreams = await vptq.prepare!(p, 'F32', { facts, read, importance: opts.importance }, ctx);
  const enc = await vptq.encode(p, 'F32', raw, ctx, { ...facts, first: 0 });
  const decoded = toF32('F32', await vptq.decode(p, 'F32', enc.streams, w.length, ctx, facts.tensorStreams));
  assert.equal(firstDifference(decoded, toF32('F32', enc.decoded!)), -1, 'decode equals the encoder reconstruction');
  return { p, tensorStreams: facts.tensorStreams, streams: enc.streams, decoded };
}

function sqError(w: Float32Array, d: Float32Array, cols: number, col?: (j: number) => boolean): number {
  let e = 0;
  for (let i = 0; i < w.length; i++) if (!col || col(i % cols)) e += (w[i] - d[i]) ** 2;
  return e;
}

describe('vptq', function () {
  this.timeout(120000);

  it('stores indices of every width 1-16 packed LSB first', async () => {
    for (let bits = 1; bits <= 16; bits++) {
      for (const n of [1, 7, 8, 9, 1000]) {
        // v 1: the decoded weight is the labelled centroid, the label that of the nearest centroid.
        const codebook = gaussian(2 ** bits, bits);
        const weights = gaussian(n, 100 + n);
        const labels = new Uint32Array(n);
        native.kernelRow('kmeans_assign', { points: weights, v: 1, centroids: codebook, labels });
        const indices = new Uint8Array(Math.ceil((n * bits) / 8));
        await runJob((progress) => native.vptqEncode({ weights, cols: n, v: 1, codebook, indices, recon: new Float32Array(n) }, progress));
        assert.deepEqual(indices, packLsbFirst(labels, bits), `bits ${bits} n ${n}`);
        const out = new Float32Array(n);
        await runJob((progress) => native.vptqDecode({ out, cols: n, v: 1, codebook, indices }, progress));
        assert.deepEqual(out, Float32Array.from(labels, (l) => codebook[l]), `bits ${bits} n ${n}`);
      }
    }
  });

  it('parses presets and the full form; the canonical form writes every parameter', () => {
    assert.equal(parseSpec('vptq:2').spec, 'vptq:2');
    assert.equal(parseSpec('vptq:2:large').spec, 'vptq:2:large');
    assert.equal(parseSpec('vptq:k4096:v8:r256').spec, 'vptq:v8:k4096:r256:i10');
    assert.equal(parseSpec('vptq:v4:k256:norm:i3').spec, 'vptq:v4:k256:norm:i3');
    for (const [spec, error] of [
      ['vptq', /unknown preset ''/],
      ['vptq:5', /unknown preset '5'/],
      ['vptq:v8', /needs v<N> and k<N>/],
      ['vptq:v8:k1000', /k must be a power of two from 256 to 65536/],
      ['vptq:v8:k128', /k must be a power of two/],
      ['vptq:v17:k256', /v must be from 1 to 16/],
      ['vptq:v8:k256:r3', /residual codebook r must be a power of two/],
      ['vptq:v8:k256:k512', /repeats an option/],
      ['vptq:v8:k256:x', /unknown option 'x'/],
      ['vptq:v8:k256:i0', /iterations must be from 1 to 1000/],
    ] as const)
      assert.throws(() => parseSpec(spec), error, spec);
  });

  it('resolves presets for the tensor: k lowered for small tensors, the full form taken literally', () => {
    const { method, params } = parseSpec('vptq:2');
    assert.equal(method.format(method.resolve!(params, [8960, 1536])), 'vptq:v6:k4096:i10');
    assert.equal(method.format(method.resolve!(params, [704, 256])), 'vptq:v6:k512:i10'); // 30,208 vectors: >= 32 per centroid
    assert.equal(method.format(method.resolve!(parseSpec('vptq:v6:k4096').params, [704, 256])), 'vptq:v6:k4096:i10');
    assert.match(method.unsupported(params, 'BF16', [96, 8])!, /128 vectors of 6 are too few for 256 centroids/);
    assert.match(method.unsupported(params, 'I32', [8960, 1536])!, /vptq encodes F32\/F16\/BF16, not I32/);
    assert.equal(method.unsupported(params, 'BF16', [8960, 1536]), undefined);
  });

  it('gathers vectors down columns, v rows at a time, padding past the last row, normalised', () => {
    const rows = 7, cols = 5, v = 3;
    const w = gaussian(rows * cols, 1);
    const scale = Float32Array.from({ length: cols }, (_, j) => 0.5 + j);
    const bias = Float32Array.from({ length: cols }, (_, j) => j - 2);
    for (const norm of [false, true]) {
      const x = native.vptqGather({ weights: w, cols, v, ...(norm ? { scale, bias } : {}) });
      assert.equal(x.length, Math.ceil(rows / v) * cols * v);
      for (let rb = 0; rb < Math.ceil(rows / v); rb++)
        for (let j = 0; j < cols; j++)
          for (let t = 0; t < v; t++) {
            const r = rb * v + t;
            const want = r >= rows ? 0 : norm ? Math.fround(Math.fround(w[r * cols + j] - bias[j]) / scale[j]) : w[r * cols + j];
            assert.equal(x[(rb * cols + j) * v + t], want, `rb ${rb} j ${j} t ${t}`);
          }
    }
    assert.throws(() => native.vptqGather({ weights: new Float32Array(7), cols: 2, v: 3 }), /whole rows of 2 columns/);
    assert.throws(() => native.vptqGather({ weights: new Float32Array(8), cols: 2, v: 3, scale: new Float32Array(2) }), /bias must be a Float32Array/);
  });

  it('recovers planted clusters exactly', async () => {
    // 256 well-separated f16 centroids of dimension 4; every vector is one of them.
    const v = 4, k = 256, rows = 64, cols = 256;
    const rng = new Rng(5);
    const centres = f16Round(Float32Array.from({ length: k * v }, () => Math.round(rng.normal() * 64) / 8));
    const w = new Float32Array(rows * cols);
    for (let rb = 0; rb < rows / v; rb++)
      for (let j = 0; j < cols; j++) {
        const c = (rb * cols + j) % k;
        for (let t = 0; t < v; t++) w[(rb * v + t) * cols + j] = centres[c * v + t];
      }
    const { decoded } = await roundTrip('vptq:v4:k256:i20', w, [rows, cols]);
    assert.equal(firstDifference(decoded, w), -1);
  });

  it('decodes as the layout states, with residual codebook and normalisation', async () => {
    const rows = 50, cols = 96; // 50 rows: the last row block is padded
    const w = gaussian(rows * cols, 7, 0.02);
    for (let i = 0; i < w.length; i++) w[i] += 0.01 * (i % cols) / cols; // column offsets
    const { p, tensorStreams, streams, decoded } = await roundTrip('vptq:v4:k256:r16:norm:i4', w, [rows, cols]);
    const [c1, c2, scale, bias] = tensorStreams.map((s) => toF32('F16', s));
    const n = Math.ceil(rows / p.v) * cols;
    const l1 = unpackLsbFirst(streams[0], n, 8), l2 = unpackLsbFirst(streams[1], n, 4);
    for (let i = 0; i < rows * cols; i++) {
      const r = Math.floor(i / cols), j = i % cols;
      const vec = Math.floor(r / p.v) * cols + j, t = r % p.v;
      const chat = Math.fround(c1[l1[vec] * p.v + t] + c2[l2[vec] * p.v + t]);
      const want = scale[j] * chat + bias[j]; // fma: at most one rounding away from the double result
      assert.ok(Math.abs(decoded[i] - want) <= Math.abs(want) * 2 ** -23, `element ${i}: ${decoded[i]} vs ${want}`);
    }
    // The indices are the nearest entries of the stored (f16) codebook: the reported error is the real one.
    const x = native.vptqGather({ weights: w, cols, v: p.v, scale, bias });
    const nearest = new Uint32Array(n);
    native.kernelRow('kmeans_assign', { points: x, v: p.v, centroids: c1, labels: nearest }, 'scalar');
    assert.equal(firstDifference(nearest, l1), -1);
  });

  it('a residual codebook and more iterations lower the error; normalisation helps columns of unequal scale', async () => {
    const rows = 96, cols = 512;
    const w = gaussian(rows * cols, 11, 0.02);
    const err = async (spec: string, x = w) => sqError(x, (await roundTrip(spec, x, [rows, cols])).decoded, cols);
    const plain = await err('vptq:v6:k256:i2');
    assert.ok((await err('vptq:v6:k256:r256:i2')) < 0.8 * plain);
    assert.ok((await err('vptq:v6:k256:i10')) < plain);
    const skewed = w.map((x, i) => x * (i % cols < cols / 2 ? 20 : 1) + (i % 7 === 0 ? 0 : 0.05 * Math.sin(i % cols)));
    assert.ok((await err('vptq:v6:k256:norm:i6', skewed)) < (await err('vptq:v6:k256:i6', skewed)));
  });

  it('importance weights move the error off the important columns', async () => {
    const rows = 96, cols = 512;
    const w = gaussian(rows * cols, 13, 0.02);
    const importance = Float32Array.from({ length: cols }, (_, j) => (j < 64 ? 100 : 1));
    const important = (j: number) => j < 64;
    const plain = (await roundTrip('vptq:v6:k256:i6', w, [rows, cols])).decoded;
    const weighted = (await roundTrip('vptq:v6:k256:i6', w, [rows, cols], { importance })).decoded;
    assert.ok(sqError(w, weighted, cols, important) < 0.7 * sqError(w, plain, cols, important));
    const total = (d: Float32Array) => sqError(w, d, cols, (j) => !important(j)) + 100 * sqError(w, d, cols, important);
    assert.ok(total(weighted) < total(plain), 'the weighted objective is lower');
  });

  it('gives the same bytes on 1 and 2 threads', async () => {
    const rows = 64, cols = 384;
    const w = gaussian(rows * cols, 17, 0.02);
    const a = await roundTrip('vptq:v4:k256:r64:norm:i5', w, [rows, cols], { threads: 1 });
    const b = await roundTrip('vptq:v4:k256:r64:norm:i5', w, [rows, cols], { threads: 2 });
    assert.deepEqual([...a.tensorStreams, ...a.streams], [...b.tensorStreams, ...b.streams]);
  });

  it('refuses codebooks of other sizes than powers of two, short indices and a residual without its indices', async () => {
    const out = new Float32Array(8);
    const c = new Float32Array(8); // k 2, v 4
    assert.throws(() => native.vptqDecode({ out, cols: 2, v: 4, codebook: new Float32Array(12), indices: new Uint8Array(1) }), /codebook must hold a power of two/);
    assert.throws(() => native.vptqDecode({ out, cols: 2, v: 4, codebook: c, indices: new Uint8Array(0) }), /indices must hold 1 bytes \(2 labels of 1 bits\), got 0/);
    assert.throws(() => native.vptqDecode({ out, cols: 2, v: 4, codebook: c, residual: c, indices: new Uint8Array(1) }), /indices2 must be given exactly when/);
  });

  describe('in the pipeline', () => {
    let dir: string;
    let model: string;
    const out = (name: string) => path.join(dir, name);
    before(async () => {
      dir = await mkdtemp(path.join(os.tmpdir(), 'tz-vptq-'));
      model = out('m');
      await generateCheckpoint(model, { hidden: 128, intermediate: 352, vocab: 512, layers: 1 });
    });
    after(() => rm(dir, { recursive: true, force: true }));

    it('compress --method vptq:2 stores codebooks once per tensor, with exact bit accounting, and verifies', async () => {
      const r = await compress(model, out('v.tzip'), { method: 'vptq:2', lzma: 'off' });
      const up = r.tensors.find((t) => t.name.endsWith('mlp.up_proj.weight'))!;
      assert.equal(up.method, 'vptq:v6:k256:i10');
      // 352x128: 59 row blocks x 128 columns = 7552 indices of 8 bits, a 256x6 f16 codebook.
      assert.equal(up.storedBytes, 7552 + 256 * 6 * 2);
      assert.equal(up.nominalBitsPerWeight, (8 * up.storedBytes) / (352 * 128));
      assert.ok(up.metrics!.relativeError < 0.45, `${up.metrics!.relativeError}`);
      const v = await verify(out('v.tzip'), model);
      assert.ok(v.ok, v.problems.join('; '));
      const again = await compress(model, out('v2.tzip'), { method: 'vptq:2', lzma: 'off', threads: 1 });
      assert.equal(again.containerBytes, r.containerBytes);
    });

    it('refuses containers whose tensor streams are missing, mislabelled, mis-sized or hold a non-finite codebook', async () => {
      const valid = await readFile(out('v.tzip')); // lzma off: every piece raw
      const edit = (c: Buffer, f: (t: any, header: any) => void) =>
        splitSafetensors(c, (h) => {
          const m = JSON.parse(h.__metadata__.tensorzip);
          f(m.tensors.find((t: any) => t.tensorStreams), h);
          h.__metadata__.tensorzip = JSON.stringify(m);
        });
      const nanCodebook = (): Buffer => {
        const n = Number(valid.readBigUInt64LE(0));
        const header = JSON.parse(valid.subarray(8, 8 + n).toString('utf8'));
        const name = Object.keys(header).find((k) => k.endsWith(':tz:tensor:codebook'))!;
        const [b, e] = header[name].data_offsets;
        const out = Buffer.from(valid);
        out.writeUInt16LE(0x7e00, 8 + n + b); // f16 NaN
        return edit(out, (t) => (t.tensorPieces[0].crc32 = zlib.crc32(out.subarray(8 + n + b, 8 + n + e))));
      };
      const cases: Array<[string, Buffer, RegExp]> = [
        ['no tensorPieces', edit(valid, (t) => delete t.tensorPieces), /tensorPieces must be an array/],
        ['no tensorStreams', edit(valid, (t) => delete t.tensorStreams), /tensorStreams must be \["codebook"\]/],
        ['codebook size', edit(valid, (t) => (t.tensorPieces[0].rawBytes += 2)), /codebook: rawBytes \d+ does not match/],
        ['codebook piece missing', splitSafetensors(valid, (h) => delete h[Object.keys(h).find((k) => k.endsWith(':tz:tensor:codebook'))!]), /:tz:tensor:codebook" is missing/],
        ['preset not resolved', edit(valid, (t) => (t.method = 'vptq:2')), /is not resolved for its shape/],
        ['NaN in the codebook', nanCodebook(), /tensor model\.layers\.0\.\S+: vptq: the stored codebook holds a non-finite value \(corrupted container\)/],
      ];
      for (const [what, bytes, error] of cases) {
        await writeFile(out('bad.tzip'), bytes);
        await assert.rejects(decompress(out('bad.tzip'), out('bad-out')), error, what);
        assert.ok(!(await readdir(dir)).includes('bad-out'), what);
      }
      await rm(out('bad.tzip'));
    });

    it('--importance: weights the k-means, is recorded, and bad files are refused before any output', async () => {
      const st = await SafetensorsFile.open(path.join(model, 'model.safetensors'));
      const weights = st.header.tensors.filter((t) => t.shape.length === 2);
      await st.close();
      const write = async (file: string, entries: Array<{ name: string; dtype?: 'F32' | 'F16'; values: Float32Array }>) => {
        const w = await SafetensorsWriter.create(file, entries.map((e) => ({ name: e.name, dtype: e.dtype ?? 'F32', shape: [e.values.byteLength / (e.dtype === 'F16' ? 2 : 4)] })));
        for (const e of entries) await w.write(new Uint8Array(e.values.buffer));
        await w.finish();
      };
      const good = weights.map((t) => ({ name: t.name, values: Float32Array.from({ length: t.shape[1] }, (_, j) => 1 + (j % 5)) }));
      await write(out('imp.safetensors'), good);
      const r = await compress(model, out('i.tzip'), { method: 'vptq:2', importance: out('imp.safetensors') });
      const plain = await compress(model, out('p.tzip'), { method: 'vptq:2' });
      assert.ok(r.tensors.some((t, i) => t.method.startsWith('vptq') && t.metrics!.relativeError !== plain.tensors[i].metrics!.relativeError), 'the weights changed the codebooks');
      assert.ok((await verify(out('i.tzip'), model)).ok);
      assert.equal((await inspect(out('i.tzip'))).meta.options.importance, 'imp.safetensors');
      const up = weights.find((t) => t.name.endsWith('up_proj.weight'))!;
      const cases: Array<[string, Array<{ name: string; dtype?: 'F32' | 'F16'; values: Float32Array }>, RegExp]> = [
        ['shape', [{ name: up.name, values: new Float32Array(7) }], /must be F32 \[128\] \(one value per input column of \[352, 128\]\), got F32 \[7\]/],
        ['dtype', [{ name: up.name, dtype: 'F16', values: new Float32Array(64) }], /must be F32 \[128\].*got F16 \[128\]/],
        ['name', [{ name: 'not.a.tensor', values: new Float32Array(4) }], /importance entry not\.a\.tensor is not a tensor of the model/],
        ['value', [{ name: up.name, values: Float32Array.from({ length: 128 }, (_, j) => (j === 3 ? -1 : 1)) }], /has -1 at column 3 \(values must be finite and >= 0\)/],
      ];
      for (const [what, entries, error] of cases) {
        await write(out(`bad-${what}.safetensors`), entries);
        await assert.rejects(compress(model, out('bad.tzip'), { method: 'vptq:2', importance: out(`bad-${what}.safetensors`) }), error, what);
      }
      await assert.rejects(compress(model, out('bad.tzip'), { method: 'vptq:2', importance: path.join(model, 'config.json') }), /not a valid importance file/);
      await assert.rejects(compress(model, out('bad.tzip'), { method: 'vptq:2', importance: out('missing.safetensors') }), /cannot read importance file \(no such file\)/);
      assert.ok(!(await readdir(dir)).some((f) => f.startsWith('bad.tzip')), 'no partial output');
    });

    it('an interrupted vptq run resumes to the same container', async () => {
      const controller = new AbortController();
      const p = compress(model, out('a.tzip'), { method: 'vptq:2', signal: controller.signal, onProgress: (x) => x.tensorIndex >= 4 && controller.abort() });
      await assert.rejects(p, (e: Error) => e.name === 'AbortError');
      await compress(model, out('a.tzip'), { method: 'vptq:2', resume: true });
      await compress(model, out('b.tzip'), { method: 'vptq:2' });
      assert.ok((await readFile(out('a.tzip'))).equals(await readFile(out('b.tzip'))));
    });
  });
});
