// Batch b of seed s for `npm run fuzz`: the same graphs and formulas on every run (replay with --seed s --start b).
import fc from "fast-check";
import { formulaArb } from "./formulas.ts";
import { recipeArb } from "./graphs.ts";

export const batchAt = (seed: number, b: number, k: number) => {
  const s = (seed + Math.imul(b, 0x9e3779b1)) | 0;
  const [recipes] = fc.sample(fc.array(recipeArb, { minLength: k, maxLength: k }), { seed: s, numRuns: 1 });
  const [formulas] = fc.sample(fc.array(formulaArb, { minLength: k, maxLength: k }), { seed: s ^ 0x5bd1e995, numRuns: 1 });
  return { recipes: recipes!, formulas: formulas! };
};
