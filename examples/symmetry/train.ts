// Rumelhart, Hinton & Williams' symmetry experiment (Nature 323, 1986), 30
// times: the 6-2-1 logistic network of model.ts learns whether a 6-bit
// pattern is a palindrome, from all 64 patterns (8 symmetric), by full-batch
// gradient descent on the summed squared error with learning rate 0.1 and
// momentum 0.9, weights and biases uniform in ±0.3, seeds 1..30.
//
// Converged: after a sweep, every output is within 0.1 of its target (all 64
// patterns). A run not converged after 20,000 sweeps is a failure. RHW
// report one run of 1,425 sweeps, and a solution in which the two hidden units weigh
// mirror-image inputs equally with opposite signs, in the ratio 1 : 2 : 4 —
// printed below for the first converged seed.
//
//   npx gradc compile examples/symmetry/model.ts -o generated/ && npx tsx examples/symmetry/train.ts
import * as symmetry from "../../generated/symmetry.js";
import { createTrainer, momentum } from "../../runtime/index.ts";
import { summarize } from "../xor-rhw/train.ts";

const MAX = 20_000;
const SEEDS = Array.from({ length: 30 }, (_, i) => i + 1);

/** All 64 six-bit patterns (bit 5 first) and whether each reads the same reversed. */
export const data = (() => {
  const x = new Float32Array(64 * 6);
  const t = new Float32Array(64);
  for (let p = 0; p < 64; p++) {
    for (let b = 0; b < 6; b++) x[p * 6 + b] = (p >> (5 - b)) & 1;
    t[p] = [0, 1, 2].every((b) => x[p * 6 + b] === x[p * 6 + 5 - b]) ? 1 : 0;
  }
  return { x, t };
})();

const converged = (y: Float32Array, tol = 0.1) => y.every((v, i) => Math.abs(v - data.t[i]!) < tol);

export function run(seed: number, max = MAX) {
  const t = createTrainer(symmetry, { optimizer: momentum({ lr: 0.1, momentum: 0.9 }), seed });
  let at: number | undefined;
  t.fit(data, {
    epochs: max,
    progress: false,
    onEpoch: (e) => {
      if (converged(t.predict(data.x))) at = e.epoch;
      return at === undefined;
    },
  });
  return { sweeps: at, params: t.params };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const start = performance.now();
  const results = SEEDS.map((seed) => run(seed));
  const runs = results.map((r) => r.sweeps);
  const s = summarize(runs);
  console.log(`symmetry 6-2-1, lr 0.1, momentum 0.9, init U(-0.3, 0.3), seeds ${SEEDS[0]}..${SEEDS.at(-1)}:`);
  console.log(`  sweeps to convergence per seed: ${runs.map((r) => r ?? `>${MAX}`).join(" ")}`);
  console.log(`  median ${s.median}, min ${s.min}, max ${s.max}, failures ${s.failures}/${s.runs}  (${((performance.now() - start) / 1000).toFixed(1)} s)`);
  const sorted = runs.filter((r): r is number => r !== undefined).sort((a, b) => a - b);
  const q = (f: number) => sorted[Math.round(f * (sorted.length - 1))];
  console.log(`  quartiles ${q(0.25)} / ${q(0.5)} / ${q(0.75)}; ${sorted.filter((r) => r <= 1425).length} of ${runs.length} seeds within 1,425 sweeps`);
  console.log(`  Rumelhart, Hinton & Williams (1986): one run, 1,425 sweeps`);
  const first = results.find((r) => r.sweeps !== undefined);
  if (first) {
    const w = symmetry.layout.params.find((p) => p.name === "W1")!;
    const col = (j: number) => [0, 1, 2, 3, 4, 5].map((i) => first.params[w.offset + i * 2 + j]!);
    console.log(`  hidden-unit input weights (seed ${SEEDS[results.indexOf(first)]}), input 1..6:`);
    for (const j of [0, 1]) console.log(`    h${j + 1}: ${col(j).map((v) => v.toFixed(2).padStart(6)).join(" ")}`);
  }
}
