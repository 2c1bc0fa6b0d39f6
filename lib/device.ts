// Where compress runs its heavy kernels: `--device auto|cpu|cuda|cuda:N`. On a GPU, seedlm's
// exhaustive search and vptq's k-means (training and assignment) run in libtensorzip_cuda; the
// rest (reading, the other methods, LZMA, the error metrics) stays on the CPU. The GPU kernels
// follow the CPU references' definitions operation for operation, so the container does not
// depend on the device.
import { backendInfo } from './backend';

export type DeviceSpec = 'auto' | 'cpu' | 'cuda' | `cuda:${number}`;

export interface Device {
  /** The GPU index, or undefined for the CPU. */
  cuda?: number;
  /** e.g. 'cuda:0 (NVIDIA H100 80GB HBM3)', or 'cpu'. */
  label: string;
}

export function parseDevice(text: string): DeviceSpec {
  if (text === 'auto' || text === 'cpu' || text === 'cuda' || /^cuda:[0-9]{1,3}$/.test(text)) return text as DeviceSpec;
  throw new Error(`--device must be auto, cpu, cuda or cuda:N, got '${text}'`);
}

/** auto: the first GPU when the CUDA backend is available, else the CPU. cuda / cuda:N: that GPU,
 * or an error saying why there is none. */
export function resolveDevice(spec: DeviceSpec = 'auto'): Device {
  if (spec === 'cpu') return { label: 'cpu' };
  const { cuda } = backendInfo();
  if (!('gpus' in cuda)) {
    if (spec === 'auto') return { label: 'cpu' };
    throw new Error(`--device ${spec}: CUDA is not available (${cuda.unavailable})`);
  }
  const index = spec.startsWith('cuda:') ? Number(spec.slice(5)) : 0;
  if (index >= cuda.gpus.length) throw new Error(`--device ${spec}: there ${cuda.gpus.length === 1 ? 'is 1 GPU' : `are ${cuda.gpus.length} GPUs`} (cuda:0${cuda.gpus.length > 1 ? `…cuda:${cuda.gpus.length - 1}` : ''})`);
  return { cuda: index, label: `cuda:${index} (${cuda.gpus[index].name})` };
}

/** The GPUs of `--devices all|0,1,…`, checked against the CUDA backend. */
export function parseDeviceList(text: string): number[] {
  const { cuda } = backendInfo();
  if (!('gpus' in cuda)) throw new Error(`--devices ${text}: CUDA is not available (${cuda.unavailable})`);
  if (text === 'all') return cuda.gpus.map((_, i) => i);
  const list = text.split(',').map((s) => s.trim());
  if (!list.every((s) => /^[0-9]{1,3}$/.test(s))) throw new Error(`--devices must be all or GPU indices such as 0,1, got '${text}'`);
  const indices = list.map(Number);
  if (new Set(indices).size !== indices.length) throw new Error(`--devices ${text}: a GPU is listed twice`);
  const bad = indices.find((i) => i >= cuda.gpus.length);
  if (bad !== undefined) throw new Error(`--devices ${text}: there is no GPU ${bad} (${cuda.gpus.length} found)`);
  return indices;
}

/** The options of a native call that may run on the GPU. */
export function deviceOptions(cuda: number | undefined): { device?: 'cuda'; cudaDevice?: number } {
  return cuda === undefined ? {} : { device: 'cuda', cudaDevice: cuda };
}
