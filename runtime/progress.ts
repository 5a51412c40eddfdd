/**
 * How `fit` reports progress while it trains. The runtime itself draws
 * nothing: the Node entry (runtime/node.ts) draws a terminal bar with npm
 * cli-progress; in a browser there is no bar (use `onEpoch`).
 */

export interface Progress {
  /** A new bar for epoch `epoch` (1-based) of `epochs`, `steps` steps long. */
  start(epoch: number, epochs: number, steps: number): void;
  /** After each step; redraws at most 10 times a second, so calling it every step is cheap. */
  tick(step: number, loss: number, accuracy: number, examples: number): void;
  /** Ends the epoch's line with its summary. */
  end(summary: string): void;
}

export const fmtLoss = (v: number) => (Number.isFinite(v) ? (Math.abs(v) >= 1e4 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(3) : v.toFixed(4)) : String(v));
export const fmtAcc = (v: number) => (Number.isNaN(v) ? "-" : `${(100 * v).toFixed(1)}%`);
