// Each piece written once (lib/container/writer.ts): a model of 64 MiB or more gets room for the
// header before its data, so the data file becomes the container in place. Covered here on such a
// model: the header fits its room (padded with spaces), the container decodes to the model, a
// resumed run and the merge of parts write the same bytes as one compress, and the sidecar's data
// file is the container's data. Smaller models (every other test) take the copy path.
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { open, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import type { TensorRecord } from '../lib/container/format';
import { merge } from '../lib/parts/merge';
import { compressShard } from '../lib/parts/part';
import { compress } from '../lib/pipeline/compress';
import { decompress } from '../lib/pipeline/decompress';
import { ResumeLog } from '../lib/pipeline/resume';
import type { TensorReport } from '../lib/pipeline/types';
import { generateCheckpoint } from '../lib/tools/generate';

const cli = path.join(__dirname, '..', 'lib', 'cli.js');

/** How many tensors the resume sidecar `file` names as finished. */
async function readLog(file: string): Promise<number> {
  const text = await readFile(file).catch(() => Buffer.alloc(0));
  return text.toString('latin1').split('"kind":"tensor"').length - 1;
}

/** Polls sidecar `file` until it names `tensors` finished tensors; false if the run ended first. */
async function waitForLog(file: string, tensors: number, exited: Promise<unknown>): Promise<boolean> {
  let done = false;
  void exited.then(() => (done = true));
  while (!done) {
    if ((await readLog(file)) >= tensors) return true;
    await new Promise((r) => setTimeout(r, 5));
  }
  return false;
}

const sha = async (file: string) => createHash('sha256').update(await readFile(file)).digest('hex');

/** The header's length, and how many of its bytes are padding (trailing spaces). */
async function headerOf(file: string): Promise<{ length: number; padding: number }> {
  const f = await open(file, 'r');
  try {
    const head = Buffer.alloc(8);
    await f.read(head, 0, 8, 0);
    const length = Number(head.readBigUInt64LE(0));
    const json = Buffer.alloc(length);
    await f.read(json, 0, length, 8);
    const text = json.toString('utf8');
    JSON.parse(text);
    return { length, padding: length - text.trimEnd().length };
  } finally {
    await f.close();
  }
}

describe('containers written in place', function () {
  this.timeout(300000);
  let dir: string;
  let model: string;
  const out = (name: string) => path.join(dir, name);

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'tz-inplace-'));
    model = (await generateCheckpoint(out('m'), { targetBytes: 70 << 20 })).dir;
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('the header fits its room, padded with spaces, and the container decodes to the model', async () => {
    const r = await compress(model, out('a.tzip'), { method: 'lossless', threads: 2 });
    const h = await headerOf(out('a.tzip'));
    assert.ok(h.padding > 0 && h.padding < 2 << 20, `padding ${h.padding} of ${h.length}`);
    assert.ok(h.padding < 0.01 * r.containerBytes);
    await decompress(out('a.tzip'), out('back'));
    assert.equal(await sha(path.join(out('back'), 'model.safetensors')), await sha(path.join(model, 'model.safetensors')));
    assert.deepEqual((await readdir(dir)).filter((f) => f.startsWith('a.tzip')), ['a.tzip'], 'no sidecar or data file left');
  });

  it('an interrupted run resumed, and the parts of compress --shard merged, write the same bytes', async () => {
    const opts = { method: 'rtn:4', threads: 2 };
    const whole = await compress(model, out('whole.tzip'), opts);
    assert.ok((await headerOf(out('whole.tzip'))).padding > 0, 'the in-place path');
    const controller = new AbortController();
    await assert.rejects(compress(model, out('r.tzip'), { ...opts, signal: controller.signal, onProgress: (p) => p.tensorIndex >= 4 && controller.abort() }), { name: 'AbortError' });
    assert.deepEqual((await readdir(dir)).filter((f) => f.startsWith('r.tzip')).sort(), ['r.tzip.resume', 'r.tzip.resume.data']);
    const resumed = await compress(model, out('r.tzip'), { ...opts, resume: true });
    assert.equal(resumed.containerBytes, whole.containerBytes);
    assert.equal(await sha(out('r.tzip')), await sha(out('whole.tzip')), 'resumed = uninterrupted');
    // Killed outright (no chance to write what is staged): the sidecar names only pieces the data
    // file holds, so --resume reuses them instead of finding them corrupt.
    const child = spawn(process.execPath, [cli, 'compress', model, '-o', out('k.tzip'), '-m', opts.method, '--threads', '2'], { stdio: 'ignore' });
    const exited = new Promise((resolve) => child.on('exit', resolve));
    const log = await waitForLog(out('k.tzip.resume'), 3, exited);
    child.kill('SIGKILL');
    await exited;
    assert.ok(log, 'the run was killed after it had finished three tensors');
    assert.deepEqual((await readdir(dir)).filter((f) => f.startsWith('k.tzip')).sort(), ['k.tzip.resume', 'k.tzip.resume.data'], 'killed before the end');
    await compress(model, out('k.tzip'), { ...opts, resume: true });
    assert.equal(await sha(out('k.tzip')), await sha(out('whole.tzip')), 'resumed after SIGKILL = uninterrupted');
    for (const i of [0, 1]) await compressShard(model, out(`part${i}`), { ...opts, shard: { index: i, count: 2 } });
    await merge([out('part0'), out('part1')], out('merged.tzip'));
    assert.equal(await sha(out('merged.tzip')), await sha(out('whole.tzip')), 'merged = one compress');
  });
});

describe('the resume sidecar', () => {
  let dir: string;
  before(async () => (dir = await mkdtemp(path.join(os.tmpdir(), 'tz-sidecar-'))));
  after(() => rm(dir, { recursive: true, force: true }));
  const record = { codec: 'raw' as const, bytes: 10, rawBytes: 10, crc32: 0 };
  const tensor = { name: 't' } as unknown as TensorRecord;
  const report = { name: 't' } as unknown as TensorReport;
  const entries = async (file: string) => (await readFile(file, 'latin1')).match(/"kind":"\w+"/g) ?? [];

  it('names a piece only once the data file holds its bytes, and a finished tensor only after its pieces', async () => {
    const output = path.join(dir, 'a.tzip');
    const { log } = await ResumeLog.open(output, 'key', 4096, false);
    let release!: () => void;
    log.addPieceRecord(0, 'a', record, 4096, new Promise<void>((r) => (release = r)));
    log.finishTensor(0, tensor, report);
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(await entries(ResumeLog.pathFor(output)), [], 'nothing named while the piece is staged');
    release();
    assert.equal(await log.close(false), true, 'kept: it holds a finished tensor');
    assert.deepEqual(await entries(ResumeLog.pathFor(output)), ['"kind":"piece"', '"kind":"tensor"']);
  });

  it('leaves out a piece whose bytes never reach the file, and every entry after it', async () => {
    const output = path.join(dir, 'b.tzip');
    const { log } = await ResumeLog.open(output, 'key', 4096, false);
    log.addPieceRecord(0, 'a', record, 4096, Promise.resolve());
    const failed = Promise.reject(Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' }));
    failed.catch(() => undefined); // as ContainerWriter hands it on
    log.addPieceRecord(0, 'b', record, 4106, failed);
    log.finishTensor(0, tensor, report);
    await new Promise((r) => setTimeout(r, 10));
    assert.throws(() => log.finishTensor(1, tensor, report), /EIO/, 'the next record is refused');
    assert.equal(await log.close(false), false, 'not kept: no tensor finished');
    await assert.rejects(readFile(ResumeLog.pathFor(output)), { code: 'ENOENT' });
  });
});
