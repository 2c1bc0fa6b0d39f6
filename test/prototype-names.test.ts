// Tensor names (and metadata keys) come from files, so they may be any string, including the
// names of Object.prototype's members. Each must survive compress -> decompress in the header and
// the data, for a shard whose tensors tile the data section (the header is stored) and for one
// with gaps (decompress writes a new header), and verify must agree. Method specs come from files
// too (containers, policies): such names are unknown methods, not Object's members.
import { strict as assert } from 'node:assert';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { compress } from '../lib/pipeline/compress';
import { decompress } from '../lib/pipeline/decompress';
import { SafetensorsFile } from '../lib/io/safetensors';
import { parseSpec } from '../lib/methods/registry';
import { Rng } from '../lib/core/random';
import { verify } from '../lib/pipeline/verify';
import { joinSafetensors } from './malformed';

const NAMES = ['__proto__', 'constructor', 'toString', 'hasOwnProperty'];
const SHAPE = [64, 64]; // large enough for rtn, so lossy pieces carry these names too

/** A safetensors file of NAMES (F32 SHAPE each), with `gap` bytes after each tensor. The header
 * is written as text: building it as an object would already lose "__proto__". */
function modelFile(gap: number): { file: Buffer; data: Map<string, Buffer> } {
  const rng = new Rng(7);
  const bytes = 4 * SHAPE[0] * SHAPE[1];
  const data = new Map<string, Buffer>();
  const entries: string[] = ['"__metadata__":{"__proto__":"kept","format":"pt"}'];
  const parts: Buffer[] = [];
  let offset = 0;
  for (const name of NAMES) {
    const values = Buffer.from(Float32Array.from({ length: bytes / 4 }, () => rng.normal() * 0.02).buffer);
    data.set(name, values);
    entries.push(`${JSON.stringify(name)}:{"dtype":"F32","shape":${JSON.stringify(SHAPE)},"data_offsets":[${offset},${offset + bytes}]}`);
    parts.push(values, Buffer.alloc(gap));
    offset += bytes + gap;
  }
  return { file: joinSafetensors(Buffer.from(`{${entries.join(',')}}`), Buffer.concat(parts)), data };
}

describe('tensor names that are Object.prototype members', function () {
  this.timeout(60000);
  let dir: string;
  before(async () => (dir = await mkdtemp(path.join(os.tmpdir(), 'tz-names-'))));
  after(() => rm(dir, { recursive: true, force: true }));

  for (const [layout, gap] of [['repacked', 64], ['exact', 0]] as const)
    for (const method of ['lossless', 'rtn:4']) {
      it(`${NAMES.join(', ')} round-trip (${layout} layout, ${method})`, async () => {
        const { file, data } = modelFile(gap);
        const input = path.join(dir, `${layout}-${method.replace(':', '')}.safetensors`);
        await writeFile(input, file);
        const container = input.replace(/\.safetensors$/, '.tzip');
        const report = await compress(input, container, { method, policy: { '*': method } });
        assert.deepEqual(report.tensors.map((t) => t.name), NAMES);
        const output = input.replace(/\.safetensors$/, '.out.safetensors');
        const d = await decompress(container, output);
        assert.equal(d.tensors, NAMES.length);

        const out = await SafetensorsFile.open(output);
        try {
          assert.deepEqual(out.header.tensors.map((t) => t.name), NAMES, 'every tensor in the decompressed header');
          assert.equal(Object.getOwnPropertyDescriptor(out.header.metadata, '__proto__')?.value, 'kept', 'metadata key "__proto__" kept');
          for (const t of out.header.tensors) {
            assert.deepEqual(t.shape, SHAPE);
            const got = await out.read(t);
            if (method === 'lossless') assert.ok(got.equals(data.get(t.name)!), `${t.name}: data`);
            else assert.equal(got.length, data.get(t.name)!.length, `${t.name}: data size`);
          }
        } finally {
          await out.close();
        }
        const v = await verify(container, input);
        assert.ok(v.ok, v.problems.join('; '));
        assert.deepEqual(v.tensors.map((t) => t.name), NAMES);
      });
    }

  it('method specs and vptq presets named like Object.prototype members are unknown', () => {
    for (const spec of ['constructor', '__proto__', 'toString:1', 'hasOwnProperty']) assert.throws(() => parseSpec(spec), /^SpecError: unknown method '\w+' in spec/);
    for (const spec of ['vptq:constructor', 'vptq:__proto__', 'vptq:toString']) assert.throws(() => parseSpec(spec), /^SpecError: vptq: unknown option '\w+'/);
  });
});
