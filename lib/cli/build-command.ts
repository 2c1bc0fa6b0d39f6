// `tensorzip build`: the source build, for platforms without a platform package or for anyone
// who prefers their own binary (lib/tools/build-native.ts). It needs no addon to run.
import type { Command } from 'commander';
import { lazy, interruptSignal, print } from './run';

export function addBuildCommand(program: Command): void {
  program
    .command('build')
    .description('build the native addon (and the CUDA library where nvcc is found) from the shipped sources; needs cmake, a C++17 compiler, liblzma-dev and the npm packages cmake-js and node-addon-api. The build is used instead of the platform package from then on')
    .option('--no-cuda', 'CPU only, even where nvcc is found (a CUDA library an earlier build left beside the addon is removed)')
    .option('--json', 'print the result as JSON')
    .action(async (o: { cuda: boolean; json?: boolean }) => {
      const { buildNative } = lazy<typeof import('../tools/build-native')>('../tools/build-native');
      const result = await buildNative({ cuda: o.cuda, signal: interruptSignal() });
      print(o.json, result, () =>
        `built ${result.addon}${result.cudaLibrary ? ` and ${result.cudaLibrary}` : ' (CPU only: ' + (o.cuda ? 'nvcc was not found' : '--no-cuda') + ')'}; ` +
          'tensorzip loads it from now on (remove the build/ folder to go back to the platform package)',
      );
    });
}
