// One compress in a process of its own, so that `tensorzip bench e2e` can report the peak RSS of
// exactly that run. Started by e2e.ts with fork(); answers one message with the report.
import { readFileSync } from 'node:fs';
import { compress, type CompressOptions } from '../../pipeline/compress';

export interface ChildRequest {
  input: string;
  output: string;
  options: Omit<CompressOptions, 'signal' | 'onProgress'>;
}
export type ChildReply = { report: Awaited<ReturnType<typeof compress>>; maxRssBytes: number } | { error: string };

// SIGTERM (the parent's abort) aborts compress, which removes its temp files before exiting.
const controller = new AbortController();
process.once('SIGTERM', () => controller.abort());

/** This process's peak RSS. On Linux, VmHWM of its own address space: getrusage's maxRSS keeps the
 * high-water mark from before exec, i.e. the parent's RSS at fork time, which a large parent inflates. */
function peakRssBytes(): number {
  try {
    const kb = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (kb) return Number(kb[1]) * 1024;
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS * 1024;
}

process.once('message', (req: ChildRequest) => {
  compress(req.input, req.output, { ...req.options, signal: controller.signal })
    .then((report): ChildReply => ({ report, maxRssBytes: peakRssBytes() }))
    .catch((e: unknown): ChildReply => ({ error: e instanceof Error ? e.message : String(e) }))
    .then((reply) => process.send!(reply, () => process.disconnect()));
});
