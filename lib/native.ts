// Loads tensorzip.node (local build in build/Release, else prebuilds/<platform>-<arch>) through
// node-gyp-build and gives it a type. The one place that touches the raw module.
import * as path from 'node:path';
import nodeGypBuild = require('node-gyp-build');

/** What a native job returns: the promise plus a cancel function (used by runJob). */
export interface NativeJobHandle<T> {
  promise: Promise<T>;
  cancel(): void;
}

export type ProgressCallback = (done: number, total: number) => void;
export type ConvertKind = 'f32_to_bf16' | 'bf16_to_f32' | 'f32_to_f16' | 'f16_to_f32';
export type KernelPath = 'auto' | 'scalar' | 'avx2';

export interface NativeGpu {
  name: string;
  computeCapability: string;
  memoryBytes: number;
  multiprocessors: number;
}

export interface NativeBackendInfo {
  cpu: 'avx2' | 'scalar';
  cpuReason: string;
  cpuFeatures: { avx: boolean; avx2: boolean; fma: boolean; f16c: boolean };
  cuda: { library: string; gpus: NativeGpu[] } | { unavailable: string };
}

export interface NativeBinding {
  backendInfo(): NativeBackendInfo;
  convert(kind: ConvertKind, src: Float32Array | Uint16Array, dst: Float32Array | Uint16Array, path?: KernelPath): void;
  convertAsync(
    kind: ConvertKind,
    src: Float32Array | Uint16Array,
    dst: Float32Array | Uint16Array,
    options: { threads?: number; device?: 'cpu' | 'cuda'; cudaDevice?: number },
    onProgress?: ProgressCallback,
  ): NativeJobHandle<void>;
  copy(dst: Uint8Array, src: Uint8Array, threads?: number): void;
  activeJobs(): number;
  jobSelfTest(
    options: { steps?: number; stepMs?: number; failAt?: number },
    onProgress?: ProgressCallback,
  ): NativeJobHandle<number>;
}

/** The package root (holds package.json, build/ and prebuilds/), from dist/lib/. */
export const packageRoot = path.resolve(__dirname, '..', '..');

function load(): NativeBinding {
  try {
    return nodeGypBuild(packageRoot) as NativeBinding;
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e);
    throw new Error(
      `tensorzip: could not load the native addon (${reason}). ` +
        'Build it with `npm run build:native` (needs cmake and a C++17 compiler) or install a package with prebuilds.',
    );
  }
}

export const native: NativeBinding = load();
