// One compress in a process of its own, so that `tensorzip bench e2e` can report the peak RSS of
// exactly that run. Started by e2e.ts with fork(); answers one message with the report.
import { compress, type CompressOptions } from '../compress';

export interface ChildRequest {
  input: string;
  output: string;
  options: Omit<CompressOptions, 'signal' | 'onProgress'>;
}
export type ChildReply = { report: Awaited<ReturnType<typeof compress>>; maxRssBytes: number } | { error: string };

// SIGTERM (the parent's abort) aborts compress, which removes its temp files before exiting.
const controller = new AbortController();
process.once('SIGTERM', () => controller.abort());

process.once('message', (req: ChildRequest) => {
  compress(req.input, req.output, { ...req.options, signal: controller.signal })
    .then((report): ChildReply => ({ report, maxRssBytes: process.resourceUsage().maxRSS * 1024 }))
    .catch((e: unknown): ChildReply => ({ error: e instanceof Error ? e.message : String(e) }))
    .then((reply) => process.send!(reply, () => process.disconnect()));
});
