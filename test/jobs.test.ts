// The generic native-job machinery, driven through jobSelfTest (steps with a delay, optional
// failure) and a real kernel: progress, cancellation, errors, resource release, event loop.
import { strict as assert } from 'node:assert';
import { AbortError, convertAsync } from '../lib/index';
import { runJob } from '../lib/jobs';
import { native } from '../lib/native';
import { runNode } from './helpers';

type SelfTest = { steps?: number; stepMs?: number; failAt?: number };
const selfTest = (options: SelfTest, opts: Parameters<typeof runJob>[1] = {}) =>
  runJob((progress) => native.jobSelfTest(options, progress), opts);

describe('native jobs', () => {
  afterEach(() => assert.equal(native.backendInfo().activeJobs, 0, 'every job released its resources'));

  it('resolves with the result and streams progress, the last one before it resolves', async () => {
    const seen: number[] = [];
    const result = await selfTest({ steps: 20, stepMs: 2 }, { onProgress: (done, total) => (assert.equal(total, 20), seen.push(done)) });
    assert.equal(result, 20);
    assert.ok(seen.length >= 1, 'progress arrived'); // coalesced: a busy JS thread may see only the newest
    assert.equal(seen[seen.length - 1], 20);
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i] > seen[i - 1]);
  });

  it('stops promptly on abort and rejects with an AbortError', async () => {
    const controller = new AbortController();
    const t0 = Date.now();
    const p = selfTest({ steps: 10000, stepMs: 5 }, { signal: controller.signal });
    setTimeout(() => controller.abort(new Error('user stop')), 30);
    await assert.rejects(p, (e: unknown) => {
      assert.ok(e instanceof AbortError);
      assert.equal(e.name, 'AbortError');
      assert.equal(e.code, 'ABORT_ERR');
      assert.equal((e.cause as Error).message, 'user stop');
      return true;
    });
    assert.ok(Date.now() - t0 < 2000, 'stopped long before the 50 s of work');
  });

  it('rejects at once, without starting, when the signal is already aborted', async () => {
    await assert.rejects(selfTest({ steps: 1 }, { signal: AbortSignal.abort() }), AbortError);
  });

  it('aborts a real kernel (parallel conversion) before it finishes its chunks', async () => {
    // 64 chunks on one thread; the kernel polls the flag between chunks, so it cannot finish.
    const controller = new AbortController();
    const p = convertAsync('f32_to_bf16', new Float32Array(64 << 20), { threads: 1, signal: controller.signal });
    controller.abort();
    await assert.rejects(p, AbortError);
  });

  it('turns a native failure into an Error with the native message', async () => {
    await assert.rejects(selfTest({ steps: 10, failAt: 3 }), { name: 'Error', message: 'self-test job failed at step 3' });
  });

  it('a throwing progress callback cancels the job and rejects with what it threw', async () => {
    const boom = new Error('progress handler failed');
    await assert.rejects(selfTest({ steps: 1000, stepMs: 2 }, { onProgress: () => { throw boom; } }), (e) => e === boom);
  });

  it('runs jobs concurrently without blocking the event loop', async () => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    const results = await Promise.all([selfTest({ steps: 20, stepMs: 5 }), selfTest({ steps: 10, stepMs: 10 })]);
    clearInterval(timer);
    assert.deepEqual(results, [20, 10]);
    assert.ok(ticks >= 5, `event loop ticked ${ticks} times during the jobs`);
  });

  it('works inside worker threads, with the same results', () => {
    const r = runNode(`
      const { Worker } = require('node:worker_threads');
      const code = "const t = require('tensorzip'); const { parentPort } = require('node:worker_threads');" +
        "t.convertAsync('f32_to_bf16', Float32Array.from({ length: 100003 }, (_, i) => Math.sin(i)))" +
        ".then((o) => parentPort.postMessage(Array.from(o.subarray(0, 5)).concat(o[100002])));";
      const t = require('tensorzip');
      const want = t.f32ToBf16(Float32Array.from({ length: 100003 }, (_, i) => Math.sin(i)));
      new Worker(code, { eval: true }).on('message', (m) => console.log(JSON.stringify(m) === JSON.stringify(Array.from(want.subarray(0, 5)).concat(want[100002]))));
    `);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'true');
  });

  it('a Worker terminated while its job runs stops the job and exits cleanly', () => {
    // The worker's typed arrays are freed at termination: the job must stop touching them first.
    const r = runNode(`
      const { Worker } = require('node:worker_threads');
      const code = "const t = require('tensorzip'); const { parentPort } = require('node:worker_threads');" +
        "const src = new Float32Array(128 << 20); parentPort.postMessage('started');" +
        "t.convertAsync('f32_to_bf16', src, { threads: 2 }).then(() => parentPort.postMessage('finished'));";
      let n = 0;
      const once = (i) => new Promise((resolve) => {
        const w = new Worker(code, { eval: true });
        w.on('message', (m) => { if (m === 'started') setTimeout(() => w.terminate().then(resolve), 5 + 5 * i); });
      });
      (async () => { for (let i = 0; i < 8; i++) { await once(i); n++; } console.log('terminated', n); })();
    `);
    assert.equal(r.status, 0, `exit status ${r.status}: ${r.stderr}`);
    assert.equal(r.stdout.trim(), 'terminated 8');
  });

  it('process.exit while a job runs exits with the requested code', () => {
    const r = runNode(`
      const t = require('tensorzip');
      t.convertAsync('f32_to_bf16', new Float32Array(96 << 20), { threads: 2 });
      setTimeout(() => process.exit(3), 10);
    `);
    assert.equal(r.status, 3, r.stderr);
  });

  it('validates its arguments', () => {
    assert.throws(() => native.jobSelfTest({ steps: -1 }), /steps must be an integer/);
    assert.throws(() => native.jobSelfTest({}, 42 as unknown as () => void), /onProgress must be a function/);
  });
});
