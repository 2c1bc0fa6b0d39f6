// compress --device: the GPU paths of the backend table (binding/backend_table.cc: rtn, ternary,
// seedlm's search, vptq's k-means, the rotation of :rot, the rANS decoder and encoder) and its
// fallbacks to the CPU, driven end to end on a machine without a GPU through the stand-in driver
// and a stand-in libtensorzip_cuda answered by the CPU kernels (test/fixtures). What this checks
// is everything but the CUDA kernels: device choice, the calls' buffers and results, and that the
// container is the CPU's byte for byte.
// The CUDA kernels themselves are checked against the CPU references by the standalone harness
// (scripts/gpu-check.sh) on a GPU machine.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { generateCheckpoint } from '../lib/tools/generate';
import { cliPath, root } from './helpers';

const fixtures = path.join(root, 'build', 'test-fixtures');
const standIn = { TENSORZIP_LIBCUDA: path.join(fixtures, 'libtensorzip_fake_libcuda.so'), TENSORZIP_CUDA_LIBRARY: path.join(fixtures, 'libtensorzip_cpu_cuda_library.so') };

/** Source text for the child scripts of the rANS tests: seeded skewed codes of `bits` bits in
 * `contexts` contexts, and their LSB-first packing into `bytes` bytes. */
const codeSource = (seed: number) => `
      let seed = ${seed};
      const random = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
      const codes = (n, bits, contexts) => Array.from({ length: n }, (_, i) => {
        let v = 0;
        while (v < (1 << bits) - 1 && random() < (1 + (i % contexts)) / (4 + (i % contexts))) v++;
        return (v + 5 * (i % contexts)) & ((1 << bits) - 1);
      });
      const pack = (c, bits, bytes) => {
        const out = new Uint8Array(bytes);
        c.forEach((v, i) => { for (let b = 0; b < bits; b++) if (((v >> b) & 1) && ((i * bits + b) >> 3) < bytes) out[(i * bits + b) >> 3] |= 1 << ((i * bits + b) & 7); });
        return out;
      };
`;

function cli(env: Record<string, string>, ...args: string[]) {
  return spawnSync(process.execPath, [cliPath, ...args], { cwd: root, encoding: 'utf8', env: { ...process.env, TENSORZIP_CUDA: '', ...env } });
}

describe('compress --device (GPU paths through a CPU stand-in of the CUDA library)', function () {
  this.timeout(120_000); // the CPU reference's exhaustive search is slow on the scalar path
  let tmp: string, model: string, policy: string;
  const out = (name: string) => path.join(tmp, name);

  before(async function () {
    if (!existsSync(standIn.TENSORZIP_CUDA_LIBRARY) || !existsSync(standIn.TENSORZIP_LIBCUDA)) this.skip();
    tmp = await mkdtemp(path.join(os.tmpdir(), 'tz-gpu-path-'));
    model = out('m');
    await generateCheckpoint(model, { hidden: 32, intermediate: 64, layers: 1, heads: 2, kvHeads: 1, vocab: 256 });
    // Every GPU path: the exhaustive search at both shapes, k-means training and assignment with a
    // residual codebook and normalisation, rtn, ternary with group scales refined (:opt, the
    // BF16 weights widened for the kernels) and with a tensor scale, and the approximate search
    // (which stays on the CPU).
    policy = out('policy.json');
    await writeFile(policy, JSON.stringify({
      '*.q_proj.*': 'seedlm:4',
      '*.k_proj.*': 'seedlm:3',
      '*.v_proj.*': 'seedlm:4:fast',
      '*.mlp.*': 'vptq:v4:k256:r256:norm:i4',
      '*.o_proj.*': 'vptq:v4:k256:i4',
      '*embed_tokens*': 'rtn:3:g16',
      'lm_head*': 'ternary:g48:p2:opt',
      '*norm*': 'ternary:tensor',
    }));
  });

  after(async () => {
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('the stand-in GPU writes the container the CPU writes, byte for byte; auto picks the GPU', async () => {
    const cpu = cli(standIn, 'compress', model, '-o', out('cpu.tzip'), '--policy', policy, '--device', 'cpu', '--json');
    assert.equal(cpu.status, 0, cpu.stderr);
    assert.match(JSON.parse(cpu.stdout).device, /^cpu \(/);
    for (const device of ['cuda', 'auto']) {
      const calls = out(`${device}.calls`);
      const r = cli({ ...standIn, STAND_IN_CALLS: calls }, 'compress', model, '-o', out(`${device}.tzip`), '--policy', policy, '--device', device, '--json');
      assert.equal(r.status, 0, r.stderr);
      // seedlm:4 and seedlm:3 search on the GPU (seedlm:4:fast does not); vptq trains and assigns
      // there: 2 trainings (codebook, residual) and 1 residual-training assignment for the mlp
      // tensors and 1 training for o_proj, then per chunk one assignment (two with the residual);
      // rtn and ternary encode each chunk there (one chunk per tensor: embed_tokens; lm_head; the
      // three norms); the same job decodes it on the CPU for the error metrics.
      const counts = new Map<string, number>();
      for (const line of (await readFile(calls, 'utf8')).trim().split('\n')) counts.set(line, (counts.get(line) ?? 0) + 1);
      assert.deepEqual(Object.fromEntries(counts), {
        'tzc_seedlm_search 0': 2, 'tzc_kmeans_lloyd 0': 7, 'tzc_kmeans_assign 0': 10,
        'tzc_rtn_encode 0': 1, 'tzc_ternary_encode 0': 4, 'tzc_rans_encode 0': 1,
      });
      // The kernels without a CUDA version, or a call their CUDA version cannot take, ran on the
      // CPU, and the report says which and why.
      assert.match(JSON.parse(r.stdout).device, /^cuda:0 \(CPU stand-in 0\) \+ cpu \([a-z0-9]+, [0-9]+ threads\); on the CPU: seedlm decode \(no CUDA kernel\), seedlm search \(no CUDA kernel for the approximate search, :fast\)$/);
      assert.ok((await readFile(out(`${device}.tzip`))).equals(await readFile(out('cpu.tzip'))), device);
    }
    const second = cli({ ...standIn, FAKE_CUDA_DEVICES: '2' }, 'compress', model, '-o', out('second.tzip'), '--policy', policy, '--device', 'cuda:1', '--json');
    assert.equal(second.status, 0, second.stderr);
    assert.match(JSON.parse(second.stdout).device, /^cuda:1 \(CPU stand-in 1\)/);
    assert.ok((await readFile(out('second.tzip'))).equals(await readFile(out('cpu.tzip'))));
  });

  it('decompress and verify --device cuda: the files the CPU writes, with the decoders on the GPU', async () => {
    const container = out('cpu.tzip');
    const cpu = cli(standIn, 'decompress', container, '-o', out('cpu-out'), '--device', 'cpu', '--json');
    assert.equal(cpu.status, 0, cpu.stderr);
    assert.match(JSON.parse(cpu.stdout).device, /^cpu \(/);
    const calls = out('decompress.calls');
    const gpu = cli({ ...standIn, STAND_IN_CALLS: calls }, 'decompress', container, '-o', out('gpu-out'), '--device', 'cuda', '--json');
    assert.equal(gpu.status, 0, gpu.stderr);
    assert.match(JSON.parse(gpu.stdout).device, /^cuda:0 \(CPU stand-in 0\) \+ cpu \(/);
    const called = new Set((await readFile(calls, 'utf8')).trim().split('\n'));
    for (const c of ['tzc_rans_decode 0', 'tzc_rtn_decode 0', 'tzc_ternary_decode 0']) assert.ok(called.has(c), `${c} in ${[...called]}`);
    for (const f of JSON.parse(cpu.stdout).files) assert.ok((await readFile(path.join(out('gpu-out'), f))).equals(await readFile(path.join(out('cpu-out'), f))), f);
    const v = cli(standIn, 'verify', container, '--against', model, '--device', 'cuda', '--json');
    assert.equal(v.status, 0, v.stderr);
    assert.equal(JSON.parse(v.stdout).ok, true);
    const none = cli({ TENSORZIP_LIBCUDA: path.join(tmp, 'no-such-driver.so') }, 'decompress', container, '-o', out('none-out'), '--device', 'cuda');
    assert.equal(none.status, 2);
    assert.match(none.stderr, /--device cuda: CUDA is not available \(no NVIDIA driver/);
    assert.ok(!existsSync(out('none-out')));
  });

  it('refuses a GPU that is not there, and a malformed --device, leaving no output', () => {
    let r = cli(standIn, 'compress', model, '-o', out('x.tzip'), '--device', 'cuda:1');
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--device cuda:1: there is 1 GPU \(cuda:0\)/);
    r = cli({ TENSORZIP_LIBCUDA: path.join(tmp, 'no-such-driver.so') }, 'compress', model, '-o', out('x.tzip'), '--device', 'cuda');
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--device cuda: CUDA is not available \(no NVIDIA driver/);
    r = cli({ TENSORZIP_LIBCUDA: path.join(tmp, 'no-such-driver.so') }, 'compress', model, '-o', out('auto-no-driver.tzip'), '--device', 'auto', '--json');
    assert.equal(r.status, 0, r.stderr);
    assert.match(JSON.parse(r.stdout).device, /^cpu \(/);
    r = cli(standIn, 'compress', model, '-o', out('x.tzip'), '--device', 'gpu');
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--device must be auto, cpu, cuda or cuda:N/);
    assert.ok(!existsSync(out('x.tzip')));
  });

  it('a GPU call that fails reports the library\'s message', () => {
    // The stand-in has no conversion kernel: the error comes back through CheckCuda.
    const r = spawnSync(process.execPath, ['-e', `
      const { native } = require(${JSON.stringify(path.join(root, 'dist', 'lib', 'native.js'))});
      const job = native.convert({ kind: 'f32_to_bf16', src: new Float32Array(4), dst: new Uint16Array(4), device: { cuda: 0 } });
      job.promise.then(() => console.log('resolved'), (e) => console.log('rejected: ' + e.message));
    `], { encoding: 'utf8', env: { ...process.env, ...standIn } });
    assert.equal(r.stdout.trim(), 'rejected: conversion failed on the GPU: stand-in: no conversion');
  });

  it('rtn and ternary on the GPU: importance weighting runs on the CPU, saying so; an overflowing scale is refused as on the CPU', () => {
    const r = spawnSync(process.execPath, ['-e', `
      const { native } = require(${JSON.stringify(path.join(root, 'dist', 'lib', 'native.js'))});
      const heard = [];
      const device = { cuda: 0, onFallback: (c, why) => heard.push(c + ': ' + why) };
      const w = Float32Array.from({ length: 64 }, (_, i) => Math.sin(i));
      const rtn = (weights, extra) => native.rtnEncode({ weights, bits: 4, group: 32, codes: new Uint8Array(32), scales: new Uint16Array(2), ...extra });
      const ternary = (weights, extra) => native.ternaryEncode({ weights, dtype: 'F32', group: 32, packing: 3, rounds: 3, packed: new Uint8Array(13), scales: new Uint16Array(2), ...extra });
      const huge = Float32Array.from(w, (x, i) => (i === 40 ? 1e9 : x));
      const message = (job) => job.promise.then(() => 'resolved', (e) => e.message);
      (async () => {
        await rtn(w, { importance: new Float32Array(64).fill(1), device }).promise;
        await ternary(w, { importance: new Float32Array(64).fill(1), device }).promise;
        console.log(heard.join('; '));
        console.log(await message(rtn(huge, { device })) === await message(rtn(huge, {})));
        console.log(await message(rtn(huge, {})));
        console.log(await message(ternary(huge, { device })) === await message(ternary(huge, {})));
      })();
    `], { encoding: 'utf8', env: { ...process.env, ...standIn, STAND_IN_CALLS: out('weighted.calls') } });
    assert.equal(r.stdout, [
      'rtn encode: no CUDA kernel for importance weighting; ternary encode: no CUDA kernel for importance weighting',
      'true',
      "rtn: a group's scale (max |w| = 1000000000.000000) overflows f16",
      'true',
      '',
    ].join('\n'), r.stderr);
    // The weighted encodes did not call the library; the overflowing ones did.
    assert.equal(readFileSync(out('weighted.calls'), 'utf8'), 'tzc_rtn_encode 0\ntzc_ternary_encode 0\n');
  });

  it('the rotation of :rot on the GPU gives the CPU\'s bits, forward and inverse, and reports its progress', () => {
    // Each shape: rows of `period` values in blocks of `block` (down to 2, up to 4096, several
    // blocks a row, blocks smaller than the library's tiles), the seed's multipliers, a few outliers.
    const r = spawnSync(process.execPath, ['-e', `
      const { native } = require(${JSON.stringify(path.join(root, 'dist', 'lib', 'native.js'))});
      const heard = [];
      const device = { cuda: 0, onFallback: (c, why) => heard.push(c + ': ' + why) };
      const rotate = (x, args) => {
        let last = 'none';
        return native.hadamardRotate({ x, ...args }, (done, total) => (last = done + '/' + total)).promise.then(() => last);
      };
      const same = (a, b) => Buffer.from(a.buffer).equals(Buffer.from(b.buffer));
      (async () => {
        for (const [period, block, seed, rows] of [[4096, 4096, 1, 3], [12288, 4096, 2, 2], [1536, 512, 0, 3], [96, 32, 4294967295, 9], [24, 8, 5, 50], [64, 2, 9, 4]]) {
          const x = Float32Array.from({ length: period * rows }, (_, i) => Math.sin(0.37 * i + seed) * (i % 97 === 0 ? 50 : 1));
          const cpu = x.slice(), gpu = x.slice();
          await rotate(cpu, { period, block, seed });
          const progress = await rotate(gpu, { period, block, seed, device });
          const forward = same(cpu, gpu) && !same(cpu, x);
          await rotate(cpu, { period, block, seed, inverse: true });
          await rotate(gpu, { period, block, seed, inverse: true, device });
          console.log(period + '/' + block + ': forward ' + forward + ', inverse ' + same(cpu, gpu) + ', progress ' + (progress === x.length + '/' + x.length));
        }
        console.log('fallbacks: ' + heard.length);
      })();
    `], { encoding: 'utf8', env: { ...process.env, ...standIn, STAND_IN_CALLS: out('rotation.calls') } });
    assert.equal(r.stdout, [
      ...['4096/4096', '12288/4096', '1536/512', '96/32', '24/8', '64/2'].map((shape) => `${shape}: forward true, inverse true, progress true`),
      'fallbacks: 0',
      '',
    ].join('\n'), r.stderr);
    // Every rotation asked for on the GPU went to the library: 6 shapes, forward and inverse.
    assert.equal(readFileSync(out('rotation.calls'), 'utf8'), 'tzc_hadamard 0\n'.repeat(12));
  });

  it(':rot with --device cuda: the rotations run on the GPU and the container is the CPU\'s, byte for byte', () => {
    const rotPolicy = out('rot-policy.json');
    writeFileSync(rotPolicy, JSON.stringify({ '*.q_proj.*': 'rtn:3:g16:rot', '*.mlp.*': 'ternary:g32:rot7', 'lm_head*': 'rtn:4:rot0' }));
    const cpu = cli(standIn, 'compress', model, '-o', out('rot-cpu.tzip'), '--policy', rotPolicy, '--device', 'cpu', '--json');
    assert.equal(cpu.status, 0, cpu.stderr);
    const calls = out('rot-cuda.calls');
    const r = cli({ ...standIn, STAND_IN_CALLS: calls }, 'compress', model, '-o', out('rot-cuda.tzip'), '--policy', rotPolicy, '--device', 'cuda', '--json');
    assert.equal(r.status, 0, r.stderr);
    assert.match(JSON.parse(r.stdout).device, /^cuda:0 \(CPU stand-in 0\) \+ cpu \([a-z0-9]+, [0-9]+ threads\)$/);
    // Five rotated tensors, one chunk each: rotated before encoding and back after the decode
    // that measures the error, all on the GPU.
    const counts = new Map<string, number>();
    for (const line of readFileSync(calls, 'utf8').trim().split('\n')) counts.set(line, (counts.get(line) ?? 0) + 1);
    assert.deepEqual(Object.fromEntries(counts), {
      'tzc_hadamard 0': 10, 'tzc_rans_encode 0': 1, 'tzc_rtn_encode 0': 2, 'tzc_rtn_decode 0': 2, 'tzc_ternary_encode 0': 3, 'tzc_ternary_decode 0': 3,
    });
    assert.ok(readFileSync(out('rot-cuda.tzip')).equals(readFileSync(out('rot-cpu.tzip'))));
  });

  it('decodePieces on the GPU: every rANS model gives the CPU\'s bytes in one library call, and a bad frame the CPU\'s error', () => {
    // Frames of the reference encoder (test/rans-reference.ts) in small blocks: codes of 2 to 8
    // bits in 1, 2, 4 and 8 contexts, several blocks each (the last partial, a code running past
    // the piece's end where the lengths make one); a native frame of three 2^18-symbol blocks; a
    // constant frame, an empty piece and an xz piece among them.
    const r = spawnSync(process.execPath, ['-e', `
      const { native } = require(${JSON.stringify(path.join(root, 'dist', 'lib', 'native.js'))});
      const { encodeFrame, codedFrame, parseFrame } = require(${JSON.stringify(path.join(root, 'dist', 'test', 'rans-reference.js'))});
      const heard = [];
      const device = { cuda: 0, onFallback: (c, why) => heard.push(c + ': ' + why) };
      ${codeSource(7)}
      const raw = [], frames = [], codecs = [];
      const add = (bytes, frame, codec = 'rans') => (raw.push(bytes), frames.push(frame), codecs.push(codec));
      for (let bits = 2; bits <= 8; bits++)
        for (const contexts of [1, 2, 4, 8]) {
          const n = 3001 + 97 * bits + contexts;
          const bytes = pack(codes(Math.ceil((8 * n) / bits), bits, contexts), bits, n);
          add(bytes, encodeFrame(bytes, { bits, contexts }, 1000 + 8 * contexts));
        }
      const big = Uint8Array.from(codes(600000, 8, 1));
      add(big, null);
      add(new Uint8Array(5000).fill(9), Uint8Array.of(1, 1, 9));
      add(new Uint8Array(0), Uint8Array.of(1, 1, 0));
      const text = new TextEncoder().encode('In the beginning was the word. '.repeat(400));
      add(text, null, 'xz');
      const decode = (pieces, device) => {
        const outputs = raw.map((b) => new Uint8Array(b.length));
        let last = 'none';
        return native.decodePieces(pieces, outputs, { codecs, threads: 2, device }, (done, total) => (last = done + '/' + total)).promise
          .then(() => ({ outputs, last }), (e) => ({ error: e.message, last }));
      };
      (async () => {
        const coded = async (piece, codec) => {
          const out = new Uint8Array(piece.length);
          const { sizes } = await native.encodePieces([piece], [out], { codec }).promise;
          return out.subarray(0, sizes[0]);
        };
        const rans = await coded(big, 'rans'), xz = await coded(text, 'xz');
        frames[frames.length - 4] = rans, frames[frames.length - 1] = xz;
        const cpu = await decode(frames), gpu = await decode(frames, device);
        const same = (a, b) => a.every((o, i) => Buffer.from(o).equals(Buffer.from(b[i])));
        console.log('pieces ' + frames.length + ', cpu = source ' + same(cpu.outputs, raw) + ', gpu = cpu ' + same(gpu.outputs, cpu.outputs) + ', progress ' + cpu.last + ' and ' + gpu.last);
        // A flipped word in block 1 of piece 3, then a last code with bits past the piece's end.
        const bad = frames.slice();
        bad[3] = Uint8Array.from(frames[3]);
        const { blocks } = parseFrame(frames[3], raw[3].length);
        bad[3][blocks[1].byteOffset - frames[3].byteOffset + 140] ^= 0x10;
        const cpuBad = await decode(bad), gpuBad = await decode(bad, device);
        console.log((cpuBad.error === gpuBad.error) + ' ' + gpuBad.error);
        bad[3] = frames[3];
        bad[5] = codedFrame(Uint8Array.from({ length: 14 }, (_, i) => (i === 13 ? 7 : 1 + (i % 5))), 3, 1);
        raw[5] = new Uint8Array(5);
        const cpuTail = await decode(bad), gpuTail = await decode(bad, device);
        console.log((cpuTail.error === gpuTail.error) + ' ' + gpuTail.error);
        console.log('fallbacks: ' + heard.length);
      })();
    `], { encoding: 'utf8', env: { ...process.env, ...standIn, STAND_IN_CALLS: out('rans.calls') } });
    assert.equal(r.stdout, [
      'pieces 32, cpu = source true, gpu = cpu true, progress 201/201 and 201/201',
      'true piece 3: rANS piece: block 1 does not decode (corrupted words or states)',
      "true piece 5: rANS piece: the last code has bits set past the piece's end",
      'fallbacks: 0',
      '',
    ].join('\n'), r.stderr);
    // One library call a decode on the GPU, every rANS block of the call in it.
    assert.equal(readFileSync(out('rans.calls'), 'utf8'), 'tzc_rans_decode 0\n'.repeat(3));
  });

  it('encodePieces on the GPU: every rANS model gives the CPU\'s frames in one library call; xz and uncoded pieces stay on the CPU', () => {
    // Codes of 2 to 8 bits in 1, 2, 4 and 8 contexts, each piece two 2^18-symbol blocks and a
    // partial one (a last code running past the piece's end where the lengths make one); a piece
    // of random bytes (stored raw), one that the first-block probe stores raw (9 blocks, the first
    // random), a constant piece, a 3-byte constant one (its frame would not save 1 %) and an
    // empty one among them.
    const r = spawnSync(process.execPath, ['-e', `
      const { native } = require(${JSON.stringify(path.join(root, 'dist', 'lib', 'native.js'))});
      const heard = [];
      const device = { cuda: 0, onFallback: (c, why) => heard.push(c + ': ' + why) };
      ${codeSource(11)}
      const pieces = [], models = [];
      const add = (bytes, model = {}) => (pieces.push(bytes), models.push(model));
      for (let bits = 2; bits <= 8; bits++)
        for (const contexts of [1, 2, 4, 8]) {
          const n = Math.ceil(((2 * 2 ** 18 + 1000 + 97 * bits + contexts) * bits) / 8) + (bits % 3);
          add(pack(codes(Math.ceil((8 * n) / bits), bits, contexts), bits, n), { bits, contexts });
        }
      let state = 2463534242;  // xorshift32: bytes the coder cannot shrink
      const noise = (n) => Uint8Array.from({ length: n }, () => ((state ^= state << 13), (state ^= state >>> 17), (state ^= state << 5), state >>> 24));
      add(noise(300000));
      const probed = Uint8Array.from(codes(9 * 2 ** 18, 8, 1));
      probed.set(noise(2 ** 18));
      add(probed);
      add(new Uint8Array(5000).fill(9));
      add(new Uint8Array(3).fill(4));
      add(new Uint8Array(0), { bits: 3, contexts: 2 });
      const encode = (pieces, models, device) => {
        let last = 'none';
        const outputs = pieces.map((p) => new Uint8Array(p.length));
        return native.encodePieces(pieces, outputs, { codec: 'rans', models, threads: 2, device }, (done, total) => (last = done + '/' + total)).promise
          .then(({ sizes }) => ({ frames: sizes.map((n, i) => (n === null ? null : outputs[i].subarray(0, n))), last }));
      };
      const same = (a, b) => a.length === b.length && a.every((f, i) => (f === null ? b[i] === null : b[i] !== null && Buffer.from(f).equals(Buffer.from(b[i]))));
      (async () => {
        const cpu = await encode(pieces, models), gpu = await encode(pieces, models, device);
        const coded = cpu.frames.map((f, i) => i).filter((i) => cpu.frames[i] !== null);
        const outputs = coded.map((i) => new Uint8Array(pieces[i].length));
        await native.decodePieces(coded.map((i) => cpu.frames[i]), outputs, { codecs: coded.map(() => 'rans') }).promise;
        const back = outputs.every((o, k) => Buffer.from(o).equals(Buffer.from(pieces[coded[k]])));
        const total = pieces.reduce((a, p) => a + p.length, 0);
        console.log('pieces ' + pieces.length + ', coded ' + coded.length + ', gpu = cpu ' + same(gpu.frames, cpu.frames) + ', cpu frames decode to the pieces ' + back +
          ', progress ' + (gpu.last === total + '/' + total));
        console.log('null: ' + cpu.frames.map((f, i) => (f === null ? i : -1)).filter((i) => i >= 0).join(' ') + '; constant: ' + Buffer.from(cpu.frames[30]).toString('hex'));
        // Nothing to code on the GPU: no library call.
        const none = [pieces[28], pieces[30], pieces[31], pieces[32]];
        console.log('uncoded only: ' + same((await encode(none, undefined, device)).frames, (await encode(none)).frames));
        // xz on the CPU, whatever the device, to the same streams.
        const text = new TextEncoder().encode('In the beginning was the word. '.repeat(400));
        const xz = (device) => {
          const outputs = [text, pieces[29]].map((p) => new Uint8Array(p.length));
          return native.encodePieces([text, pieces[29]], outputs, { codec: 'xz', weights: true, probe: true, device }).promise
            .then(({ sizes }) => sizes.map((n, i) => (n === null ? null : outputs[i].subarray(0, n))));
        };
        console.log('xz: ' + same(await xz(device), await xz()));
        console.log('fallbacks: ' + heard.length);
      })();
    `], { encoding: 'utf8', env: { ...process.env, ...standIn, STAND_IN_CALLS: out('rans-encode.calls') } });
    assert.equal(r.stdout, [
      'pieces 33, coded 29, gpu = cpu true, cpu frames decode to the pieces true, progress true',
      'null: 28 29 31 32; constant: 010109',
      'uncoded only: true',
      'xz: true',
      'fallbacks: 0',
      '',
    ].join('\n'), r.stderr);
    // One library call for the GPU encode with coded pieces, every block of the call in it.
    assert.equal(readFileSync(out('rans-encode.calls'), 'utf8'), 'tzc_rans_encode 0\n');
  });

  it('a job places its kernel once: the GPU it names must exist, and a kernel without a CUDA version runs on the CPU, saying so', () => {
    const r = spawnSync(process.execPath, ['-e', `
      const { native } = require(${JSON.stringify(path.join(root, 'dist', 'lib', 'native.js'))});
      const args = { out: new Float32Array(16), C: 8, P: 3, eMin: 0, seeds: Uint16Array.of(1, 1), fields: new Uint8Array(8) };
      try { native.seedlmDecode({ ...args, device: { cuda: 1 } }); } catch (e) { console.log(e.name + ': ' + e.message); }
      const heard = [];
      native.seedlmDecode({ ...args, device: { cuda: 0, onFallback: (c, why) => heard.push(c + ': ' + why) } }).promise.then(() => console.log(heard.join('; ')));
    `], { encoding: 'utf8', env: { ...process.env, ...standIn, STAND_IN_CALLS: out('decode.calls') } });
    assert.equal(r.stdout, 'RangeError: device.cuda must be a GPU index in [0, 0]\nseedlm decode: no CUDA kernel\n', r.stderr);
    assert.ok(!existsSync(out('decode.calls')), 'the stand-in library was not called');
  });
});
