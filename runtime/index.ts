/**
 * gradc's runtime: what apps import next to a generated module. It never
 * imports the compiler.
 *
 *   import * as xor from "./generated/xor.js";
 *   import { train, predict } from "gradc/runtime";
 *   const { params } = train(xor, { data: { x, t }, lr: 0.5, epochs: 2000, seed: 1 });
 */
export { Rng, rng, deriveSeed } from "./rng.ts";
export { initParams, initTensor, fans } from "./init.ts";
export { train, predict, sgdStep, type Dataset, type TrainOptions, type TrainResult } from "./sgd.ts";
export { numericGrad, compareGrads, checkModule, type CompareOptions, type GradComparison } from "./gradcheck.ts";
export { RuntimeError, type ArrayCtor, type Buf, type Init, type Layout, type Module, type Slot } from "./types.ts";
