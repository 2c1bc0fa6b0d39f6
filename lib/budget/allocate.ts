// The choice at the heart of `compress --target-bpw` (docs/METHODS.md, "Bit budgets"): one option
// per tensor (a method spec with its measured bytes and predicted loss) so that the summed loss is
// least while the summed bytes stay within the budget. A multiple-choice knapsack, solved by
// dynamic programming over the bytes each tensor spends beyond its cheapest option, in whole
// steps of `budget / steps`: each option's extra bytes round *up* to steps, so a plan that fits in
// steps fits in bytes, and the rounding costs at most one step per tensor of the budget's use.

export interface BudgetOption {
  spec: string;
  bytes: number;
  /** The predicted loss of this tensor stored with `spec` (any unit shared by all options). */
  loss: number;
}

export interface BudgetItem {
  name: string;
  options: BudgetOption[];
}

/** Steps the budget is cut into: fine enough to waste little of it, coarse enough to plan
 * thousands of tensors in well under a second. */
export const BUDGET_STEPS = 1 << 14;

/**
 * The index of the chosen option of each item: least summed loss with summed bytes ≤ `budget`;
 * ties go to fewer bytes. Undefined when even the cheapest options exceed it.
 */
export function allocate(items: readonly BudgetItem[], budget: number, steps = BUDGET_STEPS): number[] | undefined {
  for (const it of items) if (!it.options.length || it.options.length > 255) throw new Error(`${it.name}: a tensor needs 1 to 255 options (has ${it.options.length})`);
  const cheapest = items.map((it) => it.options.reduce((b, o, i) => (o.bytes < it.options[b].bytes ? i : b), 0));
  const base = items.reduce((a, it, i) => a + it.options[cheapest[i]].bytes, 0);
  if (base > budget) return undefined;
  const spare = budget - base;
  const unit = spare / steps;
  // Extra steps of each option over the item's cheapest (Infinity: cannot fit at all).
  const extra = items.map((it, i) =>
    it.options.map((o) => {
      const more = o.bytes - it.options[cheapest[i]].bytes;
      if (more <= 0) return 0;
      return unit > 0 ? Math.ceil(more / unit - 1e-9) : Infinity;
    }),
  );
  // best[u]: least loss of the items so far using at most u extra steps.
  let best = new Float64Array(steps + 1);
  const pick = new Uint8Array(items.length * (steps + 1));
  for (const [i, it] of items.entries()) {
    const next = new Float64Array(steps + 1).fill(Infinity);
    for (const [k, o] of it.options.entries()) {
      const e = extra[i][k];
      if (e > steps) continue;
      for (let u = e; u <= steps; u++) {
        const v = best[u - e] + o.loss;
        if (v < next[u]) (next[u] = v), (pick[i * (steps + 1) + u] = k);
      }
    }
    best = next;
  }
  // The fewest steps reaching the least loss, then walk back.
  let u = 0;
  for (let v = 1; v <= steps; v++) if (best[v] < best[u]) u = v;
  const chosen = new Array<number>(items.length);
  for (let i = items.length - 1; i >= 0; i--) {
    const k = pick[i * (steps + 1) + u];
    chosen[i] = k;
    u -= extra[i][k];
  }
  return chosen;
}
