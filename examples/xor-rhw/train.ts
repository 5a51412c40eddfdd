// Rumelhart, Hinton & Williams' XOR experiment, 20 times: the 2-2-1 logistic
// network of model.ts, full-batch gradient descent on the summed squared
// error with learning rate 0.5 and momentum 0.9 (Δw(t) = -ε ∂E/∂w + α Δw(t-1)),
// weights and biases uniform in ±0.3, seeds 1..20.
//
// Converged: after a sweep, every output is within 0.1 of its target
// (|y - t| < 0.1 on all four patterns). Sweeps to convergence counts the
// weight updates made until then; a run that has not converged after
// 10,000 sweeps is a failure (a local minimum or a plateau). RHW (1986,
// PDP vol. 1 ch. 8) report 558 sweeps for XOR with these settings.
//
//   npx gradc compile examples/xor-rhw/model.ts -o generated/ && npx tsx examples/xor-rhw/train.ts
import * as xor from "../../generated/xor-rhw.js";
import { createTrainer, dataset, momentum } from "../../runtime/index.ts";

const data = dataset({ x: [[0, 0], [0, 1], [1, 0], [1, 1]], t: [0, 1, 1, 0] });
const MAX = 10_000;
const SEEDS = Array.from({ length: 20 }, (_, i) => i + 1);

/** Every output within `tol` of its target. */
const converged = (y: ArrayLike<number>, t: ArrayLike<number>, tol = 0.1) => Array.from(y).every((v, i) => Math.abs(v - t[i]!) < tol);

export function sweepsToConverge(seed: number, max = MAX): number | undefined {
  const t = createTrainer(xor, { optimizer: momentum({ lr: 0.5, momentum: 0.9 }), seed });
  let at: number | undefined;
  t.fit(data, {
    epochs: max,
    progress: false,
    onEpoch: (e) => {
      if (converged(t.predict(data.x), data.t)) at = e.epoch;
      return at === undefined;
    },
  });
  return at;
}

/** Median, min, max of the converged runs, and the failures. */
export function summarize(runs: (number | undefined)[]) {
  const ok = runs.filter((r): r is number => r !== undefined).sort((a, b) => a - b);
  const mid = ok.length >> 1;
  const median = ok.length === 0 ? NaN : ok.length % 2 ? ok[mid]! : (ok[mid - 1]! + ok[mid]!) / 2;
  return { median, min: ok[0] ?? NaN, max: ok.at(-1) ?? NaN, failures: runs.length - ok.length, runs: runs.length };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const start = performance.now();
  const runs = SEEDS.map((seed) => sweepsToConverge(seed));
  const s = summarize(runs);
  console.log(`XOR 2-2-1, lr 0.5, momentum 0.9, init U(-0.3, 0.3), seeds ${SEEDS[0]}..${SEEDS.at(-1)}:`);
  console.log(`  sweeps to convergence per seed: ${runs.map((r) => r ?? `>${MAX}`).join(" ")}`);
  console.log(`  median ${s.median}, min ${s.min}, max ${s.max}, failures ${s.failures}/${s.runs}  (${((performance.now() - start) / 1000).toFixed(1)} s)`);
  console.log(`  Rumelhart, Hinton & Williams (1986): 558 sweeps`);
}
