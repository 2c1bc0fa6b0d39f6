// `tensorzip build`: builds the native addon (and the CUDA library where nvcc is found) from the
// sources the package ships, with cmake-js, into build/Release, which the loader prefers to the
// platform package. It is the only path that needs cmake-js, node-addon-api, cmake and a
// compiler; installing tensorzip needs none of them and runs no script.
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { resolvePackageDir } from '../addon-location';
import { AbortError } from '../core/errors';
import { packageRoot, packageVersion } from '../native';

export interface BuildOptions {
  /** false: CPU only, even where nvcc is found (CMake's TENSORZIP_CUDA=OFF). */
  cuda: boolean;
  signal?: AbortSignal;
}

export interface BuildResult {
  addon: string;
  /** The CUDA library, where one was built. */
  cudaLibrary?: string;
}

const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;

/** Everything the build needs, checked before it starts: one error naming all that is missing. */
export function buildProblems(): string[] {
  const problems: string[] = [];
  if (!has('cmake')) problems.push('cmake (>= 3.18; Debian/Ubuntu: apt-get install cmake)');
  if (!has('c++') && !has('g++') && !has('clang++')) problems.push('a C++17 compiler (Debian/Ubuntu: apt-get install g++)');
  const npmMissing = ['cmake-js', 'node-addon-api'].filter((m) => !resolvePackageDir(m, packageRoot));
  if (npmMissing.length) problems.push(`the npm package${npmMissing.length > 1 ? 's' : ''} ${npmMissing.join(' and ')} (npm install ${npmMissing.map((m) => `${m}@^8`).join(' ')})`);
  try {
    accessSync(packageRoot, constants.W_OK);
  } catch {
    problems.push(`write access to ${packageRoot}, where build/ is made`);
  }
  return problems;
}

export async function buildNative(options: BuildOptions): Promise<BuildResult> {
  const problems = buildProblems();
  if (problems.length) throw new Error(`cannot build the native addon from source: missing ${problems.join('; ')}`);
  const cmakeJs = path.join(resolvePackageDir('cmake-js', packageRoot)!, 'bin', 'cmake-js');
  // As a cache definition, not the environment: an earlier configure's choice stays in CMake's cache.
  const cudaFlag = `--CDTENSORZIP_CUDA=${options.cuda ? 'ON' : 'OFF'}`;
  // The compiler's output goes to stderr: stdout stays the command's report.
  // A process group of its own, stopped as a whole: cmake-js does not pass a signal on to cmake
  // and ninja, which would otherwise go on building after this command has ended.
  const child = spawn(process.execPath, [cmakeJs, 'compile', cudaFlag], { cwd: packageRoot, stdio: ['ignore', 2, 2], detached: true });
  const onAbort = () => {
    try {
      process.kill(-child.pid!, 'SIGINT');
    } catch {
      // already gone
    }
  };
  options.signal?.addEventListener('abort', onAbort, { once: true });
  const code = await new Promise<number | null>((resolve, reject) => child.on('error', reject).on('close', resolve));
  options.signal?.removeEventListener('abort', onAbort);
  if (options.signal?.aborted) throw new AbortError();
  if (code !== 0) throw new Error('building the native addon from source failed (the compiler output is above)');

  const release = path.join(packageRoot, 'build', 'Release');
  const addon = path.join(release, 'tensorzip.node');
  // Loaded in a child: this process may already hold another copy of the addon.
  const check = spawnSync(process.execPath, ['-e', `console.log(require(${JSON.stringify(addon)}).version)`], { encoding: 'utf8' });
  const built = check.stdout.trim();
  if (check.status !== 0 || built !== packageVersion)
    throw new Error(`the addon was built but ${check.status !== 0 ? `does not load: ${check.stderr.trim().split('\n')[0]}` : `reports version ${built || '(none)'}, not ${packageVersion}`}`);
  const cudaLibrary = path.join(release, 'libtensorzip_cuda.so');
  // A CPU-only build leaves no library of an earlier build beside the addon, which would load it.
  if (!options.cuda) rmSync(cudaLibrary, { force: true });
  return { addon, cudaLibrary: options.cuda && existsSync(cudaLibrary) ? cudaLibrary : undefined };
}
