// The machine's own limits, measured in the same run as the kernels they judge.
import { native } from '../lib/native';
import { measure } from './measure';

/**
 * Copy bandwidth in bytes read + written per second, with native memcpy on `threads` threads.
 * Measure it at the same traffic as the kernel it judges (cache sizes matter).
 */
export async function copyBandwidth(bytes: number, threads: number): Promise<number> {
  const src = new Uint8Array(bytes).fill(1);
  const dst = new Uint8Array(bytes).fill(2);
  const seconds = await measure(`copy ${threads}t`, () => native.copy(dst, src, threads));
  return (2 * bytes) / seconds;
}
