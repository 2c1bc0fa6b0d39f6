// The method specs `compress --target-bpw` chooses among unless told otherwise, apart from the
// planner's code so that the CLI's help can name them without loading it.

/** rtn from 2 to 8 bits at several group sizes (more steps of bytes against error for the
 * allocation to choose from), with the Hadamard rotation at 2 to 4 bits. On the reference model
 * this set beat the 9-spec set without the g16/g64/g128 steps by 8 to 13 % in KL at the same
 * sizes (docs/METHODS.md, "Bit budgets"). */
export const DEFAULT_CANDIDATES = [
  'rtn:2:g16', 'rtn:2:g32', 'rtn:2:g32:rot', 'rtn:2:g64',
  'rtn:3:g128', 'rtn:3:g64', 'rtn:3', 'rtn:3:rot',
  'rtn:4:g128', 'rtn:4:g64', 'rtn:4', 'rtn:4:rot',
  'rtn:5:g128', 'rtn:5:g32', 'rtn:6', 'rtn:8',
];
