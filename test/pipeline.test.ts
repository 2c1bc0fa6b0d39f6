// compress -> container -> decompress / verify / inspect / readTensor, through the library API,
// on generated checkpoints: exactness, measured errors, determinism, policy, NaN routing,
// cancellation and random access.
import { strict as assert } from 'node:assert';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { compress, type CompressOptions } from '../lib/pipeline/compress';
import { decompress } from '../lib/pipeline/decompress';
import { generateCheckpoint } from '../lib/tools/generate';
import { inspect, readTensor } from '../lib/pipeline/inspect';
import { SafetensorsFile } from '../lib/io/safetensors';
import { SafetensorsWriter } from '../lib/io/safetensors-writer';
import { verify } from '../lib/pipeline/verify';
import { spawnSync } from 'node:child_process';
import { cliPath } from './helpers';
import { editMeta } from './malformed';

async function filesEqual(a: string, b: string): Promise<boolean> {
  return (await readFile(a)).equals(await readFile(b));
}

describe('compress / decompress / verify', function () {
  this.timeout(120000);
  let dir: string;
  let model: string; // sharded bf16 directory
  const out = (name: string) => path.join(dir, name);

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'tz-pipe-'));
    model = out('model');
    await generateCheckpoint(model, { shards: 2, hidden: 128, intermediate: 352, vocab: 1024, layers: 2 });
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('lossless: every file of a sharded directory comes back byte for byte', async () => {
    const r = await compress(model, out('l.tzip'), { method: 'lossless' });
    assert.ok(r.ratio > 1.2 && r.ratio < 2, `bf16 lossless ratio ${r.ratio}`);
    assert.equal(r.lossy, null);
    await decompress(out('l.tzip'), out('l-out'));
    const names = (await readdir(model)).sort();
    assert.deepEqual((await readdir(out('l-out'))).sort(), names);
    for (const f of names) assert.ok(await filesEqual(path.join(model, f), path.join(out('l-out'), f)), f);
    const v = await verify(out('l.tzip'), model);
    assert.ok(v.ok, v.problems.join('; '));
  });

  for (const dtype of ['F16', 'F32'] as const) {
    it(`lossless ${dtype} single file round-trips exactly`, async () => {
      const src = out(`m-${dtype}`);
      await generateCheckpoint(src, { dtype, hidden: 64, intermediate: 176, vocab: 256, layers: 1 });
      const file = path.join(src, 'model.safetensors');
      await compress(file, out(`${dtype}.tzip`));
      await decompress(out(`${dtype}.tzip`), out(`${dtype}-out.safetensors`));
      assert.ok(await filesEqual(file, out(`${dtype}-out.safetensors`)));
    });
  }

  it('carries every other dtype, zero-size tensors and NaN payloads losslessly', async () => {
    const file = out('mixed.safetensors');
    const tensors = [
      { name: 'a.f64', dtype: 'F64' as const, shape: [3] },
      { name: 'b.i64', dtype: 'I64' as const, shape: [2] },
      { name: 'c.nan', dtype: 'F32' as const, shape: [64, 64] },
      { name: 'd.i16', dtype: 'I16' as const, shape: [3] },
      { name: 'e.u8', dtype: 'U8' as const, shape: [5] },
      { name: 'f.bool', dtype: 'BOOL' as const, shape: [2] },
      { name: 'g.f8', dtype: 'F8_E4M3' as const, shape: [3] },
      { name: 'h.empty', dtype: 'BF16' as const, shape: [0] },
    ];
    const w = await SafetensorsWriter.create(file, tensors);
    await w.write(new Uint8Array(new Float64Array([Math.PI, -0, 1e300]).buffer));
    await w.write(new Uint8Array(new BigInt64Array([-1n, 2n ** 62n]).buffer));
    const c = new Float32Array(4096).map((_, i) => Math.sin(i));
    new Uint32Array(c.buffer)[7] = 0x7fa00001; // signalling NaN with payload
    c[9] = Infinity;
    await w.write(new Uint8Array(c.buffer));
    for (const bytes of [6, 5, 2, 3]) await w.write(Uint8Array.from({ length: bytes }, (_, i) => i * 37 + 1));
    await w.finish();
    const r = await compress(file, out('mixed.tzip'), { method: 'rtn:4' });
    const nan = r.tensors.find((t) => t.name === 'c.nan')!;
    assert.equal(nan.method, 'lossless');
    assert.match(nan.note!, /2 NaN\/Inf values: stored lossless instead of rtn:4:g32/);
    await decompress(out('mixed.tzip'), out('mixed-out.safetensors'));
    assert.ok(await filesEqual(file, out('mixed-out.safetensors')));
    await assert.rejects(compress(file, out('mixed-err.tzip'), { method: 'rtn:4', nonFinite: 'error' }), /c\.nan: 2 NaN\/Inf values/);
    assert.ok(!(await readdir(dir)).some((f) => f.startsWith('mixed-err') || f.startsWith('.mixed-err')), 'no output or temp file left');
  });

  it('rtn:8 and rtn:4:g32 verify, with errors that match their bit widths', async () => {
    for (const [spec, lo, hi, bpw] of [['rtn:8', 1e-3, 2e-2, 8.125], ['rtn:4:g32', 0.05, 0.2, 4.5]] as const) {
      const file = out(`${spec}.tzip`);
      const r = await compress(model, file, { method: spec });
      const mlp = r.tensors.find((t) => t.name.endsWith('mlp.up_proj.weight'))!;
      assert.equal(mlp.method, spec === 'rtn:8' ? 'rtn:8:g128' : spec);
      assert.equal(mlp.nominalBitsPerWeight, bpw);
      assert.ok(mlp.metrics!.relativeError > lo && mlp.metrics!.relativeError < hi, `${spec}: ${mlp.metrics!.relativeError}`);
      assert.ok(mlp.metrics!.cosine > 0.97);
      assert.equal(r.tensors.find((t) => t.name.endsWith('input_layernorm.weight'))!.method, 'lossless');
      assert.equal(r.tensors.find((t) => t.name === 'lm_head.weight')!.method, 'rtn:8:g128');
      const v = await verify(file, model);
      assert.ok(v.ok, v.problems.join('; '));
      assert.equal(v.tensors.find((t) => t.name === mlp.name)!.metrics!.relativeError, mlp.metrics!.relativeError);
      // The decompressed model has the original names, dtypes and shapes.
      await decompress(file, out(`${spec}-out`));
      const a = await SafetensorsFile.open(path.join(model, 'model-00001-of-00002.safetensors'));
      const b = await SafetensorsFile.open(path.join(out(`${spec}-out`), 'model-00001-of-00002.safetensors'));
      assert.deepEqual(b.header.tensors.map(({ name, dtype, shape }) => ({ name, dtype, shape })), a.header.tensors.map(({ name, dtype, shape }) => ({ name, dtype, shape })));
      await a.close();
      await b.close();
    }
  });

  it('is deterministic: same input and options give byte-identical containers, whatever the thread count', async () => {
    const opts: CompressOptions = { method: 'rtn:4:g32' };
    await compress(model, out('d1.tzip'), { ...opts, threads: 1 });
    await compress(model, out('d2.tzip'), { ...opts, threads: 2 });
    await compress(model, out('d3.tzip'), { ...opts, threads: 3 });
    assert.ok(await filesEqual(out('d1.tzip'), out('d2.tzip')));
    assert.ok(await filesEqual(out('d1.tzip'), out('d3.tzip')));
  });

  it('reads one tensor without decoding the others', async () => {
    const t = await readTensor(out('l.tzip'), 'model.layers.1.mlp.down_proj.weight');
    const src = await SafetensorsFile.open(path.join(model, 'model-00002-of-00002.safetensors'));
    const entry = src.tensor('model.layers.1.mlp.down_proj.weight')!;
    assert.ok(Buffer.from(t.data).equals(await src.read(entry)));
    assert.deepEqual(t.shape, entry.shape);
    await src.close();
    await assert.rejects(readTensor(out('l.tzip'), 'nope'), /no tensor named "nope"/);
  });

  it('applies policy rules (first match wins) and checks every spec before any work', async () => {
    const r = await compress(model, out('p.tzip'), {
      method: 'rtn:4',
      policy: { '*.mlp.down_proj.*': 'rtn:6:g64', '*.self_attn.*': 'lossless', 'lm_head.weight': 'rtn:3' },
    });
    const by = (suffix: string) => r.tensors.find((t) => t.name.endsWith(suffix))!.method;
    assert.equal(by('mlp.down_proj.weight'), 'rtn:6:g64');
    assert.equal(by('self_attn.q_proj.weight'), 'lossless');
    assert.equal(by('mlp.up_proj.weight'), 'rtn:4:g32');
    assert.equal(by('lm_head.weight'), 'rtn:3:g32');
    const i = await inspect(out('p.tzip'));
    assert.deepEqual(i.meta.options.policy, { '*.mlp.down_proj.*': 'rtn:6:g64', '*.self_attn.*': 'lossless', 'lm_head.weight': 'rtn:3:g32' });
    await assert.rejects(compress(model, out('bad.tzip'), { policy: { '*': 'vq:2' } }), /pattern "\*": unknown method 'vq'/);
    await assert.rejects(compress(model, out('bad.tzip'), { method: 'rtn:1' }), /rtn bits must be an integer from 2 to 8/);
    assert.ok(!(await readdir(dir)).some((f) => f.includes('bad.tzip')));
  });

  it('stops on abort, leaving no output and no temp files; --resume then finishes the same container', async () => {
    const controller = new AbortController();
    const opts: CompressOptions = { method: 'rtn:4' };
    const p = compress(model, out('abort.tzip'), {
      ...opts,
      signal: controller.signal,
      onProgress: (x) => x.tensorIndex >= 3 && controller.abort(),
    });
    await assert.rejects(p, (e: Error) => e.name === 'AbortError' && /run again with --resume/.test(e.message));
    // Only the progress sidecar and its data stay: the tensors finished before the interruption.
    assert.deepEqual((await readdir(dir)).filter((f) => f.includes('abort.tzip')).sort(), ['abort.tzip.resume', 'abort.tzip.resume.data']);
    const sidecar = await readFile(out('abort.tzip.resume'));
    assert.ok(sidecar.includes('"kind":"tensor"'), 'at least one finished tensor was kept');
    // A torn last write is dropped on resume, in the log and in the data.
    await writeFile(out('abort.tzip.resume'), sidecar.subarray(0, sidecar.length - 3));
    const data = await readFile(out('abort.tzip.resume.data'));
    await writeFile(out('abort.tzip.resume.data'), data.subarray(0, data.length - 5));
    const r = await compress(model, out('abort.tzip'), { ...opts, resume: true });
    assert.ok(r.tensors.length > 3);
    await compress(model, out('whole.tzip'), opts);
    assert.ok(await filesEqual(out('abort.tzip'), out('whole.tzip')), 'resumed container equals an uninterrupted one');
    assert.deepEqual((await readdir(dir)).filter((f) => f.includes('abort.tzip')), ['abort.tzip'], 'sidecar removed on success');
  });

  it('--resume refuses a sidecar from other options or a damaged one, and starts fresh without one', async () => {
    const controller = new AbortController();
    const p = compress(model, out('r.tzip'), { method: 'rtn:4', signal: controller.signal, onProgress: (x) => x.tensorIndex >= 3 && controller.abort() });
    await assert.rejects(p, { name: 'AbortError' });
    await assert.rejects(compress(model, out('r.tzip'), { method: 'rtn:6', resume: true }), /r\.tzip\.resume was written for a different input or different options/);
    // Flip a byte inside the first stored piece (the first data byte after the header's room):
    // the resumed run must notice, not reuse it.
    const sidecar = await readFile(out('r.tzip.resume'));
    const { reserve } = JSON.parse(sidecar.subarray(0, sidecar.indexOf(0x0a)).toString('utf8'));
    const data = await readFile(out('r.tzip.resume.data'));
    data[reserve] ^= 0xff;
    await writeFile(out('r.tzip.resume.data'), data);
    await assert.rejects(compress(model, out('r.tzip'), { method: 'rtn:4', resume: true }), /a stored piece of .* is corrupt/);
    await rm(out('r.tzip.resume.data'));
    await assert.rejects(compress(model, out('r.tzip'), { method: 'rtn:4', resume: true }), /r\.tzip\.resume does not go with .*r\.tzip\.resume\.data; remove both, or run without --resume/);
    await writeFile(out('r.tzip.resume'), 'not a resume file\n');
    await assert.rejects(compress(model, out('r.tzip'), { method: 'rtn:4', resume: true }), /not a tensorzip resume file/);
    await rm(out('r.tzip.resume'));
    await compress(model, out('r.tzip'), { method: 'rtn:4', resume: true });
    assert.deepEqual((await readdir(dir)).filter((f) => f.startsWith('r.tzip')), ['r.tzip']);
  });


  it('verify without --against tests the container alone (as xz -t): exit 0, or 1 with the problem in words', async () => {
    const file = out('rtn:8.tzip');
    const run = (...args: string[]) => spawnSync(process.execPath, [cliPath, 'verify', ...args], { encoding: 'utf8' });
    let r = run(file);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /ok \(decoded\)/);
    assert.doesNotMatch(r.stdout, /exact +inf/, 'no figures that were not measured');
    assert.match(r.stdout, /verify: OK \(every checksum matched, every piece decoded, the recorded figures consistent; no original compared\)/);
    const good = await readFile(file);
    // Recorded figures that contradict each other.
    const lied = out('lied.tzip');
    await writeFile(lied, editMeta(good, (m) => (m.tensors.find((t: { metrics?: unknown }) => t.metrics).metrics.snrDb += 3)));
    r = run(lied);
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /records error figures that disagree with each other \(relative error [0-9.e-]+, SNR [0-9.]+ dB, max \|error\| [0-9.e-]+, cosine [0-9.]+\)/);
    assert.match(r.stdout, /FAILED +- +- +- +-/, 'a failed row shows no figures');
    // Stored bytes that do not add up.
    const padded = out('padded.tzip');
    await writeFile(padded, editMeta(good, (m) => (m.tensors[0].storedBytes += 1)));
    assert.match(run(padded).stdout, /records \d+ stored bytes, but its pieces hold \d+/);
    // A corrupted piece: decoding fails, one line, exit 1.
    const flipped = Buffer.from(good);
    flipped[flipped.length - 100] ^= 0xff;
    await writeFile(out('flipped.tzip'), flipped);
    r = run(out('flipped.tzip'));
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^tensorzip: .*(checksum mismatch|corrupted container)/);
    // A container given as the original.
    r = run(file, '--against', out('l.tzip'));
    assert.equal(r.status, 1);
    assert.match(r.stderr, /--against .*l\.tzip is a tensorzip container, not an original model/);
    // Against the original, a difference in the figures is said in words, not JSON.
    const shifted = out('shifted.tzip');
    await writeFile(shifted, editMeta(good, (m) => (m.tensors.find((t: { metrics?: unknown }) => t.metrics).metrics.relativeError *= 2)));
    const w = await verify(shifted, model);
    assert.equal(w.ok, false);
    assert.match(w.problems.join('\n'), /measured relative error [0-9.e-]+, SNR .*; recorded relative error/);
    assert.doesNotMatch(w.problems.join('\n'), /[{}]/);
  });

  it('verify fails when the original changed or a file differs', async () => {
    const copy = out('copy');
    await decompress(out('l.tzip'), copy);
    await writeFile(path.join(copy, 'config.json'), '{}\n');
    const v = await verify(out('l.tzip'), copy);
    assert.equal(v.ok, false);
    assert.deepEqual(v.problems, ['file config.json: content differs from the original']);
  });
});
