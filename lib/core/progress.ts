// The one shape of progress every long operation of the API reports (compress, merge, decompress,
// verify, evaluate, imatrix): a count done of a total, what it counts, and what is under way.
export interface Progress {
  done: number;
  total: number;
  /** What done and total count. */
  unit: 'bytes' | 'tensors' | 'steps';
  /** What is being worked on, for a progress line (a tensor's name, a layer). */
  item: string;
}
