// The ABI is defined once (runtime/abi.ts) and imported by the compiler; a
// generated module and its `layout … as const` literal must fit the runtime's
// types; these assignments fail `tsc` if not.
import { describe, expect, it } from "vitest";
import type { GeneratedModule } from "../../compiler/emit/load.ts";
import type { Layout as CompilerLayout } from "../../compiler/lower/lower.ts";
import type { Init as CompilerInit } from "../../compiler/ir/model.ts";
import type { Init, Layout, Module } from "../../runtime/index.ts";
import type { OptimizerKernels } from "../../runtime/types.ts";
import type { OptimizerKernels as EmittedKernels } from "../../generated/mnist.ts";

type Assignable<A, B> = [A] extends [B] ? true : false;

describe("runtime types", () => {
  it("accept the compiler's Layout, Init and GeneratedModule", () => {
    // one type, not two kept in sync: assignable both ways
    const layout: Assignable<CompilerLayout, Layout> & Assignable<Layout, CompilerLayout> = true;
    const init: Assignable<CompilerInit, Init> = true;
    const f32: Assignable<GeneratedModule, Module<Float32Array>> = true;
    const f64: Assignable<GeneratedModule, Module<Float64Array>> = true;
    // and a layout literal `as const`, as generated files declare it
    const generated = {
      layout: {
        name: "m",
        source: "m.ts",
        params: [{ name: "w", shape: [2, 1], init: { value: [1, 2] }, offset: 0, size: 2 }],
        paramSize: 2,
        inputs: [{ name: "x", shape: [1, 2], range: [0, 1], offset: 0, size: 2 }],
        inputSize: 2,
        outputs: [],
        arenaSize: 0,
        hasLoss: false,
      },
      forward(_p: Float32Array, _i: Float32Array, _a: Float32Array): void {},
    } as const;
    const literal: Module = generated;
    expect([layout, init, f32, f64, literal.layout.paramSize]).toEqual([true, true, true, true, 2]);
  });

  it("declare the optimizer kernels a generated module restates (it imports nothing) as the runtime does", () => {
    // compiler/emit/emit.ts writes the type into every wasm module so the file stands alone; the two must not drift
    const same: Assignable<EmittedKernels, OptimizerKernels> & Assignable<OptimizerKernels, EmittedKernels> = true;
    expect(same).toBe(true);
  });
});
