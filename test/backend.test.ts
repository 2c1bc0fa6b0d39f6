// Backend selection: the CPU path (cpuid dispatch, TENSORZIP_CPU=scalar) and the optional CUDA
// library, whose every failure mode must leave the addon working on CPU with a clear reason.
// The CUDA probe runs once per process, so each case runs in a child process.
import { strict as assert } from 'node:assert';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { backendInfo } from '../lib/index';
import { checkAddonVersion, checkPrebuildGlibc, compareVersions, native, packageVersion } from '../lib/native';
import { backendInfoWith, root, runNode } from './helpers';

const fakeDriver = path.join(root, 'build', 'test-fixtures', 'libtensorzip_fake_libcuda.so');
const cudaLibrary = path.join(root, 'build', 'Release', 'libtensorzip_cuda.so');
const noDriver = { TENSORZIP_LIBCUDA: '/nonexistent/libcuda.so.1' };

describe('backendInfo', () => {
  it('reports the CPU path the CPU supports, with the reason', () => {
    const info = backendInfo();
    const f = info.cpuFeatures;
    const avx2 = f.avx && f.avx2 && f.fma && f.f16c;
    if (process.env.TENSORZIP_CPU === 'scalar') assert.equal(info.cpu, 'scalar');
    else assert.equal(info.cpu, avx2 ? 'avx2' : 'scalar');
    assert.ok(info.cpuReason.length > 0);
  });

  it('TENSORZIP_CPU=scalar forces the scalar path', () => {
    const info = backendInfoWith({ TENSORZIP_CPU: 'scalar' });
    assert.equal(info.cpu, 'scalar');
    assert.match(info.cpuReason, /TENSORZIP_CPU=scalar/);
  });

  it('an unrecognised TENSORZIP_CPU value is reported, not silently ignored', () => {
    const info = backendInfoWith({ TENSORZIP_CPU: 'sclar' });
    assert.match(info.cpuReason, /TENSORZIP_CPU=sclar ignored: use scalar or auto/);
  });

  it('the addon carries the package version, and one built for another version is refused', () => {
    assert.equal((native as unknown as { version: string }).version, packageVersion);
    assert.doesNotThrow(() => checkAddonVersion(packageVersion, 'x.node'));
    assert.throws(() => checkAddonVersion('0.0.9', '/p/node_modules/@tensorzip/linux-x64-gnu/tensorzip.node', '0.1.0'),
      /linux-x64-gnu\/tensorzip\.node was built for tensorzip 0\.0\.9, but this package is 0\.1\.0\. Install the matching platform package \(npm install tensorzip@0\.1\.0\), or rebuild it: npx tensorzip build/);
    assert.throws(() => checkAddonVersion(undefined, 'old.node', '0.1.0'), /built for tensorzip \(unknown version\)/);
  });

  it('a prebuild that needs a newer glibc than the system has is refused before loading', () => {
    assert.ok(compareVersions('2.34', '2.4') > 0 && compareVersions('2.31', '2.31.0') === 0 && compareVersions('2.28', '2.34') < 0);
    assert.doesNotThrow(() => checkPrebuildGlibc('2.34', '2.36', 'p.node'));
    assert.doesNotThrow(() => checkPrebuildGlibc(undefined, '2.17', 'local.node'));
    assert.throws(() => checkPrebuildGlibc('2.34', '2.31', '/x/node_modules/@tensorzip/linux-x64-gnu/tensorzip.node'),
      /needs glibc >= 2\.34, but this system has glibc 2\.31\. Instead, build it from source: .*npx tensorzip build/);
  });

  it("require('tensorzip') resolves to this package", () => {
    const r = runNode("const t = require('tensorzip'); console.log(typeof t.backendInfo, typeof t.convertAsync)");
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'function function');
  });

  describe('CUDA fallback (each case leaves the CPU path working)', () => {
    const ensureCpuWorks = (env: Record<string, string>) => {
      const r = runNode("const t = require('tensorzip'); console.log(t.f32ToBf16(new Float32Array([1]))[0])", env);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout.trim(), String(0x3f80));
    };

    it('no NVIDIA driver', () => {
      const info = backendInfoWith(noDriver);
      assert.match(info.cuda.unavailable, /^no NVIDIA driver: \/nonexistent\/libcuda\.so\.1 could not be loaded/);
      ensureCpuWorks(noDriver);
    });

    it('disabled with TENSORZIP_CUDA=off', () => {
      assert.equal(backendInfoWith({ TENSORZIP_CUDA: 'off' }).cuda.unavailable, 'disabled by TENSORZIP_CUDA=off');
    });

    describe('with a stand-in driver library', function () {
      before(function () {
        if (!existsSync(fakeDriver)) this.skip();
      });
      const driver = () => ({ TENSORZIP_LIBCUDA: fakeDriver });

      it('driver whose cuInit fails', () => {
        const info = backendInfoWith({ ...driver(), FAKE_CUDA_INIT_ERROR: '100' });
        assert.equal(info.cuda.unavailable, 'NVIDIA driver present but cuInit failed (CUresult 100)');
      });

      it('driver with no device', () => {
        const info = backendInfoWith({ ...driver(), FAKE_CUDA_DEVICES: '0' });
        assert.equal(info.cuda.unavailable, 'NVIDIA driver present but it reports no CUDA device');
      });

      it('missing CUDA library', () => {
        const env = { ...driver(), TENSORZIP_CUDA_LIBRARY: '/nonexistent/libtensorzip_cuda.so' };
        assert.match(backendInfoWith(env).cuda.unavailable, /CUDA library \/nonexistent\/libtensorzip_cuda\.so not found/);
        ensureCpuWorks(env);
      });

      it('a library that is not a tensorzip CUDA library', () => {
        const env = { ...driver(), TENSORZIP_CUDA_LIBRARY: fakeDriver };
        assert.match(backendInfoWith(env).cuda.unavailable, /is not a tensorzip CUDA library \(missing symbol tzc_abi_version\)/);
        ensureCpuWorks(env);
      });

      it('a file that is not a shared library', () => {
        const env = { ...driver(), TENSORZIP_CUDA_LIBRARY: path.join(root, 'package.json') };
        assert.match(backendInfoWith(env).cuda.unavailable, /^could not load CUDA library .*package\.json: /);
      });

      it('the real CUDA library when the CUDA runtime finds no real driver', function () {
        if (!existsSync(cudaLibrary)) this.skip(); // CPU-only build
        if (!('unavailable' in backendInfo().cuda) || !/no NVIDIA driver/.test(backendInfoWith({}).cuda.unavailable ?? '')) this.skip();
        const env = { ...driver(), TENSORZIP_CUDA_LIBRARY: cudaLibrary };
        assert.match(backendInfoWith(env).cuda.unavailable, /^CUDA runtime could not start: cudaGetDeviceCount: /);
        ensureCpuWorks(env);
      });
    });
  });
});
