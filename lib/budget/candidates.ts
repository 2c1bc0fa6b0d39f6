// The method specs `compress --target-bpw` chooses among unless told otherwise, apart from the
// planner's code so that the CLI's help can name them without loading it.

/** rtn from 2 to 8 bits, with and without the Hadamard rotation where bits are few. */
export const DEFAULT_CANDIDATES = ['rtn:2:g32', 'rtn:2:g32:rot', 'rtn:3', 'rtn:3:rot', 'rtn:4', 'rtn:4:rot', 'rtn:5', 'rtn:6', 'rtn:8'];
