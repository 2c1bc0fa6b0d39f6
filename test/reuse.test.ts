// Finished tensors are reused only when their records and pieces are what this run would write
// (lib/pipeline/reuse.ts): an edited record in a resume sidecar or in a part file is refused by
// `compress --resume` and `merge`, naming the file and the tensor, with a non-zero exit and no
// output, instead of giving a container that decompress then refuses.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { copyFile, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { compress, type CompressOptions } from '../lib/pipeline/compress';
import { compressShard } from '../lib/parts/part';
import { cliPath } from './helpers';
import { smallModelDir } from './malformed';

type Entry = { kind: 'piece' | 'tensor'; [k: string]: any };

/** Rewrites a sidecar or part file (lib/pipeline/resume.ts layout) with `edit` applied to each entry's JSON;
 * the entries' data bytes stay (a sidecar's pieces are in its data file, not after their entries). */
function editLog(log: Buffer, edit: (entry: Entry) => void): Buffer {
  const newline = log.indexOf(0x0a);
  const out: Buffer[] = [log.subarray(0, newline + 1)];
  for (let at = newline + 1; at < log.length; ) {
    const length = log.readUInt32LE(at);
    const entry: Entry = JSON.parse(log.subarray(at + 4, at + 4 + length).toString('utf8'));
    const data = log.subarray(at + 4 + length, at + 4 + length + (entry.kind === 'piece' && entry.offset === undefined ? entry.bytes : 0));
    at += 4 + length + data.length;
    edit(entry);
    const json = Buffer.from(JSON.stringify(entry));
    const head = Buffer.alloc(4);
    head.writeUInt32LE(json.length);
    out.push(head, json, data);
  }
  return Buffer.concat(out);
}

/** `edit` applied to the record of tensor `name` only. */
const onRecord = (name: string, edit: (record: any) => void) => (e: Entry) => {
  if (e.kind === 'tensor' && e.record.name === name) edit(e.record);
};

const cases: Array<{ name: string; edit: (e: Entry) => void; error: RegExp }> = [
  { name: 'a shape with the same element count', edit: onRecord('a.weight', (r) => (r.shape = [32, 128])), error: /tensor "a\.weight": the record says F32 \[32,128\], the model has F32 \[64,64\]/ },
  { name: 'a shape the pieces do not cover', edit: onRecord('a.weight', (r) => (r.shape = [64, 65])), error: /tensor "a\.weight": the record is invalid \(.*does not match the \d+ bytes its shape implies\)/ },
  { name: 'a dtype', edit: onRecord('a.norm', (r) => (r.dtype = 'F16')), error: /tensor "a\.norm": the record is invalid \(tensor "a\.norm": streams must be \["plane0","plane1"\]\)/ },
  { name: 'a shard index', edit: onRecord('a.norm', (r) => (r.shard = 1)), error: /tensor "a\.norm": the record says shard 1, the model has it in shard 0/ },
  { name: 'a method', edit: onRecord('a.weight', (r) => (r.method = 'rtn:4:g64')), error: /tensor "a\.weight": the record is invalid \(.*scales: rawBytes 256 does not match the 128 bytes its shape implies\)/ },
  { name: 'chunkElements', edit: onRecord('a.weight', (r) => (r.chunkElements = 64)), error: /tensor "a\.weight": the record is invalid \(.*chunkElements does not match rtn:4:g32\)/ },
  { name: 'a piece count', edit: onRecord('a.weight', (r) => r.pieces.push(r.pieces[0])), error: /tensor "a\.weight": the record is invalid \(.*2 chunks do not cover 4096 elements\)/ },
  { name: 'a piece\'s checksum', edit: onRecord('a.norm', (r) => (r.pieces[0][0].crc32 ^= 1)), error: /tensor "a\.norm": its pieces do not match their records/ },
  { name: 'a piece\'s name', edit: (e) => e.kind === 'piece' && e.name === 'a.weight:tz:0:scales' && (e.name = 'a.weight:tz:1:scales'), error: /tensor "a\.weight": its pieces are not the 2 pieces its record names/ },
  { name: 'a tensor name', edit: onRecord('a.norm', (r) => (r.name = 'a.nurm')), error: /tensor "a\.norm": the record is for "a\.nurm" \(not this model's tensor 1\)/ },
];

describe('reused tensors must fit the input', function () {
  this.timeout(120000);
  let dir: string;
  let model: string;
  let sidecar: Buffer;
  let sidecarData: Buffer;
  const run = (...args: string[]) => spawnSync(process.execPath, [cliPath, ...args], { encoding: 'utf8' });
  const leftovers = async (name: string) => (await readdir(dir)).filter((f) => f.includes(name) && !f.endsWith('.resume') && !f.endsWith('.resume.data'));

  /** The sidecar of a run interrupted while storing the carried files (every tensor is finished),
   * and its data file. */
  async function interrupted(name: string, options: CompressOptions): Promise<{ log: Buffer; data: Buffer }> {
    const controller = new AbortController();
    await assert.rejects(compress(model, path.join(dir, name), { ...options, signal: controller.signal, onProgress: (p) => p.tensorName === '(other files)' && controller.abort() }));
    return { log: await readFile(path.join(dir, `${name}.resume`)), data: await readFile(path.join(dir, `${name}.resume.data`)) };
  }

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'tz-reuse-'));
    model = await smallModelDir(path.join(dir, 'model'));
    ({ log: sidecar, data: sidecarData } = await interrupted('first.tzip', { method: 'rtn:4' }));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('the unedited sidecar is reused, giving the container of an uninterrupted run', async () => {
    await writeFile(path.join(dir, 'ok.tzip.resume'), sidecar);
    await writeFile(path.join(dir, 'ok.tzip.resume.data'), sidecarData);
    const r = run('compress', model, '-o', path.join(dir, 'ok.tzip'), '-m', 'rtn:4', '--resume');
    assert.equal(r.status, 0, r.stderr);
    await compress(model, path.join(dir, 'whole.tzip'), { method: 'rtn:4' });
    assert.ok((await readFile(path.join(dir, 'ok.tzip'))).equals(await readFile(path.join(dir, 'whole.tzip'))));
  });

  for (const c of cases)
    it(`compress --resume refuses a sidecar with an edited record: ${c.name}`, async () => {
      const out = path.join(dir, 'edited.tzip');
      const edited = editLog(sidecar, c.edit);
      assert.ok(!edited.equals(sidecar), 'the edit changed the sidecar');
      await writeFile(`${out}.resume`, edited);
      await writeFile(`${out}.resume.data`, sidecarData);
      const r = run('compress', model, '-o', out, '-m', 'rtn:4', '--resume');
      assert.equal(r.status, 1, `exit ${r.status}: ${r.stderr}`);
      assert.match(r.stderr.trim(), /^tensorzip: [^\n]*$/, 'a one-line error');
      assert.match(r.stderr, new RegExp(`${out.replace(/\W/g, '\\$&')}\\.resume: ${c.error.source}; it cannot be reused \\(remove it, or run without --resume\\)`));
      assert.deepEqual(await leftovers('edited.tzip'), [], 'no output');
    });

  it('compress --resume refuses the records of a run with another method (its key forged)', async () => {
    // Valid records and pieces, but a.weight is rtn:8 there and rtn:4 here.
    const other = await interrupted('other.tzip', { method: 'rtn:4', policy: { 'a.weight': 'rtn:8' } });
    const out = path.join(dir, 'forged.tzip');
    await writeFile(`${out}.resume`, Buffer.concat([sidecar.subarray(0, sidecar.indexOf(0x0a)), other.log.subarray(other.log.indexOf(0x0a))]));
    await writeFile(`${out}.resume.data`, other.data);
    const r = run('compress', model, '-o', out, '-m', 'rtn:4', '--resume');
    assert.equal(r.status, 1, `exit ${r.status}: ${r.stderr}`);
    assert.match(r.stderr, /forged\.tzip\.resume: tensor "a\.weight": the record says method rtn:8:g128, this run assigns rtn:4:g32; it cannot be reused \(remove it, or run without --resume\)/);
    assert.deepEqual(await leftovers('forged.tzip'), [], 'no output');
  });

  describe('merge', () => {
    let parts: string[];
    before(async () => {
      parts = [0, 1].map((i) => path.join(dir, `part${i}`));
      for (const [i, p] of parts.entries()) await compressShard(model, p, { method: 'rtn:4', shard: { index: i, count: 2 } });
    });

    it('merges unedited parts into the container of one compress', async () => {
      const r = run('merge', ...parts, '-o', path.join(dir, 'merged.tzip'));
      assert.equal(r.status, 0, r.stderr);
      await compress(model, path.join(dir, 'whole-merged.tzip'), { method: 'rtn:4' });
      assert.ok((await readFile(path.join(dir, 'merged.tzip'))).equals(await readFile(path.join(dir, 'whole-merged.tzip'))));
    });

    it('refuses a part with an edited record', async () => {
      const edited = path.join(dir, 'part0-edited');
      await copyFile(parts[0], edited);
      await writeFile(edited, editLog(await readFile(parts[0]), onRecord('a.weight', (r) => (r.shape = [128, 32]))));
      const r = run('merge', edited, parts[1], '-o', path.join(dir, 'bad-merge.tzip'));
      assert.equal(r.status, 1, `exit ${r.status}: ${r.stderr}`);
      assert.match(r.stderr, /part0-edited: tensor "a\.weight": the record says F32 \[128,32\], the model has F32 \[64,64\]; it cannot be reused \(make this part again with compress --shard\)/);
      assert.deepEqual(await leftovers('bad-merge.tzip'), [], 'no output');
    });
  });
});
