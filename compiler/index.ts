/**
 * gradc's compiler entry point; `compile` reads as the pipeline, one pure
 * pass per line (DESIGN.md).
 */
import { differentiate, type Rules } from "./autodiff/reverse.ts";
import { emit, type Emitted, type Precision } from "./emit/emit.ts";
import type { Model } from "./ir/model.ts";
import { OPS } from "./ir/ops.ts";
import type { Program } from "./ir/program.ts";
import { lower, type Lowered } from "./lower/lower.ts";
import { simplify } from "./optimize/simplify.ts";
import { planMemory } from "./plan/memory.ts";
import { schedule } from "./plan/schedule.ts";
import { chooseTarget } from "./plan/target.ts";
import { checkFloat32Constants, checkSize } from "./lower/size.ts";
import { describeLayout } from "./viz/summary.ts";

export interface CompileOptions {
  precision?: Precision;
  /** The command shown in the generated header. */
  command?: string;
  /** Derivative rules (tests swap one to prove `gradc check` catches it). */
  rules?: Rules;
  /** Nodes with at most this much work are unrolled to scalars; larger ones become loops. */
  unrollLimit?: number;
  /**
   * Large matmuls as WebAssembly SIMD kernels ("wasm"), as JS loops ("js"), or
   * wasm when the build is float32 and has a matmul big enough to pay ("auto", default).
   */
  backend?: "js" | "wasm" | "auto";
  /** Export a typed `createTrainer` that imports gradc/runtime (for files on disk; see emit.ts). */
  trainer?: boolean;
}

export interface Compiled extends Emitted {
  readonly program: Program;
  readonly lowered: Lowered;
}

export async function compile(model: Model, opts: CompileOptions = {}): Promise<Compiled> {
  if (opts.precision !== "f64") checkFloat32Constants(model); // a float32 build would round them to Inf or 0
  const program = simplify(differentiate(model, opts.rules ?? OPS)); // autodiff, then IEEE-safe simplify + DCE
  const target = chooseTarget(opts); // float32 or float64; which matmuls may go to wasm — decided here, once
  const plan = planMemory(schedule(program), { ...opts, target }); // order, unroll-or-loop, fusion, arena, kernel scratch
  const lowered = describeLayout(plan, lower(plan)); // scalars, JS loops, wasm SIMD matmuls; the summary's fields in the layout
  checkSize(lowered, opts.precision === "f64" ? 8 : 4); // wasm32 memory or JS array limits, before anything is built
  const out = await emit(lowered, opts); // formatted TS printed directly (prettier only for over-long lines) -> esbuild
  return { ...out, program, lowered };
}

export { GradcError } from "./errors.ts";
export { hvpModel, type HvpModel } from "./autodiff/hvp.ts";
export type { Model } from "./ir/model.ts";
export { exportOnnx } from "./export/api.ts";
export { ONNX_OPSET, type ExportOptions, type OnnxExport, type ParamValues } from "./export/onnx-types.ts";
