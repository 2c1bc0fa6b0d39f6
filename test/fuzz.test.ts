// Seeded fuzz loops over both parsers (safetensors and the .tzip container): byte-level
// mutations and structured mutations of the header/metadata JSON. Every mutant must either be
// read completely (every tensor decoded) or be refused with a FormatError: never another kind
// of exception, a crash or a hang. Reproduce a failure with TENSORZIP_FUZZ_SEED=<seed printed>.
import { strict as assert } from 'node:assert';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { compress } from '../lib/pipeline/compress';
import { shardOutput } from '../lib/container/output';
import { ContainerReader } from '../lib/container/reader';
import { SafetensorsFile } from '../lib/io/safetensors';
import { FormatError } from '../lib/core/errors';
import { SafetensorsWriter } from '../lib/io/safetensors-writer';
import { Rng } from '../lib/core/random';
import { splitSafetensors } from './malformed';

const SEED = Number(process.env.TENSORZIP_FUZZ_SEED ?? 20261127);
const ROUNDS = Number(process.env.TENSORZIP_FUZZ_ROUNDS ?? 1000); // per kind: byte-level and structured

const VALUES: unknown[] = [-1, 0, 1, 3, 7, 255, 4096, 2 ** 32, 2 ** 53, 1e300, 1.5, -0.5, '', 'x', 'F32', 'U8', 'xz', 'raw', 'lossless', 'rtn:4:g32', '../x', null, true, [], {}, [0], [0, 4], [1, 2, 3], { a: 1 }];

function mutateBytes(base: Buffer, rng: Rng, headerEnd: number): Buffer {
  const b = Buffer.from(base);
  const pick = (limit: number) => rng.u32() % Math.max(1, limit);
  switch (rng.u32() % 6) {
    case 0: // flip bits in the header (where most parsing happens)
      for (let k = 1 + pick(4); k > 0; k--) b[pick(headerEnd)] ^= 1 << pick(8);
      return b;
    case 1: // anywhere in the file
      b[pick(b.length)] ^= 1 << pick(8);
      return b;
    case 2: // a random length prefix
      b.writeUInt32LE(rng.u32() % (b.length + 64), 0);
      if (rng.uniform() < 0.3) b.writeUInt32LE(rng.u32(), 4);
      return b;
    case 3: // truncate
      return b.subarray(0, pick(b.length));
    case 4: { // overwrite a run of header bytes with random printable characters
      const at = 8 + pick(headerEnd - 8);
      for (let k = 0; k < 1 + pick(8); k++) if (at + k < b.length) b[at + k] = 0x20 + pick(95);
      return b;
    }
    default: { // duplicate a slice of the header in place
      const at = 8 + pick(headerEnd - 8);
      const len = 1 + pick(16);
      return Buffer.concat([b.subarray(0, at), b.subarray(at, at + len), b.subarray(at)]);
    }
  }
}

/** Replaces, deletes or adds one random node of a JSON tree. */
function mutateJson(root: any, rng: Rng): void {
  const nodes: Array<[any, string | number]> = [];
  const walk = (v: any) => {
    if (v && typeof v === 'object')
      for (const k of Array.isArray(v) ? v.keys() : Object.keys(v)) {
        nodes.push([v, k]);
        walk(v[k]);
      }
  };
  walk(root);
  if (!nodes.length) return;
  const [parent, key] = nodes[rng.u32() % nodes.length];
  const value = VALUES[rng.u32() % VALUES.length];
  const op = rng.u32() % 4;
  if (op === 0 && !Array.isArray(parent)) delete parent[key];
  else if (op === 1 && typeof parent[key] === 'number') parent[key] += rng.uniform() < 0.5 ? 1 : -1;
  else if (op === 2 && Array.isArray(parent)) parent.push(value);
  else parent[key] = value;
}

async function readAllSafetensors(file: string): Promise<void> {
  const f = await SafetensorsFile.open(file);
  try {
    for (const t of f.header.tensors) await f.read(t);
  } finally {
    await f.close();
  }
}

async function readAllContainer(file: string): Promise<void> {
  const r = await ContainerReader.open(file);
  try {
    for (const t of r.meta.tensors) for await (const _ of r.decodeTensor(t, { threads: 1 })) void _;
    for (const f of r.meta.files) await r.fileContent(f, { threads: 1 });
    for (const s of r.meta.source.shards) await shardOutput(r, s, { threads: 1 }); // what decompress writes before the data
  } finally {
    await r.close();
  }
}

describe(`fuzz (seed ${SEED}, ${ROUNDS} byte-level + ${ROUNDS} structured mutations per parser)`, function () {
  this.timeout(300000);
  let dir: string;
  let model: Buffer;
  let container: Buffer;

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'tz-fuzz-'));
    const file = path.join(dir, 'model.safetensors');
    const tensors = [
      { name: 'w', dtype: 'F32' as const, shape: [64, 64] },
      { name: 'v', dtype: 'BF16' as const, shape: [32, 128] },
      { name: 'norm', dtype: 'F32' as const, shape: [64] },
      { name: 'ids', dtype: 'I64' as const, shape: [3] },
    ];
    const w = await SafetensorsWriter.create(file, tensors, { format: 'pt' });
    const rng = new Rng(1);
    await w.write(new Uint8Array(Float32Array.from({ length: 4096 }, () => rng.normal() * 0.02).buffer));
    await w.write(new Uint8Array(Uint16Array.from({ length: 4096 }, () => 0x3c00 + (rng.u32() % 0x800)).buffer));
    await w.write(new Uint8Array(Float32Array.from({ length: 64 }, () => 1 + rng.normal() * 0.05).buffer));
    await w.write(new Uint8Array(BigInt64Array.from([1n, 2n, 3n]).buffer));
    await w.finish();
    model = await readFile(file);
    await compress(file, path.join(dir, 'model.tzip'), { method: 'rtn:4', policy: { norm: 'lossless' } });
    container = await readFile(path.join(dir, 'model.tzip'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const parsers = [
    { name: 'safetensors', base: () => model, read: readAllSafetensors },
    { name: 'container', base: () => container, read: readAllContainer },
  ];
  for (const p of parsers) {
    it(`${p.name} parser: refuses or reads every mutant, never anything else`, async () => {
      const base = p.base();
      const headerEnd = 8 + Number(base.readBigUInt64LE(0));
      const rng = new Rng(SEED + (p.name === 'container' ? 1 : 0));
      const file = path.join(dir, `mutant-${p.name}`);
      const outcomes = { read: 0, refused: 0 };
      for (let i = 0; i < 2 * ROUNDS; i++) {
        const mutant =
          i < ROUNDS
            ? mutateBytes(base, rng, headerEnd)
            : splitSafetensors(base, (h) => {
                if (p.name === 'container' && rng.uniform() < 0.8) {
                  const m = JSON.parse(h.__metadata__.tensorzip);
                  mutateJson(m, rng);
                  h.__metadata__.tensorzip = JSON.stringify(m);
                } else mutateJson(h, rng);
              });
        await writeFile(file, mutant);
        try {
          await p.read(file);
          outcomes.read++;
        } catch (e) {
          if (!(e instanceof FormatError)) assert.fail(`mutant ${i} (seed ${SEED}): ${e instanceof Error ? `${e.name}: ${e.stack}` : e}`);
          outcomes.refused++;
        }
      }
      assert.equal(outcomes.read + outcomes.refused, 2 * ROUNDS);
      assert.ok(outcomes.refused > ROUNDS, `most mutants are refused (${JSON.stringify(outcomes)})`);
    });
  }
});
