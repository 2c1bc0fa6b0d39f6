#!/usr/bin/env node
// The `tensorzip` command line. Exit codes: 0 success; 1 error (bad input, I/O, corrupted
// container); 2 usage error (bad option, method spec or policy); 3 verify found a difference;
// 4 bench --compare found a regression; 130 / 129 / 143 interrupted by SIGINT (Ctrl-C) / SIGHUP /
// SIGTERM, leaving no output behind.
// Commands by family in lib/cli/; option values are parsed by lib/cli/options.ts.
import { Command } from 'commander';
import { addBuildCommand } from './cli/build-command';
import { addBenchCommands } from './cli/bench-commands';
import { addDecodeCommands } from './cli/decode-commands';
import { addEncodeCommands } from './cli/encode-commands';
import { addModelCommands } from './cli/model-commands';
import { reportFailure } from './cli/run';
import { addToolCommands } from './cli/tool-commands';
import { version } from './version';

const program = new Command()
  .name('tensorzip')
  .description('Compress LLM checkpoints; every ratio and error is measured on the files themselves')
  .version(version)
  .exitOverride();
addEncodeCommands(program);
addDecodeCommands(program);
addModelCommands(program);
addToolCommands(program);
addBenchCommands(program);
addBuildCommand(program);
// When the command has settled, the process ends: a queue client whose server is gone would
// otherwise keep it alive, reconnecting for ever (stdout and stderr are synchronous on Linux).
program
  .parseAsync(process.argv)
  .catch(reportFailure)
  .finally(() => process.exit());
