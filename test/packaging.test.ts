// How the package installs: the addon comes from a source build or the platform package
// (lib/addon-location.ts), both package.json files agree and run no install script, and what is
// optional (the platform package, queue mode's bullmq and ioredis) fails in words where absent.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { locateAddon, platformSuffix, PUBLISHED_PLATFORMS } from '../lib/addon-location';
import { cliPath, root } from './helpers';

const readJson = (file: string) => JSON.parse(readFileSync(file, 'utf8'));
const INSTALL_SCRIPTS = ['preinstall', 'install', 'postinstall', 'prepare'];

describe('packaging', () => {
  const main = readJson(path.join(root, 'package.json'));

  it('tensorzip and each platform package agree on the version, and neither runs a script at install', () => {
    assert.deepEqual(INSTALL_SCRIPTS.filter((s) => main.scripts[s]), []);
    assert.deepEqual(Object.keys(main.optionalDependencies), PUBLISHED_PLATFORMS.map((p) => `@tensorzip/${p}`));
    for (const suffix of PUBLISHED_PLATFORMS) {
      const pkg = readJson(path.join(root, 'npm', suffix, 'package.json'));
      assert.equal(pkg.name, `@tensorzip/${suffix}`);
      assert.equal(pkg.version, main.version);
      assert.equal(main.optionalDependencies[pkg.name], main.version, 'an exact version: the addon must match the JS');
      assert.deepEqual(INSTALL_SCRIPTS.filter((s) => pkg.scripts?.[s]), []);
      const [platform, arch, libc] = suffix.split('-');
      assert.deepEqual([pkg.os, pkg.cpu, pkg.libc], [[platform], [arch], [libc === 'gnu' ? 'glibc' : 'musl']]);
      assert.ok(pkg.files.includes('tensorzip.node') && pkg.files.includes('LICENSE'));
    }
  });

  it('building from source and queue mode are optional peer dependencies, not installed with tensorzip', () => {
    for (const name of ['cmake-js', 'node-addon-api', 'bullmq', 'ioredis']) {
      assert.ok(!main.dependencies[name], `${name} is a dependency`);
      assert.ok(main.peerDependencies[name] && main.peerDependenciesMeta[name]?.optional, `${name} is not an optional peer`);
    }
    assert.ok(!main.dependencies['node-gyp-build']);
    for (const field of ['repository', 'homepage', 'keywords', 'license', 'os', 'cpu']) assert.ok(main[field], `package.json has no ${field}`);
    assert.ok(main.files.includes('LICENSE') && readFileSync(path.join(root, 'LICENSE'), 'utf8').startsWith('MIT License'));
  });

  describe('where the addon comes from', () => {
    let dir: string;
    beforeEach(() => (dir = mkdtempSync(path.join(os.tmpdir(), 'tensorzip-addon-'))));
    afterEach(() => rmSync(dir, { recursive: true, force: true }));
    const none = () => undefined;

    it('the platform package names glibc and musl Linux builds apart', () => {
      assert.equal(platformSuffix('linux', 'x64', true), 'linux-x64-gnu');
      assert.equal(platformSuffix('linux', 'arm64', false), 'linux-arm64-musl');
      assert.equal(platformSuffix('darwin', 'arm64', false), 'darwin-arm64');
    });

    it('a source build in build/Release wins over the platform package', () => {
      mkdirSync(path.join(dir, 'build', 'Release'), { recursive: true });
      writeFileSync(path.join(dir, 'build', 'Release', 'tensorzip.node'), '');
      const where = locateAddon(dir, 'linux', 'x64', true, () => '/elsewhere');
      assert.deepEqual(where, { file: path.join(dir, 'build', 'Release', 'tensorzip.node'), kind: 'source' });
    });

    it('the platform package, with the glibc its binaries need', () => {
      const pkg = path.join(dir, 'pkg');
      mkdirSync(pkg);
      writeFileSync(path.join(pkg, 'tensorzip.node'), '');
      writeFileSync(path.join(pkg, 'tensorzip.json'), JSON.stringify({ version: '0.1.0', glibc: '2.34' }));
      assert.deepEqual(locateAddon(dir, 'linux', 'x64', true, (name) => (name === '@tensorzip/linux-x64-gnu' ? pkg : undefined)), {
        file: path.join(pkg, 'tensorzip.node'), kind: 'package', glibc: '2.34',
      });
    });

    it('each way of having no addon says why and how to build one', () => {
      assert.throws(() => locateAddon(dir, 'linux', 'x64', true, none),
        /@tensorzip\/linux-x64-gnu, which holds the native addon for this platform, is not installed.*--omit=optional.*npx tensorzip build/);
      assert.throws(() => locateAddon(dir, 'darwin', 'arm64', false, none), /no prebuilt addon is published for darwin-arm64 \(only for linux-x64-gnu\); build it from source/);
      assert.throws(() => locateAddon(dir, 'linux', 'x64', false, none), /no prebuilt addon is published for linux-x64-musl/);
      assert.throws(() => locateAddon(dir, 'linux', 'x64', true, () => dir), /is installed at .* but has no tensorzip\.node; reinstall it, or build it from source/);
    });
  });

  it('tensorzip build without cmake or a compiler names what is missing, and builds nothing', () => {
    const bin = mkdtempSync(path.join(os.tmpdir(), 'tensorzip-bin-'));
    try {
      symlinkSync(process.execPath, path.join(bin, 'node')); // a PATH with node and nothing else
      const r = spawnSync(process.execPath, [cliPath, 'build'], { encoding: 'utf8', env: { ...process.env, PATH: bin } });
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, /^tensorzip: cannot build the native addon from source: missing cmake \(>= 3\.18; .*\); a C\+\+17 compiler/);
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
  });

  it('--version and --help need no addon; queue mode without bullmq says what to install', () => {
    // A preload that makes the addon and bullmq unloadable, as on a machine without them.
    const preload = path.join(os.tmpdir(), `tensorzip-hide-${process.pid}.js`);
    writeFileSync(preload, `
      const Module = require('module'); const resolve = Module._resolveFilename;
      Module._resolveFilename = function (request, ...rest) {
        if (request === 'bullmq' || request.endsWith('tensorzip.node')) { const e = new Error("Cannot find module '" + request + "'"); e.code = 'MODULE_NOT_FOUND'; throw e; }
        return resolve.call(this, request, ...rest);
      };`);
    try {
      const run = (...args: string[]) => spawnSync(process.execPath, ['--require', preload, cliPath, ...args], { encoding: 'utf8' });
      const version = run('--version');
      assert.equal(version.status, 0, version.stderr);
      assert.equal(version.stdout.trim(), main.version);
      assert.equal(run('build', '--help').status, 0);
      const info = run('info');
      assert.equal(info.status, 1);
      assert.match(info.stderr, /^tensorzip: could not load the native addon .*tensorzip\.node \(Cannot find module/);
      const queued = run('worker', '--queue', 'redis://127.0.0.1:1', '--root', os.tmpdir());
      assert.equal(queued.status, 1);
      assert.match(queued.stderr, /^tensorzip: queue mode \(--queue, worker, bench queue\) needs the npm packages bullmq and ioredis.*npm install bullmq@\^5 ioredis@\^5\n$/);
    } finally {
      rmSync(preload, { force: true });
    }
  });
});
