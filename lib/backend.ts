import { native, type NativeBackendInfo } from './native';

export type BackendInfo = NativeBackendInfo;

/**
 * Which kernels this process uses: the CPU path ('avx2' or 'scalar', with the reason) and either
 * the CUDA library with its GPUs or the reason CUDA is unavailable. The CUDA probe runs once.
 */
export function backendInfo(): BackendInfo {
  return native.backendInfo();
}
