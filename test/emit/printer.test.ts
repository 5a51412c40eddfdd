/**
 * compiler/emit/print.ts writes the TypeScript already formatted; prettier
 * is the oracle: formatting the emitted text with prettier (printWidth 110)
 * must change nothing — for every example (f32 with the trainer, f64, loops
 * everywhere), for random graphs, and for random layout objects.
 */
import fc from "fast-check";
import * as prettier from "prettier";
import { describe, expect, it } from "vitest";
import { exampleSpecs } from "../../compiler/cli/compile.ts";
import { Lines, constLiteral } from "../../compiler/emit/print.ts";
import { loadSpec } from "../../compiler/frontend/load.ts";
import { compile } from "../../compiler/index.ts";
import { B, Graph } from "../../compiler/ir/graph.ts";
import { buildRecipe, recipeArb } from "../fuzz/graphs.ts";

const format = (ts: string) => prettier.format(ts, { parser: "typescript", printWidth: 110 });

describe("emitted TypeScript is already in prettier's format", () => {
  for (const spec of exampleSpecs())
    it(spec, async () => {
      const model = await loadSpec(spec);
      for (const opts of [{ trainer: true }, { precision: "f64" as const }, { unrollLimit: 0 }]) {
        const { ts } = await compile(model, opts);
        expect(await format(ts)).toBe(ts);
      }
    });

  it("random graphs (unrolled, loops, wasm)", async () => {
    const batches = fc.sample(fc.array(recipeArb, { minLength: 3, maxLength: 3 }), { seed: 11, numRuns: 12 });
    for (const [k, recipes] of batches.entries()) {
      const g = new Graph();
      const b = new B(g);
      const graphs = recipes.map((r, j) => buildRecipe(b, r, `g${j}_`));
      const model = {
        name: "fuzz",
        source: "fuzz",
        graph: g,
        inputs: graphs.flatMap((x) => x.inputs),
        params: graphs.flatMap((x) => x.params),
        outputs: graphs.flatMap((x, j) => x.sinks.filter((s) => s.op !== "param" && s.op !== "input").map((s, i) => ({ name: `g${j}_o${i}`, node: s }))),
        loss: graphs.map((x) => x.y).reduce((acc, y) => b.add(acc, y)),
        ...(graphs.some((x) => x.batched) ? { batch: 3 } : {}),
        names: new Map(),
        where: new Map(),
      };
      const opts = [{}, { unrollLimit: 0 }, { backend: "wasm" as const, trainer: true }][k % 3]!;
      const { ts } = await compile(model, opts);
      expect(await format(ts)).toBe(ts);
    }
  }, 120_000);
});

describe("layout objects", () => {
  const value = fc.letrec((tie) => ({
    any: fc.oneof({ depthSize: "small" }, tie("leaf"), tie("arr"), tie("obj")),
    leaf: fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constantFrom("xavier", "examples/x/model.ts", ""), fc.boolean()),
    arr: fc.oneof(fc.array(fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }), { maxLength: 60 }), fc.array(tie("any"), { maxLength: 4 })),
    obj: fc.dictionary(fc.constantFrom("name", "shape", "init", "value", "offset", "size", "range", "a_long_property_name"), tie("any"), { maxKeys: 5 }),
  }));
  it("print as prettier prints them (or go to prettier)", async () => {
    const samples = fc.sample(fc.dictionary(fc.constantFrom("name", "params", "inputs", "paramSize", "outputs"), value.any, { maxKeys: 5 }), { seed: 5, numRuns: 300 });
    for (const v of samples) {
      const out = new Lines();
      constLiteral("layout", v, out);
      const text = `${await out.text()}\n`;
      expect(await format(text), text).toBe(text);
    }
  }, 60_000);
});
