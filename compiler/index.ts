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
  const program = simplify(differentiate(model, opts.rules ?? OPS)); // autodiff, then IEEE-safe simplify + DCE
  const plan = planMemory(schedule(program), opts); // order, unroll-or-loop, fusion, liveness-planned arena
  const wasm = opts.precision !== "f64" && (opts.backend ?? "auto") !== "js";
  const lowered = describeLayout(plan, lower(plan, { wasm, f32: opts.precision !== "f64", ...(opts.backend === "wasm" ? { wasmMinWork: 0 } : {}) })); // scalars, JS loops, wasm SIMD matmuls; the summary's fields in the layout
  const out = await emit(lowered, opts); // ts-morph -> prettier -> esbuild
  return { ...out, program, lowered };
}

export { GradcError } from "./errors.ts";
export type { Model } from "./ir/model.ts";
