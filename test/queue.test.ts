// Queue mode against a real redis-server on loopback: the container from `compress --queue` and
// two `tensorzip worker` processes equals a single compress byte for byte, also when a worker is
// killed in the middle of a tensor and when the coordinator is killed and run again; bad URLs, an
// unreachable Redis, an unwritable work directory and a changed input give clear errors and no
// output.
import { strict as assert } from 'node:assert';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { Queue, type Job } from 'bullmq';
import { compress, describeRun } from '../lib/pipeline/compress';
import { compressTensor } from '../lib/parts/part';
import { generateCheckpoint } from '../lib/tools/generate';
import { parseQueueTarget } from '../lib/queue/target';
import { compressQueued } from '../lib/queue/coordinator';
import { fileSha256, readResult } from '../lib/queue/jobs';
import { freePort, startLocalRedis, type LocalRedis } from '../lib/queue/local-redis';
import { cliPath, root } from './helpers';

const cli = (...args: string[]) => spawnSync(process.execPath, [cliPath, ...args], { cwd: root, encoding: 'utf8' });
const hasRedis = spawnSync('redis-server', ['--version']).status === 0;

/** A child process whose stderr is collected, with a way to wait for a line in it. */
class Proc {
  text = '';
  readonly exited: Promise<number | null>;
  constructor(readonly child: ChildProcess) {
    child.stderr!.on('data', (d: Buffer) => (this.text += d.toString()));
    child.stdout!.on('data', (d: Buffer) => (this.text += d.toString()));
    this.exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  }
  static cli(...args: string[]) {
    return Proc.cliWith({}, ...args);
  }
  static cliWith(env: Record<string, string>, ...args: string[]) {
    return new Proc(spawn(process.execPath, [cliPath, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } }));
  }
  async waitFor(re: RegExp, ms = 30_000): Promise<RegExpExecArray> {
    const until = Date.now() + ms;
    for (;;) {
      const m = re.exec(this.text);
      if (m) return m;
      if (Date.now() > until || this.child.exitCode !== null) throw new Error(`no ${re} in:\n${this.text}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

describe('queue mode (BullMQ on a loopback redis-server)', function () {
  this.timeout(120_000);
  let tmp: string, model: string, single: Buffer, url: string, redis: LocalRedis | undefined;
  const workers: Proc[] = [];
  const out = (name: string) => path.join(tmp, name);
  const worker = async () => {
    const w = Proc.cli('worker', '--queue', url, '--root', tmp, '--threads', '1', '--lock-timeout', '2');
    workers.push(w);
    await w.waitFor(/waiting for jobs/);
    return w;
  };
  const stopWorkers = async () => {
    for (const w of workers.splice(0)) if (w.child.exitCode === null) w.child.kill('SIGINT'), await w.exited;
  };
  const doneLines = (ws: Proc[]) => ws.flatMap((w) => [...w.text.matchAll(/: (\S+) done in/g)].map((m) => m[1]));

  before(async function () {
    if (!hasRedis) {
      // CI installs redis-server (.ci/run): there these tests must run.
      if (process.env.CI) throw new Error('redis-server is not installed: .ci/run installs it from Debian\'s packages');
      console.warn('    (redis-server is not installed: apt-get install redis-server to run the queue tests)');
      this.skip();
    }
    tmp = await mkdtemp(path.join(os.tmpdir(), 'tz-queue-'));
    redis = await startLocalRedis();
    url = redis.url;
    model = out('m');
    await generateCheckpoint(model, { hidden: 256, intermediate: 688, layers: 3, heads: 4, kvHeads: 2, vocab: 8192, shards: 2 });
    await compress(model, out('single.tzip'), { method: 'rtn:4', threads: 1 });
    single = await readFile(out('single.tzip'));
  });

  after(async () => {
    await stopWorkers();
    await redis?.stop();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  afterEach(stopWorkers);

  it('two workers: the container equals a single compress, and the work directory is removed', async () => {
    const ws = [await worker(), await worker()];
    const r = cli('compress', model, '-o', out('q.tzip'), '-m', 'rtn:4', '--queue', url, '--json');
    assert.equal(r.status, 0, r.stderr);
    assert.ok((await readFile(out('q.tzip'))).equals(single));
    const report = JSON.parse(r.stdout);
    assert.equal(report.queue.jobs, report.tensors.length);
    assert.equal(report.queue.reused, 0);
    assert.ok(!existsSync(out('q.tzip.queue')));
    // Every tensor encoded exactly once, and both workers took part.
    assert.equal(doneLines(ws).length, report.tensors.length);
    for (const w of ws) assert.ok(doneLines([w]).length > 0, w.text);
  });

  it('a worker killed (SIGKILL) in the middle of a tensor: another one encodes it again, same container', async () => {
    const a = await worker();
    const b = await worker();
    const run = compressQueued(model, out('k.tzip'), { method: 'rtn:4', queue: url, threads: 1 });
    // The largest tensors go first; kill a as soon as it starts one.
    const [, killed] = await a.waitFor(/worker [^:]*: ((?:model|lm_head)\.\S+)\n/);
    a.child.kill('SIGKILL');
    await a.exited;
    const report = await run;
    assert.ok((await readFile(out('k.tzip'))).equals(single));
    assert.ok(doneLines([b]).includes(killed), `${killed} was not encoded again by the other worker:\n${b.text}`);
    assert.ok(!doneLines([a]).includes(killed));
    assert.ok(!existsSync(out('k.tzip.queue')), 'the killed worker\'s temp file is removed with the work directory');
    assert.equal(report.queue.workers.length, 1);
  });

  it('a coordinator killed mid-run and started again reuses the finished tensors and encodes none twice', async () => {
    const first = await worker();
    const workDir = out('r.queue');
    const coordinator = Proc.cli('compress', model, '-o', out('r.tzip'), '-m', 'rtn:4', '--queue', url, '--work-dir', workDir);
    await first.waitFor(/done in/);
    coordinator.child.kill('SIGKILL');
    await coordinator.exited;
    first.child.kill('SIGINT'); // a job under way goes back to the queue
    await first.exited;
    const [runDir] = await readdir(workDir);
    assert.match(runDir, /^tensorzip-run-[0-9a-f]{16}$/, 'results go to a folder of the run');
    const kept = (await readdir(path.join(workDir, runDir))).filter((f) => f.endsWith('.part')).length;
    assert.ok(kept >= 1);
    assert.ok(!existsSync(out('r.tzip')));

    // The second worker may take a job the killed coordinator left in the queue before the new
    // coordinator starts: its result is then reused too.
    const second = await worker();
    const report = await compressQueued(model, out('r.tzip'), { method: 'rtn:4', queue: url, workDir, threads: 1 });
    assert.ok((await readFile(out('r.tzip'))).equals(single));
    assert.ok(report.queue.reused >= kept, `${report.queue.reused} reused, ${kept} kept`);
    assert.ok(report.queue.jobs > 0, 'every tensor was finished before the restart: nothing was resumed');
    assert.equal(report.queue.jobs, report.tensors.length - report.queue.reused);
    const encoded = doneLines([first, second]);
    assert.equal(encoded.length, report.tensors.length, 'a tensor was encoded twice');
    assert.equal(new Set(encoded).size, report.tensors.length);
  });

  it('worker --devices all: one worker per GPU (two stand-in GPUs answered by the CPU kernels), same container', async function () {
    const fixtures = path.join(root, 'build', 'test-fixtures');
    const env = {
      TENSORZIP_LIBCUDA: path.join(fixtures, 'libtensorzip_fake_libcuda.so'),
      TENSORZIP_CUDA_LIBRARY: path.join(fixtures, 'libtensorzip_cpu_cuda_library.so'),
      FAKE_CUDA_DEVICES: '2',
    };
    if (!existsSync(env.TENSORZIP_CUDA_LIBRARY)) this.skip();
    const w = Proc.cliWith(env, 'worker', '--queue', url, '--root', tmp, '--devices', 'all', '--threads', '2');
    workers.push(w);
    await w.waitFor(/cuda:0 \(CPU stand-in 0\) waiting[\s\S]*cuda:1 \(CPU stand-in 1\) waiting|cuda:1 \(CPU stand-in 1\) waiting[\s\S]*cuda:0 \(CPU stand-in 0\) waiting/);
    const report = await compressQueued(model, out('d.tzip'), { method: 'rtn:4', queue: url, threads: 1 });
    assert.ok((await readFile(out('d.tzip'))).equals(single));
    assert.equal(report.queue.workers.length, 2);
    for (const gpu of ['cuda:0', 'cuda:1']) assert.match(w.text, new RegExp(`worker ${gpu}: \\S+ done in`));
    w.child.kill('SIGINT');
    assert.equal(await w.exited, 0);

    let r = spawnSync(process.execPath, [cliPath, 'worker', '--queue', url, '--root', tmp, '--devices', '0,5'], { encoding: 'utf8', env: { ...process.env, ...env } });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--devices 0,5: there is no GPU 5 \(2 found\)/);
    r = spawnSync(process.execPath, [cliPath, 'worker', '--queue', url, '--root', tmp, '--devices', 'all'], { encoding: 'utf8', env: { ...process.env, TENSORZIP_LIBCUDA: path.join(tmp, 'none.so') } });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--devices all: CUDA is not available/);
    assert.equal(cli('worker', '--queue', url, '--root', tmp, '--devices', 'all', '--device', 'cpu').status, 2);
  });

  it('jobs that vanish from Redis are added again, and a result is accepted only with its checksum, key and tensor', async () => {
    const workDir = out('v.queue');
    const run = compressQueued(model, out('v.tzip'), { method: 'rtn:4', queue: url, workDir, threads: 1 });
    const queue = new Queue('tensorzip', { connection: parseQueueTarget(url).connection });
    let waiting: Job[] = [];
    while (waiting.length === 0) waiting = await queue.getWaiting(), await new Promise((r) => setTimeout(r, 20));
    // No worker yet: take three jobs away; the coordinator's sweep (every 2 s) puts them back.
    const gone = waiting.slice(0, 3).map((j) => j.id!);
    for (const id of gone) await queue.remove(id);
    const until = Date.now() + 10_000;
    while (!(await Promise.all(gone.map((id) => queue.getJobState(id)))).every((s) => s === 'waiting') && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    await queue.close();
    const w = await worker();
    const report = await run;
    assert.ok((await readFile(out('v.tzip'))).equals(single));
    assert.equal(doneLines([w]).length, report.tensors.length);

    // readResult on a result part made for tensor 0 of this run.
    const { key } = await describeRun(model, out('v-key.tzip'), { method: 'rtn:4' }); // the key does not depend on the output
    const part = out('t0.part');
    await compressTensor(model, part, { method: 'rtn:4', tensor: 0, name: report.tensors[0].name, key, threads: 1 });
    const sha = await fileSha256(part);
    assert.ok(await readResult(part, key, 0, sha));
    assert.equal(await readResult(part, key, 0, sha.replace(/^./, (c) => (c === '0' ? '1' : '0'))), undefined, 'another checksum');
    assert.equal(await readResult(part, `${key} `, 0), undefined, 'another run');
    assert.equal(await readResult(part, key, 1), undefined, 'another tensor');
    const bytes = await readFile(part);
    await writeFile(part, bytes.subarray(0, bytes.length - 10));
    assert.equal(await readResult(part, key, 0), undefined, 'a torn file');
    assert.equal(await readResult(out('none.part'), key, 0), undefined, 'no file');
    await assert.rejects(compressTensor(model, part, { method: 'rtn:4', tensor: 0, name: 'other', key, threads: 1 }), /tensor 0 is not other/);
  });

  it('runs sharing a work directory keep to their own folders and leave the user\'s files alone', async () => {
    const workDir = out('shared.queue');
    await mkdir(workDir);
    // A user's files that look like results: a coordinator once removed every NNNNNN.part here.
    await writeFile(path.join(workDir, '000001.part'), 'mine');
    await writeFile(path.join(workDir, 'notes.txt'), 'mine');
    await worker();
    await worker();
    const [a, b] = await Promise.all(['a', 'b'].map((n) => compressQueued(model, out(`shared-${n}.tzip`), { method: 'rtn:4', queue: url, workDir, threads: 1 })));
    for (const n of ['a', 'b']) assert.ok((await readFile(out(`shared-${n}.tzip`))).equals(single), n);
    assert.equal(a.queue.jobs + b.queue.jobs, 2 * a.tensors.length);
    assert.deepEqual((await readdir(workDir)).sort(), ['000001.part', 'notes.txt'], 'only the runs\' folders are removed');
    assert.equal(await readFile(path.join(workDir, '000001.part'), 'utf8'), 'mine');
  });

  it('a worker refuses a job that would write anything but a result file', async () => {
    const w = await worker();
    const queue = new Queue('tensorzip', { connection: parseQueueTarget(url).connection });
    const evil = out('evil.txt');
    const job = await queue.add('tensor', { input: model, options: { method: 'rtn:4' }, key: 'k', tensor: 0, name: 'x', bytes: 1, output: evil }, { jobId: 'evil-0' });
    let state = '';
    for (let i = 0; i < 200 && state !== 'failed'; i++) state = await job.getState(), await new Promise((r) => setTimeout(r, 25));
    assert.equal(state, 'failed');
    assert.match((await queue.getJob('evil-0'))!.failedReason, /evil\.txt is not a result file path/);
    assert.equal((await queue.getJob('evil-0'))!.attemptsMade, 1);
    assert.ok(!existsSync(evil));
    await queue.obliterate({ force: true });
    await queue.close();
    assert.equal(doneLines([w]).length, 0);
  });

  it('refuses a bad queue URL (exit 2), an unreachable Redis and an unwritable work directory (exit 1), leaving nothing', async () => {
    for (const bad of ['http://127.0.0.1:6379', 'redis://', 'redis://host:6379/x', 'nonsense']) {
      const r = cli('compress', model, '-o', out('bad.tzip'), '--queue', bad);
      assert.equal(r.status, 2, bad);
      assert.match(r.stderr, /--queue must be redis:\/\/host/);
      assert.equal(cli('worker', '--queue', bad, '--root', tmp).status, 2);
    }
    const down = `redis://127.0.0.1:${await freePort()}`;
    let r = cli('compress', model, '-o', out('down.tzip'), '--queue', down);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /cannot reach the queue at redis:\/\/127\.0\.0\.1:[0-9]+: ECONNREFUSED/);
    assert.ok(!existsSync(out('down.tzip')) && !existsSync(out('down.tzip.queue')));
    r = cli('worker', '--queue', down, '--root', tmp);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /cannot reach the queue/);

    await writeFile(out('a-file'), 'x');
    r = cli('compress', model, '-o', out('nw.tzip'), '--queue', url, '--work-dir', out('a-file/sub'));
    assert.equal(r.status, 1);
    assert.match(r.stderr, /a-file\/sub: the work directory \(shared with the workers\) is not writable \(not a directory\)/);
    assert.ok(!existsSync(out('nw.tzip')));

    for (const other of [['--shard', '0/2'], ['--resume'], ['--device', 'cpu']]) {
      r = cli('compress', model, '-o', out('x.tzip'), '--queue', url, ...other);
      assert.equal(r.status, 2, other.join(' '));
      assert.match(r.stderr, /cannot be used with/);
    }
  });

  it('a worker reads and writes only under its --root trees, symlinks resolved; refused jobs are not retried', async () => {
    const none = cli('worker', '--queue', url);
    assert.equal(none.status, 2);
    assert.match(none.stderr, /give --root <dir> for each tree the jobs may read and write/);
    assert.match(cli('worker', '--queue', url, '--root', out('nope')).stderr, /--root .*nope: no such folder/);
    // A worker confined to a folder that holds neither the model nor the work directory.
    const jail = out('jail');
    await mkdir(jail, { recursive: true });
    const w = Proc.cli('worker', '--queue', url, '--root', jail, '--threads', '1');
    workers.push(w);
    await w.waitFor(new RegExp(`waiting for jobs .*reading and writing only in ${jail.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    const queue = new Queue('tensorzip', { connection: parseQueueTarget(url).connection });
    const runDir = path.join(jail, 'tensorzip-run-0123456789abcdef');
    await mkdir(runDir, { recursive: true });
    // Inside the jail: a link to the model outside it, and the result folder inside.
    await symlink(model, path.join(jail, 'linked-model'));
    const inside = (await generateCheckpoint(path.join(jail, 'tiny'), { hidden: 64, intermediate: 128, layers: 1, heads: 2, kvHeads: 1, vocab: 256 })).dir;
    const openRunDir = path.join(tmp, 'tensorzip-run-0123456789abcdef');
    await mkdir(openRunDir, { recursive: true });
    const cases: Array<[string, Record<string, unknown>, RegExp]> = [
      ['outside', { input: model, output: path.join(runDir, '000000.part') }, /its input .*\/m lies outside --root/],
      ['via a link', { input: path.join(jail, 'linked-model'), output: path.join(runDir, '000000.part') }, /its input .*linked-model \(.*\/m\) lies outside --root/],
      ['a result outside', { input: inside, output: path.join(openRunDir, '000000.part') }, /its result folder .*tensorzip-run-0123456789abcdef lies outside --root/],
      ['importance outside', { input: inside, output: path.join(runDir, '000000.part'), importance: '/etc/passwd' }, /its importance file \/etc\/passwd lies outside --root/],
    ];
    for (const [name, c, reason] of cases) {
      const { importance, ...where } = c;
      const job = await queue.add('tensor', { ...where, options: { method: 'rtn:4', ...(importance ? { importance } : {}) }, key: 'k', tensor: 0, name: 'x', bytes: 1 }, { jobId: `jail-${name}`, attempts: 3 });
      let state = '';
      for (let i = 0; i < 400 && state !== 'failed'; i++) state = await job.getState(), await new Promise((r) => setTimeout(r, 25));
      assert.equal(state, 'failed', name);
      const failed = (await queue.getJob(`jail-${name}`))!;
      assert.match(failed.failedReason, /refused: /, name);
      assert.match(failed.failedReason, reason, name);
      assert.equal(failed.attemptsMade, 1, `${name}: not retried`);
    }
    assert.equal(doneLines([w]).length, 0);
    assert.deepEqual(await readdir(runDir), [], 'nothing written');
    // A deterministic error of an admitted job (a bad method) is not retried either.
    const bad = await queue.add('tensor', { input: model, options: { method: 'frob:3' }, key: 'k', tensor: 0, name: 'x', bytes: 1, output: path.join(openRunDir, '000000.part') }, { jobId: 'bad-method', attempts: 3 });
    const open = Proc.cli('worker', '--queue', url, '--root', tmp, '--threads', '1');
    workers.push(open);
    let state = '';
    for (let i = 0; i < 400 && state !== 'failed'; i++) state = await bad.getState(), await new Promise((r) => setTimeout(r, 25));
    assert.equal(state, 'failed');
    assert.equal((await queue.getJob('bad-method'))!.attemptsMade, 1, 'a bad method is not retried');
    await queue.obliterate({ force: true });
    await queue.close();
    await stopWorkers();
  });

  it('an ACL user and password in the URL work (never printed); a wrong password is refused in words; rediss:// asks for TLS', async () => {
    const t = parseQueueTarget('rediss://alice:p%40ss@queue.example:6380/2');
    assert.deepEqual([t.connection.username, t.connection.password, t.connection.tls, t.connection.port, t.connection.db], ['alice', 'p@ss', {}, 6380, 2]);
    assert.equal(t.display, 'rediss://alice@queue.example:6380/2');
    const locked = await startLocalRedis({ user: 'alice', password: 'p@ss w0rd' });
    try {
      const w = Proc.cli('worker', '--queue', locked.url, '--root', tmp, '--threads', '1');
      workers.push(w);
      await w.waitFor(/waiting for jobs on redis:\/\/alice@127\.0\.0\.1:\d+ /);
      const r = cli('compress', model, '-o', out('acl.tzip'), '-m', 'rtn:4', '--queue', locked.url, '--threads', '1');
      assert.equal(r.status, 0, r.stderr);
      assert.ok((await readFile(out('acl.tzip'))).equals(single));
      assert.ok(!`${r.stdout}${r.stderr}${w.text}`.includes('w0rd'), 'the password is never printed');
      const wrong = cli('compress', model, '-o', out('wrong.tzip'), '--queue', locked.url.replace('w0rd', 'nope'));
      assert.equal(wrong.status, 1);
      assert.match(wrong.stderr, /cannot reach the queue at redis:\/\/alice@127\.0\.0\.1:\d+: WRONGPASS/);
      assert.ok(!existsSync(out('wrong.tzip')));
      await stopWorkers();
    } finally {
      await locked.stop();
    }
  });

  it('a Redis that goes away: the coordinator says so and stops after --queue-patience, a signal stops it and a worker at once', async () => {
    const gone = await startLocalRedis();
    try {
      const w = Proc.cli('worker', '--queue', gone.url, '--root', tmp, '--threads', '1');
      await w.waitFor(/waiting for jobs/);
      const timed = Proc.cli('compress', model, '-o', out('gone.tzip'), '--queue', gone.url, '--queue-patience', '2', '--work-dir', out('gone-work'));
      const stopped = Proc.cli('compress', model, '-o', out('gone2.tzip'), '--queue', gone.url, '--work-dir', out('gone2-work'));
      // Both coordinators have queued all their jobs (no worker may take them: the worker is stopped first).
      w.child.kill('SIGSTOP');
      const queue = new Queue('tensorzip', { connection: parseQueueTarget(gone.url).connection });
      const { tensors } = await describeRun(model, out('gone-count.tzip'), {});
      while ((await queue.getWaitingCount()) < 2 * tensors.length) await new Promise((r) => setTimeout(r, 20));
      await queue.close();
      await gone.stop();
      w.child.kill('SIGCONT');
      // A stopped Redis resets the connections it had (ECONNRESET) or refuses new ones (ECONNREFUSED): either may come first.
      await w.waitFor(/lost the connection to the queue \((?:ECONNREFUSED|ECONNRESET)\)/);
      w.child.kill('SIGTERM');
      assert.equal(await w.exited, 0, w.text);
      assert.match(w.text, /stopped after 0 jobs/);
      assert.equal(await timed.exited, 1, timed.text);
      assert.match(timed.text, /lost the connection to the queue at redis:\/\/127\.0\.0\.1:\d+ \((?:ECONNREFUSED|ECONNRESET)\); waiting up to 2 s for it/);
      assert.match(timed.text, /the queue at redis:\/\/127\.0\.0\.1:\d+ did not answer for 2 s while/);
      await stopped.waitFor(/lost the connection/);
      stopped.child.kill('SIGINT');
      assert.equal(await stopped.exited, 130, stopped.text);
      assert.ok(!existsSync(out('gone.tzip')) && !existsSync(out('gone2.tzip')));
    } finally {
      await gone.stop();
    }
    // A work directory mkdir -p cannot make (Node's own spun at 100 % CPU under /proc).
    const r = cli('compress', model, '-o', out('proc.tzip'), '--queue', url, '--work-dir', '/proc/nope');
    assert.equal(r.status, 1);
    assert.match(r.stderr, /\/proc\/nope: the work directory \(shared with the workers\) is not writable/);
  });

  it('a worker that sees another input than the coordinator fails the run with a clear error and no output', async () => {
    const copy = out('copy');
    await generateCheckpoint(copy, { hidden: 64, intermediate: 128, layers: 1, heads: 2, kvHeads: 1, vocab: 256 });
    const run = compressQueued(copy, out('c.tzip'), { method: 'rtn:4', queue: url, threads: 1 });
    const rejected = assert.rejects(run, /failed on the workers: .*not what the coordinator saw/);
    // Once the jobs are queued, the coordinator has the input's key.
    const queue = new Queue('tensorzip', { connection: parseQueueTarget(url).connection });
    while ((await queue.getWaitingCount()) === 0) await new Promise((r) => setTimeout(r, 20));
    await queue.close();
    const shardFile = (await readdir(copy)).find((f) => f.endsWith('.safetensors'))!;
    await utimes(path.join(copy, shardFile), new Date(), new Date(Date.now() + 5000));
    await worker();
    await rejected;
    assert.ok(!existsSync(out('c.tzip')));
  });
});
