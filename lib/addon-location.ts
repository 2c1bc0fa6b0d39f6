// Where the native addon comes from, in this order:
//   1. build/Release/tensorzip.node: a source build (a checkout, or `tensorzip build` in an
//      installed package), so a user's own build always wins over the shipped binary;
//   2. the platform package @tensorzip/<platform>-<arch>[-<libc>] (an optional dependency that
//      npm installs only on its os/cpu/libc): the addon and the CUDA library, no install script.
// Pure functions of what they are given, so every outcome is testable without another platform.
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

/** The platforms a platform package is published for (npm/<suffix>/package.json in the repo). */
export const PUBLISHED_PLATFORMS = ['linux-x64-gnu'];

/** The part of the platform package's name after `@tensorzip/`, e.g. linux-x64-gnu; glibc and
 * musl builds are distinct packages on Linux. */
export function platformSuffix(platform: string, arch: string, glibc: boolean): string {
  return platform === 'linux' ? `linux-${arch}-${glibc ? 'gnu' : 'musl'}` : `${platform}-${arch}`;
}

export interface AddonLocation {
  file: string;
  /** 'source': build/Release; 'package': the platform package. */
  kind: 'source' | 'package';
  /** For a platform package: the newest glibc its binaries need (its tensorzip.json). */
  glibc?: string;
}

/** How to build the addon here, said wherever no addon can be found or loaded. */
export const BUILD_FROM_SOURCE =
  'build it from source: install cmake, a C++17 compiler and liblzma-dev (Debian/Ubuntu: apt-get install cmake g++ liblzma-dev), ' +
  'then npm install cmake-js node-addon-api and run npx tensorzip build';

/** Finds the addon for this platform, or throws saying why there is none and what to do.
 * resolvePackage returns a package's directory, or undefined where it is not installed. */
export function locateAddon(root: string, platform: string, arch: string, glibc: boolean, resolvePackage: (name: string) => string | undefined): AddonLocation {
  const source = path.join(root, 'build', 'Release', 'tensorzip.node');
  if (existsSync(source)) return { file: source, kind: 'source' };
  const suffix = platformSuffix(platform, arch, glibc);
  const name = `@tensorzip/${suffix}`;
  if (!PUBLISHED_PLATFORMS.includes(suffix))
    throw new Error(`tensorzip: no prebuilt addon is published for ${suffix} (only for ${PUBLISHED_PLATFORMS.join(', ')}); ${BUILD_FROM_SOURCE}.`);
  const dir = resolvePackage(name);
  if (!dir)
    throw new Error(
      `tensorzip: the package ${name}, which holds the native addon for this platform, is not installed. It is an optional ` +
        'dependency of tensorzip: reinstall without --omit=optional / --no-optional, or ' + BUILD_FROM_SOURCE + '.',
    );
  const file = path.join(dir, 'tensorzip.node');
  if (!existsSync(file)) throw new Error(`tensorzip: ${name} is installed at ${dir} but has no tensorzip.node; reinstall it, or ${BUILD_FROM_SOURCE}.`);
  let glibcNeeded: string | undefined;
  try {
    glibcNeeded = JSON.parse(readFileSync(path.join(dir, 'tensorzip.json'), 'utf8')).glibc;
  } catch {
    glibcNeeded = undefined; // nothing recorded: the loader's own error will speak
  }
  return { file, kind: 'package', glibc: glibcNeeded };
}

/** A package's directory as Node resolves it from `from`, or undefined where it is not installed. */
export function resolvePackageDir(name: string, from: string): string | undefined {
  try {
    return path.dirname(require.resolve(`${name}/package.json`, { paths: [from] }));
  } catch {
    return undefined;
  }
}
