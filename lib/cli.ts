#!/usr/bin/env node
// The `tensorzip` command line.
import { Command, InvalidArgumentError } from 'commander';
import { backendInfo } from './backend';
import { formatDemo, runDemo } from './demo';
import { version } from './version';

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

const program = new Command()
  .name('tensorzip')
  .description('Compress LLM checkpoints with measured ratios and errors')
  .version(version);

program
  .command('info')
  .description('show the CPU kernel path and the CUDA backend (or why it is unavailable)')
  .option('--json', 'print JSON')
  .action((opts: { json?: boolean }) => {
    const info = backendInfo();
    if (opts.json) {
      console.log(JSON.stringify(info, null, 2));
      return;
    }
    console.log(`tensorzip ${version}`);
    console.log(`CPU kernels: ${info.cpu} (${info.cpuReason})`);
    if ('gpus' in info.cuda) {
      console.log(`CUDA library: ${info.cuda.library}`);
      for (const g of info.cuda.gpus)
        console.log(`  ${g.name}, compute capability ${g.computeCapability}, ${(g.memoryBytes / 2 ** 30).toFixed(1)} GiB`);
    } else {
      console.log(`CUDA: unavailable (${info.cuda.unavailable})`);
    }
  });

program
  .command('demo')
  .description('run the native kernels on a generated LLM-like weight matrix and print measured results')
  .option('--rows <n>', 'matrix rows', positiveInt, 4096)
  .option('--cols <n>', 'matrix columns', positiveInt, 4096)
  .option('--seed <n>', 'generator seed', positiveInt, 1)
  .option('--json', 'print JSON')
  .action(async (opts: { rows: number; cols: number; seed: number; json?: boolean }) => {
    const result = await runDemo(opts);
    console.log(opts.json ? JSON.stringify(result, null, 2) : formatDemo(result));
  });

program.parseAsync(process.argv).catch((e: unknown) => {
  console.error(`tensorzip: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 1;
});
