// verify and decompress agree on a damaged container: seeded byte flips over a small container
// (most in the header and metadata, where flips can survive parsing, the rest in the pieces).
// Whenever decompress fails, verify fails (it throws, or finds a difference); whenever verify
// throws (the container cannot be decoded), decompress fails. verify may still find differences
// in a container decompress writes without complaint: a flipped recorded error, say.
// Reproduce with TENSORZIP_FLIP_SEED=<seed>.
import { strict as assert } from 'node:assert';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { compress } from '../lib/pipeline/compress';
import { decompress } from '../lib/pipeline/decompress';
import { Rng } from '../lib/core/random';
import { verify } from '../lib/pipeline/verify';
import { smallModelDir } from './malformed';

const SEED = Number(process.env.TENSORZIP_FLIP_SEED ?? 4242);
const FLIPS = 240;

describe(`verify agrees with decompress on ${FLIPS} byte flips (seed ${SEED})`, function () {
  this.timeout(300000);
  let dir: string;
  let model: string;
  let base: Buffer;

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'tz-flips-'));
    model = await smallModelDir(path.join(dir, 'model'));
    // lzma off: raw pieces, so a flip in piece data is found by checksums and decoders alike.
    await compress(model, path.join(dir, 'base.tzip'), { method: 'rtn:4', policy: { 'c.*': 'ternary:g64:p2' }, lzma: 'off' });
    base = await readFile(path.join(dir, 'base.tzip'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('whenever decompress fails verify fails, and whenever verify cannot decode decompress fails', async () => {
    const rng = new Rng(SEED);
    const headerEnd = 8 + Number(base.readBigUInt64LE(0));
    const file = path.join(dir, 'flipped.tzip');
    const counts = { bothFail: 0, bothOk: 0, verifyDiffers: 0 };
    for (let i = 0; i < FLIPS; i++) {
      const mutant = Buffer.from(base);
      const at = rng.uniform() < 0.75 ? 8 + (rng.u32() % (headerEnd - 8)) : headerEnd + (rng.u32() % (base.length - headerEnd));
      mutant[at] ^= 1 << (rng.u32() % 8);
      await writeFile(file, mutant);
      const out = path.join(dir, `out-${i}`);
      const decompressError = await decompress(file, out).then(() => undefined, (e: Error) => e.message);
      await rm(out, { recursive: true, force: true });
      const v = await verify(file, model).then((r) => (r.ok ? 'ok' : `differs: ${r.problems[0]}`), (e: Error) => `throws: ${e.message}`);
      const where = `flip ${i} (byte ${at}, seed ${SEED})`;
      if (decompressError) assert.notEqual(v, 'ok', `${where}: decompress failed (${decompressError}) but verify said OK`);
      if (v.startsWith('throws')) assert.ok(decompressError, `${where}: verify ${v}, but decompress succeeded`);
      if (decompressError) counts.bothFail++;
      else if (v === 'ok') counts.bothOk++;
      else counts.verifyDiffers++;
    }
    assert.ok(counts.bothFail > FLIPS / 4 && counts.bothOk > 0, `flips of every kind (${JSON.stringify(counts)})`);
  });
});
