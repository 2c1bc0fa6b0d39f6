// Codes and scales that no encoder writes (an rtn code above 2·qmax, a ternary p3 byte above 242
// or p2 code 3, a negative or non-finite scale) are corrupt data: the decode kernels flag them
// (DecodeFault, binding/cpu/quant/decode_fault.h) on every CPU path, the AVX2 kernels exactly where the
// scalar references do, the decode jobs refuse them with a message naming the fault, and a
// container holding one is refused by decompress and verify as corrupted.
import { strict as assert } from 'node:assert';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { compress } from '../lib/pipeline/compress';
import { decompress } from '../lib/pipeline/decompress';
import { SafetensorsWriter } from '../lib/io/safetensors-writer';
import { backendInfo } from '../lib/index';
import { parseSpec } from '../lib/methods/registry';
import { native, type KernelPath, type TernaryDtype } from '../lib/native';
import { Rng } from '../lib/core/random';
import { verify } from '../lib/pipeline/verify';
import { gaussian } from './helpers';
import { editRawPiece } from './malformed';

const avx2 = backendInfo().cpuFeatures.avx2 && backendInfo().cpuFeatures.f16c;
const PATHS: KernelPath[] = avx2 ? ['scalar', 'avx2'] : ['scalar'];
/** f16 bit patterns of scales no encoder writes: ±Inf, NaNs, -0, negative numbers. */
const BAD_SCALES = [0x7c00, 0xfc00, 0x7e00, 0x7c01, 0xffff, 0x8000, 0x8001, 0xbc00];
/** Valid extremes: 0, the smallest subnormal, the largest finite f16. */
const EDGE_SCALES = [0x0000, 0x0001, 0x7bff];

// ---- rtn -----------------------------------------------------------------------------------

function rtnStreams(n: number, bits: number, group: number, seed: number) {
  const codes = new Uint8Array(Math.ceil((n * bits) / 8));
  const scales = new Uint16Array(Math.ceil(n / group));
  native.kernelRow('rtn_encode', { weights: gaussian(n, seed, 0.02), bits, group, codes, scales }, 'scalar');
  return { codes, scales };
}

/** Writes `value` as code i (LSB-first packing). */
function setCode(codes: Uint8Array, i: number, bits: number, value: number): void {
  for (let b = 0; b < bits; b++) {
    const bit = i * bits + b;
    if ((value >> b) & 1) codes[bit >> 3] |= 1 << (bit & 7);
    else codes[bit >> 3] &= ~(1 << (bit & 7));
  }
}

/** DecodeFault bits a decode kernel returns. */
const FAULT_CODE = 1, FAULT_SCALE = 2;

/** The decode kernel row: its output and fault mask. */
function rtnDecode(p: KernelPath, n: number, bits: number, group: number, codes: Uint8Array, scales: Uint16Array) {
  const out = new Float32Array(n);
  const fault = native.kernelRow('rtn_decode', { out, bits, group, codes, scales }, p);
  return { out: new Uint8Array(out.buffer), fault };
}

// ---- ternary -------------------------------------------------------------------------------

function ternaryStreams(n: number, group: number, packing: 2 | 3, seed: number) {
  const packed = new Uint8Array(Math.ceil(n / (packing === 3 ? 5 : 4)));
  const scales = new Uint16Array(Math.ceil(n / group));
  native.kernelRow('ternary_encode', { weights: gaussian(n, seed, 0.02), dtype: 'F32', group, packing, packed, scales }, 'scalar');
  return { packed, scales };
}

function ternaryDecode(p: KernelPath, dtype: TernaryDtype, n: number, group: number, packing: 2 | 3, packed: Uint8Array, scales: Uint16Array) {
  const out = dtype === 'F32' ? new Float32Array(n) : new Uint16Array(n);
  const fault = native.kernelRow('ternary_decode', { out, dtype, group, packing, packed, scales }, p);
  return { out: new Uint8Array(out.buffer), fault };
}

const TERNARY_CODE = { 3: /ternary: the stored codes hold a byte above 242 \(p3 packs 5 trits per byte, 0\.\.242\)/, 2: /ternary: the stored codes hold a 2-bit code 3 \(p2 codes run 0\.\.2\)/ };
const TERNARY_SCALE = /ternary: the stored scales hold a negative or non-finite value/;

/** The outcome of a decode: its output bytes, or the fault it found (the output is then unspecified). */
function outcome({ out, fault }: { out: Uint8Array; fault: number }): string {
  return fault ? `fault ${fault}` : Buffer.from(out).toString('hex');
}

describe('decoders refuse codes and scales no encoder writes', () => {
  describe('rtn kernels', () => {
    for (const p of PATHS)
      it(`${p}: a code above 2·qmax, anywhere in the chunk, for every width`, () => {
        for (const bits of [2, 3, 4, 5, 6, 7, 8])
          for (const [n, group] of [[8, 8], [37, 8], [1000, 32], [4099, 128]]) {
            const top = 2 * ((1 << (bits - 1)) - 1);
            for (const i of [0, n >> 1, n - 1]) {
              const { codes, scales } = rtnStreams(n, bits, group, bits * n + i);
              setCode(codes, i, bits, top);
              const ok = rtnDecode(p, n, bits, group, codes, scales);
              assert.equal(ok.fault, 0);
              assert.ok(new Float32Array(ok.out.buffer)[i] > 0, `code ${top} (q = qmax) decodes: bits ${bits} n ${n} i ${i}`);
              setCode(codes, i, bits, (1 << bits) - 1);
              assert.equal(rtnDecode(p, n, bits, group, codes, scales).fault, FAULT_CODE, `bits ${bits} n ${n} i ${i}`);
            }
          }
      });

    for (const p of PATHS)
      it(`${p}: a negative or non-finite scale, in any group`, () => {
        const [n, bits, group] = [1000, 4, 32];
        for (const g of [0, 15, 31]) {
          for (const bad of BAD_SCALES) {
            const { codes, scales } = rtnStreams(n, bits, group, g);
            scales[g] = bad;
            assert.equal(rtnDecode(p, n, bits, group, codes, scales).fault, FAULT_SCALE, `scale 0x${bad.toString(16)} in group ${g}`);
          }
          for (const edge of EDGE_SCALES) {
            const { codes, scales } = rtnStreams(n, bits, group, g);
            scales[g] = edge;
            assert.equal(rtnDecode(p, n, bits, group, codes, scales).fault, 0);
          }
        }
      });

    it('the threaded job refuses a bad code in its last chunk, and a bad scale, naming the fault', async () => {
      const [n, bits, group] = [1 << 20, 4, 32];
      const { codes, scales } = rtnStreams(n, bits, group, 3);
      const job = () => native.rtnDecode({ out: new Float32Array(n), bits, group, codes, scales, threads: 2 }).promise;
      await job();
      setCode(codes, n - 1, bits, 15);
      await assert.rejects(job(), /rtn: the stored codes hold a value above 14 \(4-bit codes run 0\.\.14\)/);
      setCode(codes, n - 1, bits, 14);
      scales[7] = 0xfc00;
      await assert.rejects(job(), /rtn: the stored scales hold a negative or non-finite value/);
    });

    (avx2 ? it : it.skip)('AVX2 refuses exactly what the scalar reference refuses, and decodes the rest identically', () => {
      const rng = new Rng(11);
      let refused = 0;
      for (let trial = 0; trial < 400; trial++) {
        const bits = 2 + (rng.u32() % 7);
        const group = [8, 16, 32, 128][rng.u32() % 4];
        const n = 1 + (rng.u32() % 700);
        const { codes, scales } = rtnStreams(n, bits, group, trial);
        for (let k = rng.u32() % 3; k > 0; k--) codes[rng.u32() % codes.length] ^= 1 << (rng.u32() % 8);
        if (rng.uniform() < 0.2) scales[rng.u32() % scales.length] ^= 1 << (rng.u32() % 16);
        const want = outcome(rtnDecode('scalar', n, bits, group, codes, scales));
        assert.equal(outcome(rtnDecode('avx2', n, bits, group, codes, scales)), want, `trial ${trial}: bits ${bits} group ${group} n ${n}`);
        if (want.startsWith('fault')) refused++;
      }
      assert.ok(refused > 20 && refused < 380, `a share of the mutants are refused (${refused} of 400)`);
    });
  });

  describe('ternary kernels', () => {
    for (const p of PATHS)
      for (const packing of [3, 2] as const)
        it(`${p}: p${packing} codes out of range, in full blocks and in the tail (padding included)`, () => {
          const block = packing === 3 ? 160 : 128;
          for (const dtype of ['F32', 'BF16', 'F16'] as const)
            for (const n of [block, 3 * block + 7, 3 * block + 1]) {
              const base = ternaryStreams(n, 64, packing, n);
              const bytes = base.packed.length;
              for (const b of [0, Math.min(40, bytes - 2), bytes - 1]) {
                // The largest valid byte decodes; every invalid value of the byte is refused.
                const packed = Uint8Array.from(base.packed);
                packed[b] = packing === 3 ? 242 : 0xaa;
                assert.equal(ternaryDecode(p, dtype, n, 64, packing, packed, base.scales).fault, 0);
                const bad = packing === 3 ? [243, 250, 255] : [0x03, 0x0c, 0x30, 0xc0].map((m) => base.packed[b] | m);
                for (const v of bad) {
                  packed[b] = v;
                  assert.equal(ternaryDecode(p, dtype, n, 64, packing, packed, base.scales).fault, FAULT_CODE, `${dtype} n ${n} byte ${b} = ${v}`);
                }
              }
            }
        });

    for (const p of PATHS)
      it(`${p}: a negative or non-finite group scale`, () => {
        const n = 1000;
        for (const g of [0, 7, 15])
          for (const bad of BAD_SCALES) {
            const { packed, scales } = ternaryStreams(n, 64, 3, g);
            scales[g] = bad;
            assert.equal(ternaryDecode(p, 'F32', n, 64, 3, packed, scales).fault, FAULT_SCALE, `scale 0x${bad.toString(16)} in group ${g}`);
            scales[g] = EDGE_SCALES[g % EDGE_SCALES.length];
            assert.equal(ternaryDecode(p, 'F32', n, 64, 3, packed, scales).fault, 0);
          }
      });

    it('a per-tensor scale that is negative, -0 or not finite', async () => {
      const { method, params } = parseSpec('ternary:tensor:p3');
      const n = 320;
      const packed = new Uint8Array(n / 5).fill(121); // every code 1
      for (const gamma of [NaN, Infinity, -1, -0]) {
        const scale = new Uint8Array(Float32Array.of(gamma).buffer);
        await assert.rejects(method.decode(params, 'F32', [packed, scale], n, { threads: 1 }, []), /ternary: the stored tensor scale (NaN|Infinity|-1|-0) is negative or non-finite/);
      }
      await method.decode(params, 'F32', [packed, new Uint8Array(Float32Array.of(0).buffer)], n, { threads: 1 }, []);
    });

    (avx2 ? it : it.skip)('AVX2 refuses exactly what the scalar reference refuses, and decodes the rest identically', () => {
      const rng = new Rng(12);
      let refused = 0;
      for (let trial = 0; trial < 400; trial++) {
        const packing = rng.uniform() < 0.5 ? 3 : 2;
        const group = [1, 32, 64, 100][rng.u32() % 4];
        const n = 1 + (rng.u32() % 900);
        const dtype = (['F32', 'BF16', 'F16'] as const)[rng.u32() % 3];
        const { packed, scales } = ternaryStreams(n, group, packing, trial);
        for (let k = rng.u32() % 3; k > 0; k--) packed[rng.u32() % packed.length] ^= 1 << (rng.u32() % 8);
        if (rng.uniform() < 0.2) scales[rng.u32() % scales.length] ^= 1 << (rng.u32() % 16);
        const want = outcome(ternaryDecode('scalar', dtype, n, group, packing, packed, scales));
        const got = outcome(ternaryDecode('avx2', dtype, n, group, packing, packed, scales));
        assert.equal(got, want, `trial ${trial}: p${packing} group ${group} n ${n} ${dtype}`);
        if (want.startsWith('fault')) refused++;
      }
      assert.ok(refused > 50 && refused < 350, `a share of the mutants are refused (${refused} of 400)`);
    });
  });

  describe('in a container: decompress and verify refuse it as corrupted', function () {
    this.timeout(60000);
    let dir: string;
    let model: string;
    before(async () => {
      dir = await mkdtemp(path.join(os.tmpdir(), 'tz-codes-'));
      model = path.join(dir, 'model.safetensors');
      const w = await SafetensorsWriter.create(model, [{ name: 'w', dtype: 'F32', shape: [64, 64] }]);
      await w.write(new Uint8Array(gaussian(4096, 1, 0.02).buffer));
      await w.finish();
    });
    after(() => rm(dir, { recursive: true, force: true }));

    const cases: Array<{ name: string; method: string; stream: string; edit: (b: Buffer) => void; error: RegExp }> = [
      { name: 'rtn code 15 at 4 bits', method: 'rtn:4:g32', stream: 'codes', edit: (b) => (b[100] |= 0xf0), error: /rtn: the stored codes hold a value above 14/ },
      { name: 'rtn NaN scale', method: 'rtn:4:g32', stream: 'scales', edit: (b) => b.writeUInt16LE(0x7e00, 6), error: /rtn: the stored scales hold a negative or non-finite value/ },
      { name: 'rtn negative scale', method: 'rtn:8:g128', stream: 'scales', edit: (b) => (b[1] |= 0x80), error: /rtn: the stored scales hold a negative or non-finite value/ },
      { name: 'ternary p3 byte 250', method: 'ternary:g64:p3', stream: 'codes', edit: (b) => (b[40] = 250), error: TERNARY_CODE[3] },
      { name: 'ternary p2 code 3', method: 'ternary:g64:p2', stream: 'codes', edit: (b) => (b[40] |= 0x30), error: TERNARY_CODE[2] },
      { name: 'ternary infinite group scale', method: 'ternary:g64:p3', stream: 'scales', edit: (b) => b.writeUInt16LE(0x7c00, 2), error: TERNARY_SCALE },
      { name: 'ternary NaN tensor scale', method: 'ternary:tensor:p3', stream: 'scales', edit: (b) => b.writeFloatLE(NaN, 0), error: /ternary: the stored tensor scale NaN is negative or non-finite/ },
    ];
    for (const c of cases)
      it(`${c.name} (${c.method})`, async () => {
        const good = path.join(dir, `${c.method.replace(/:/g, '_')}.tzip`);
        await compress(model, good, { method: c.method, lzma: 'off', policy: { '*': c.method }, force: true });
        const bad = path.join(dir, 'bad.tzip');
        await writeFile(bad, editRawPiece(await readFile(good), `w:tz:0:${c.stream}`, (m) => m.tensors[0].pieces[0][c.stream === 'codes' ? 0 : 1], c.edit));
        const error = new RegExp(`bad\\.tzip: tensor w: ${c.error.source}.* \\(corrupted container\\)`);
        await assert.rejects(decompress(bad, path.join(dir, 'out.safetensors')), error);
        assert.deepEqual((await readdir(dir)).filter((f) => f.includes('out.safetensors')), [], 'no output left behind');
        await assert.rejects(verify(bad, model), error);
        assert.ok((await verify(good, model)).ok, 'the unedited container verifies');
      });
  });
});
