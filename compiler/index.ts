/**
 * gradc's compiler entry point; `compile` reads as the pipeline, one pure
 * pass per line (DESIGN.md).
 */
import { differentiate, type Rules } from "./autodiff/reverse.ts";
import { emit, type Emitted, type Precision } from "./emit/emit.ts";
import type { Model } from "./ir/model.ts";
import { OPS } from "./ir/ops.ts";
import type { Program } from "./ir/program.ts";
import { lower, type Lowered } from "./lower/unroll.ts";
import { simplify } from "./optimize/simplify.ts";
import { schedule } from "./plan/schedule.ts";

export interface CompileOptions {
  precision?: Precision;
  /** The command shown in the generated header. */
  command?: string;
  /** Derivative rules (tests swap one to prove `gradc check` catches it). */
  rules?: Rules;
}

export interface Compiled extends Emitted {
  readonly program: Program;
  readonly lowered: Lowered;
}

export async function compile(model: Model, opts: CompileOptions = {}): Promise<Compiled> {
  const program = simplify(differentiate(model, opts.rules ?? OPS)); // autodiff, then IEEE-safe simplify + DCE
  const lowered = lower(schedule(program)); // schedule, then unroll to scalars and fix the arena layout
  const out = await emit(lowered, opts); // ts-morph -> prettier -> esbuild
  return { ...out, program, lowered };
}

export { GradcError } from "./errors.ts";
export type { Model } from "./ir/model.ts";
