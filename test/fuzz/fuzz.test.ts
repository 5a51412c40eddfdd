/**
 * Property-based fuzzing of the whole compiler (fast-check), the `npm test`
 * share: 1,000 random graphs over every op of the table (40 batches of 25,
 * a fixed seed so the suite is deterministic; `FUZZ_SEED=<n>` picks another),
 * 250 of them also second order (H v), and 400 random formulas against
 * mathjs's `derivative`. `npm run fuzz` runs the same checks on 100,000.
 *
 * What is checked: test/fuzz/check.ts (graphs), test/fuzz/formulas.ts.
 * Each batch is one model compiled in two builds — float64 and float32 — on
 * the default plan (small nodes unrolled, larger ones loops), with
 * `unrollLimit: 0` (loop kernels everywhere), or (float32) with every matmul
 * of 4+ rows a wasm SIMD kernel: each lowering path sees ~330 graphs.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { OPS } from "../../compiler/ir/ops.ts";
import { B, Graph, topo as topoNodes } from "../../compiler/ir/graph.ts";
import { type BuildName, checkRecipes } from "./check.ts";
import { checkFormula, formulaArb } from "./formulas.ts";
import { type Recipe, buildRecipe, recipeArb } from "./graphs.ts";
import { buildsOf, shrinkGroup, triage } from "./shrink.ts";

const SEED = Number(process.env.FUZZ_SEED ?? 20260101);
const BATCHES = 40;
const PER_BATCH = 25;
const HVP_EVERY = 4;

/**
 * A third of the batches each: the default plan (small nodes unrolled, larger ones loops), loops everywhere,
 * and the default plan with every matmul of 4+ rows a wasm SIMD kernel (float32). Chosen from the batch
 * itself, so a replay gets the same builds.
 */
const buildsFor = (recipes: readonly Recipe[]): BuildName[] =>
  [
    ["f64", "f32"],
    ["f64 loops", "f32 loops"],
    ["f64", "f32 wasm"],
  ][recipes[0]!.seed % 3]! as BuildName[];

describe("fuzzed graphs", () => {
  it("the generator makes exact max/min ties, and graphs with them pass every check (the even split)", async () => {
    const recipes = fc.sample(recipeArb, { seed: SEED, numRuns: 2000 });
    const g = new Graph();
    const b = new B(g);
    const tied: Recipe[] = [];
    let selfTies = 0;
    recipes.forEach((r, k) => {
      const x = buildRecipe(b, r, `t${k}_`);
      const self = topoNodes([x.y]).some((n) => (n.op === "max" || n.op === "min") && n.inputs[0] === n.inputs[1]);
      if (self) selfTies++;
      if (x.ties || self) tied.push(r);
    });
    expect(tied.length).toBeGreaterThan(20);
    expect(selfTies).toBeGreaterThan(5);
    for (let i = 0; i < Math.min(tied.length, 100); i += 25) {
      const batch = tied.slice(i, i + 25);
      const r = await checkRecipes(batch, { builds: buildsFor(batch), hvpEvery: HVP_EVERY });
      expect(r.problems).toEqual([]);
    }
  }, 240_000);

  it("custom boxes: the box's own rule is what every build and H v use (a rule scaled by 1.5 fails everywhere), and graphs with boxes pass", async () => {
    const recipes = fc.sample(recipeArb, { seed: SEED + 1, numRuns: 3000 });
    const g = new Graph();
    const b = new B(g);
    const boxed = recipes.filter((r, k) => buildRecipe(b, r, `c${k}_`).customs.size > 0 && buildRecipe(b, r, `d${k}_`).params.length > 0);
    expect(boxed.length).toBeGreaterThan(20);
    const batch = boxed.slice(0, 20);
    const builds: BuildName[] = ["f64", "f64 loops", "f32", "f32 wasm"];
    expect((await checkRecipes(batch, { builds, hvpEvery: 1 })).problems).toEqual([]);
    // the same graphs with every box's vjp scaled: the interpreter, each build and H v must all see the wrong rule
    const wrong = await checkRecipes(batch, { builds, hvpEvery: 1, customRule: (r, bb) => ({ ...r, vjp: r.vjp.map((d) => (d ? bb.mul(d, 1.5) : d)) }) });
    for (const where of ["interpreter", "f64 build", "f64 loops build", "H v"]) expect(wrong.problems.some((p) => p.includes(where)), where).toBe(true);
  }, 240_000);

  const seen = { graphs: 0, hvp: 0, ops: new Set<string>(), gradOps: new Set<string>(), known: new Map<string, number>(), builds: new Set<string>(), f32Worst: 0 };

  it(`${BATCHES * PER_BATCH} random graphs: rules vs central differences, generated code (float64, float32; unrolled, loops) vs both, H v`, async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(recipeArb, { minLength: PER_BATCH, maxLength: PER_BATCH }), async (recipes) => {
        const builds = buildsFor(recipes);
        const opts = { builds, hvpEvery: HVP_EVERY };
        const t = await triage(recipes, opts);
        seen.graphs += recipes.length;
        seen.hvp += Math.ceil(recipes.length / HVP_EVERY);
        for (const b of builds) seen.builds.add(b);
        for (const op of t.result.ops) seen.ops.add(op);
        for (const op of t.result.gradOps) seen.gradOps.add(op);
        seen.f32Worst = Math.max(seen.f32Worst, t.result.f32Worst);
        for (const k of t.known) seen.known.set(k.bug.id, (seen.known.get(k.bug.id) ?? 0) + 1);
        if (!t.failures.length) return;
        // Shrink the first failing graph here (fast-check would shrink the whole batch, one compile per step).
        const f = t.failures[0]!;
        const sOpts = { ...opts, hvpEvery: f.problems.some((p) => p.includes("H v")) ? 1 : 0, builds: buildsOf(f.problems) ?? builds };
        let s = await shrinkGroup([f.recipe], sOpts);
        if (!s.problems.length) s = await shrinkGroup(recipes, sOpts); // the failure needs other graphs of the batch
        throw new Error(
          `${t.failures.length} failing graph(s); graph ${f.index}:\n${f.problems.slice(0, 6).join("\n")}\n` +
            `shrunk to ${s.recipes.length} graph(s) (add to test/fuzz/regressions.test.ts): ${JSON.stringify(s.recipes)}\n${s.problems.slice(0, 4).join("\n")}`,
        );
      }),
      { seed: SEED, numRuns: BATCHES, endOnFailure: true },
    );
    expect(seen.graphs).toBe(BATCHES * PER_BATCH);
  }, 300_000);

  it("the graphs covered every op of the table, in forward and in gradient graphs, and every build", () => {
    expect(Object.keys(OPS).filter((op) => !seen.ops.has(op))).toEqual([]);
    // Ops with a derivative rule that builds nodes show up in gradients: at least the ones the rules use.
    for (const op of ["mul", "where", "ge", "sign", "step", "softmax", "matmul", "transpose", "broadcast", "reshape", "sum", "sigmoid"])
      expect(seen.gradOps.has(op), op).toBe(true);
    expect([...seen.builds].sort()).toEqual(["f32", "f32 loops", "f32 wasm", "f64", "f64 loops"]);
    expect(seen.hvp).toBeGreaterThanOrEqual(250);
    // Known bugs (test/fuzz/known.ts) are set aside; they must stay rare, or the fuzz checks little.
    const hits = [...seen.known.values()].reduce((a, b) => a + b, 0);
    expect(hits).toBeLessThan(seen.graphs / 10);
  });
});

describe("fuzzed formulas vs mathjs", () => {
  it("400 random formulas: value = mathjs evaluate, partials = mathjs derivative", () => {
    fc.assert(
      fc.property(formulaArb, (f) => {
        const problems = checkFormula(f);
        if (problems.length) throw new Error(problems.join("\n"));
      }),
      { seed: SEED, numRuns: 400 },
    );
  });
});
