// Where compress runs its heavy kernels: `--device auto|cpu|cuda|cuda:N`, resolved once per run.
// The methods pass the device unchanged to the addon, whose backend table (binding/
// backend_table.cc) runs each kernel that has a CUDA version in libtensorzip_cuda and the rest on
// the CPU, saying which fell back and why. The GPU kernels follow the CPU references' definitions
// operation for operation, so the container does not depend on the device.
import { backendInfo } from './backend';
import { SpecError } from './core/errors';
import type { NativeDevice } from './native';

export type DeviceSpec = 'auto' | 'cpu' | 'cuda' | `cuda:${number}`;

export interface Device {
  /** The GPU index, or undefined for the CPU. */
  cuda?: number;
  /** e.g. 'cuda:0 (NVIDIA H100 80GB HBM3)', or 'cpu'. */
  label: string;
}

export function parseDevice(text: string): DeviceSpec {
  if (text === 'auto' || text === 'cpu' || text === 'cuda' || /^cuda:[0-9]{1,3}$/.test(text)) return text as DeviceSpec;
  throw new SpecError(`--device must be auto, cpu, cuda or cuda:N, got '${text}'`);
}

/** auto: the first GPU when the CUDA backend is available, else the CPU. cuda / cuda:N: that GPU,
 * or an error saying why there is none. */
export function resolveDevice(spec: DeviceSpec = 'auto'): Device {
  if (spec === 'cpu') return { label: 'cpu' };
  const { cuda } = backendInfo();
  if (!('gpus' in cuda)) {
    if (spec === 'auto') return { label: 'cpu' };
    throw new SpecError(`--device ${spec}: CUDA is not available (${cuda.unavailable})`);
  }
  const index = spec.startsWith('cuda:') ? Number(spec.slice(5)) : 0;
  if (index >= cuda.gpus.length) throw new SpecError(`--device ${spec}: there ${cuda.gpus.length === 1 ? 'is 1 GPU' : `are ${cuda.gpus.length} GPUs`} (cuda:0${cuda.gpus.length > 1 ? `…cuda:${cuda.gpus.length - 1}` : ''})`);
  return { cuda: index, label: `cuda:${index} (${cuda.gpus[index].name})` };
}

/** A run's device as the addon takes it, recording each kernel (capability) that had to run on
 * the CPU and why; describe() is the report's `device` string. */
export class DeviceUse {
  readonly native?: NativeDevice;
  private readonly fallbacks = new Map<string, string>();

  constructor(readonly device: Device) {
    if (device.cuda !== undefined) this.native = { cuda: device.cuda, onFallback: (capability, reason) => this.fallbacks.set(capability, reason) };
  }

  /** e.g. 'cuda:0 (NVIDIA H100) + cpu (avx2, 8 threads); on the CPU: seedlm decode (no CUDA kernel)'. */
  describe(cpu: string, threads: number): string {
    const notes = [...this.fallbacks].sort(([a], [b]) => a.localeCompare(b)).map(([capability, reason]) => `${capability} (${reason})`);
    return `${this.native ? `${this.device.label} + ` : ''}cpu (${cpu}, ${threads} threads)${notes.length ? `; on the CPU: ${notes.join(', ')}` : ''}`;
  }
}

/** The GPUs of `--devices all|0,1,…`, checked against the CUDA backend. */
export function parseDeviceList(text: string): number[] {
  const { cuda } = backendInfo();
  if (!('gpus' in cuda)) throw new SpecError(`--devices ${text}: CUDA is not available (${cuda.unavailable})`);
  if (text === 'all') return cuda.gpus.map((_, i) => i);
  const list = text.split(',').map((s) => s.trim());
  if (!list.every((s) => /^[0-9]{1,3}$/.test(s))) throw new SpecError(`--devices must be all or GPU indices such as 0,1, got '${text}'`);
  const indices = list.map(Number);
  if (new Set(indices).size !== indices.length) throw new SpecError(`--devices ${text}: a GPU is listed twice`);
  const bad = indices.find((i) => i >= cuda.gpus.length);
  if (bad !== undefined) throw new SpecError(`--devices ${text}: there is no GPU ${bad} (${cuda.gpus.length} found)`);
  return indices;
}
