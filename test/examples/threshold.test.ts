// examples/threshold: logic gates from hand-set threshold units. The weights
// come from the spec's {value: [...]} inits through runtime/initParams.
import { beforeAll, describe, expect, it } from "vitest";
import { importModule } from "../../compiler/emit/load.ts";
import { loadSpec } from "../../compiler/frontend/load.ts";
import { compile } from "../../compiler/index.ts";
import { initParams, type Module } from "../../runtime/index.ts";

const x = [0, 0, 0, 1, 1, 0, 1, 1]; // rows (x1, x2): 00, 01, 10, 11
let mod: Module;
let out: Record<string, number[]>;

beforeAll(async () => {
  mod = (await importModule((await compile(await loadSpec("examples/threshold/model.ts"))).js)) as Module;
  const params = initParams(mod.layout, new Float32Array(mod.layout.paramSize), 0);
  // the four patterns are the module's 4 rows: one forward call (a forward-only model, so no trainer)
  const inputs = new Float32Array(mod.layout.inputSize);
  inputs.set(x, mod.layout.inputs.find((i) => i.name === "x")!.offset);
  const arena = new Float32Array(mod.layout.arenaSize);
  mod.forward(params, inputs, arena);
  out = Object.fromEntries(mod.layout.outputs.map((o) => [o.name, Array.from(arena.subarray(o.offset, o.offset + o.size))]));
});

describe("examples/threshold", () => {
  it("is forward only, with outputs and, or, not_x1, xor, xnor over all four patterns", () => {
    expect(mod.layout.hasLoss).toBe(false);
    expect(mod.backward).toBeUndefined();
    expect(mod.layout.outputs.map((o) => [o.name, [...o.shape]])).toEqual([
      ["and", [4, 1]],
      ["or", [4, 1]],
      ["not_x1", [4, 1]],
      ["xor", [4, 1]],
      ["xnor", [4, 1]],
    ]);
  });

  it.each([
    ["and", [0, 0, 0, 1]],
    ["or", [0, 1, 1, 1]],
    ["not_x1", [1, 1, 0, 0]],
    ["xor", [0, 1, 1, 0]],
    ["xnor", [1, 0, 0, 1]],
  ])("%s has the right truth table", (gate, table) => {
    expect(out[gate]).toEqual(table);
  });

  it("does not depend on the seed: every weight is hand-set", () => {
    const a = initParams(mod.layout, new Float32Array(mod.layout.paramSize), 1);
    const b = initParams(mod.layout, new Float32Array(mod.layout.paramSize), 2);
    expect(Array.from(a)).toEqual(Array.from(b));
  });
});
