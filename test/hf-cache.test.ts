// Repo ids (org/name[@rev]) as the model argument, resolved offline in a Hugging Face hub cache
// built in a temp dir from a generated model (test/hf-fixture.ts).
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { compress } from '../lib/pipeline/compress';
import { generateCheckpoint } from '../lib/tools/generate';
import { hubCacheDir, parseRepoId, resolveModel } from '../lib/io/hf-cache';
import { addSnapshot, type FakeSnapshot } from './hf-fixture';
import { cliPath } from './helpers';

const SMALL = { hidden: 64, intermediate: 176, layers: 1, heads: 4, kvHeads: 2, vocab: 512 };
/** The environment without any of the variables that locate a hub cache. */
const CLEAN: NodeJS.ProcessEnv = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => !['HF_HUB_CACHE', 'HUGGINGFACE_HUB_CACHE', 'HF_HOME', 'XDG_CACHE_HOME'].includes(k)),
);

describe('repo ids in the local Hugging Face cache', function () {
  this.timeout(60000);
  let dir: string, cache: string, model: string, v1: string, main: FakeSnapshot, tagged: FakeSnapshot;
  const out = (name: string) => path.join(dir, name);
  const cli = (env: NodeJS.ProcessEnv, ...args: string[]) => spawnSync(process.execPath, [cliPath, ...args], { cwd: dir, env: { ...CLEAN, ...env }, encoding: 'utf8' });
  const same = async (a: string, b: string) => assert.ok((await readFile(a)).equals(await readFile(b)), `${a} and ${b} differ`);

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'tz-hub-'));
    cache = out('hub');
    model = out('model');
    v1 = out('model-v1');
    await generateCheckpoint(model, { ...SMALL, shards: 2 });
    await generateCheckpoint(v1, { ...SMALL, seed: 2 });
    main = await addSnapshot(cache, 'org/name', model, { commit: 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678' });
    tagged = await addSnapshot(cache, 'org/name', v1, { commit: 'a1b2c3d999999999999999999999999999999999', branch: 'v1.0' });
    await compress(model, out('ref.tzip'), { method: 'rtn:4' });
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('parses org/name[@rev] as the Hub allows it, and nothing else', () => {
    assert.deepEqual(parseRepoId('meta-llama/Llama-3.1-8B'), { org: 'meta-llama', name: 'Llama-3.1-8B' });
    assert.deepEqual(parseRepoId('Qwen/Qwen2.5-0.5B@refs/pr/1'), { org: 'Qwen', name: 'Qwen2.5-0.5B', rev: 'refs/pr/1' });
    for (const bad of ['name', 'a/b/c', './x', '../x', 'org/', '/org/name', 'org/-x', 'org/x.', 'org/a--b', 'org/a..b', 'org/name@', 'org/name@../x', 'org/name@a b'])
      assert.equal(parseRepoId(bad), undefined, bad);
  });

  it('finds the cache as huggingface_hub does: HF_HUB_CACHE, HUGGINGFACE_HUB_CACHE, $HF_HOME/hub, $XDG_CACHE_HOME/huggingface/hub, ~/.cache/huggingface/hub', () => {
    const all = { HF_HUB_CACHE: '/a', HUGGINGFACE_HUB_CACHE: '/b', HF_HOME: '/c', XDG_CACHE_HOME: '/d' };
    assert.equal(hubCacheDir(all), '/a');
    assert.equal(hubCacheDir({ ...all, HF_HUB_CACHE: undefined }), '/b');
    assert.equal(hubCacheDir({ HF_HOME: '/c', XDG_CACHE_HOME: '/d' }), path.join('/c', 'hub'));
    assert.equal(hubCacheDir({ XDG_CACHE_HOME: '/d' }), path.join('/d', 'huggingface', 'hub'));
    assert.equal(hubCacheDir({}), path.join(os.homedir(), '.cache', 'huggingface', 'hub'));
    assert.equal(hubCacheDir({ HF_HOME: '~/hf' }), path.join(os.homedir(), 'hf', 'hub'));
  });

  it('resolves refs/main, a branch or tag, a full commit hash and a unique prefix to their snapshot', async () => {
    const env = { HF_HUB_CACHE: cache };
    assert.equal(await resolveModel('org/name', env), main.snapshot);
    assert.equal(await resolveModel('org/name@main', env), main.snapshot);
    assert.equal(await resolveModel('org/name@v1.0', env), tagged.snapshot);
    assert.equal(await resolveModel(`org/name@${tagged.commit}`, env), tagged.snapshot);
    assert.equal(await resolveModel('org/name@a1b2c3d4', env), main.snapshot);
    await assert.rejects(resolveModel('org/name@a1b2c3d', env), /a1b2c3d begins 2 snapshots in .*snapshots \(a1b2c3d4e5f6.*, a1b2c3d9999.*\); give more of the commit hash/);
  });

  it('says where it looked and that nothing is downloaded when the model or revision is not there', async () => {
    const env = { HF_HUB_CACHE: cache };
    await assert.rejects(resolveModel('org/other', env), new RegExp(`^Error: org/other: no such file or directory, and not in the Hugging Face cache at ${cache} \\(no models--org--other there\\); tensorzip reads the local cache only and downloads nothing`));
    await assert.rejects(resolveModel('org/name@v2', env), new RegExp(`org/name@v2: revision v2 is not in the Hugging Face cache at ${cache} \\(models--org--name: it has refs main, v1\\.0 and snapshots a1b2c3d, a1b2c3d;.*downloads nothing`));
    await mkdir(path.join(cache, 'models--org--broken', 'refs'), { recursive: true });
    await writeFile(path.join(cache, 'models--org--broken', 'refs', 'main'), 'ffffffffffffffffffffffffffffffffffffffff');
    await assert.rejects(resolveModel('org/broken', env), /refs\/main in .*models--org--broken names commit "f{40}", whose snapshot is not in the cache/);
  });

  it('compress takes a repo id: the container of the model itself (HF_HUB_CACHE, then $HF_HOME/hub)', async () => {
    let r = cli({ HF_HUB_CACHE: cache }, 'compress', 'org/name', '-o', 'a.tzip', '-m', 'rtn:4');
    assert.equal(r.status, 0, r.stderr);
    await same(out('a.tzip'), out('ref.tzip'));
    const home = out('hf-home');
    await addSnapshot(path.join(home, 'hub'), 'org/name', model, { commit: main.commit });
    r = cli({ HF_HOME: home }, 'compress', 'org/name@main', '-o', 'b.tzip', '-m', 'rtn:4', '--json');
    assert.equal(r.status, 0, r.stderr);
    await same(out('b.tzip'), out('ref.tzip'));
    assert.equal(JSON.parse(r.stdout).input, path.join(home, 'hub', 'models--org--name', 'snapshots', main.commit));
  });

  it('verify --against, eval and imatrix take a repo id', async () => {
    const env = { HF_HUB_CACHE: cache };
    const v = cli(env, 'verify', 'ref.tzip', '--against', `org/name@${main.commit.slice(0, 10)}`);
    assert.equal(v.status, 0, v.stderr + v.stdout);
    assert.match(v.stdout, /verify: OK/);
    await writeFile(out('text.txt'), 'A repo id names a model in the cache. '.repeat(20));
    const e = cli(env, 'eval', 'org/name@v1.0', '--text', 'text.txt', '--ctx', '64', '--against', 'org/name', '--json');
    assert.equal(e.status, 0, e.stderr);
    const j = JSON.parse(e.stdout);
    assert.equal(j.model, tagged.snapshot);
    assert.equal(j.reference.model, main.snapshot);
    const i = cli(env, 'imatrix', 'org/name', '--text', 'text.txt', '--ctx', '64', '-o', 'im.safetensors');
    assert.equal(i.status, 0, i.stderr);
  });

  it('an existing local path wins over a repo id of the same spelling', async () => {
    await generateCheckpoint(out('org/name'), { ...SMALL, seed: 3 });
    await compress(out('org/name'), out('local-ref.tzip'), { method: 'rtn:4' });
    const r = cli({ HF_HUB_CACHE: cache }, 'compress', 'org/name', '-o', 'local.tzip', '-m', 'rtn:4');
    assert.equal(r.status, 0, r.stderr);
    await same(out('local.tzip'), out('local-ref.tzip'));
    await rm(out('org'), { recursive: true });
  });

  it('a repo id that is not in the cache: one line naming the cache dir, exit 1, no output', async () => {
    for (const args of [['compress', 'org/missing', '-o', 'missing.tzip'], ['verify', 'ref.tzip', '--against', 'org/missing']]) {
      const r = cli({ HF_HUB_CACHE: cache }, ...args);
      assert.equal(r.status, 1, r.stderr);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`^tensorzip: org/missing: no such file or directory, and not in the Hugging Face cache at ${cache} .*downloads nothing`));
    }
    assert.ok(!(await readdir(dir)).some((f) => f.includes('missing')), 'no output');
  });
});
