/**
 * Lowering: the memory plan becomes statements. Small nodes are unrolled —
 * every element a scalar `const` (scalar.ts) — and large ones become loop
 * kernels whose bounds and strides are literals (loops.ts): elementwise
 * chains fused into one loop, elementwise epilogues fused into the matmul
 * that feeds them (matmul.ts: JS loops or a wasm kernel, as the plan chose),
 * reductions fused with the elementwise chain they reduce. Code size grows
 * with the number of tensor ops, not with tensor sizes.
 *
 * The result is a list of statements per function; the emitter only prints.
 */
import type { Node } from "../ir/graph.ts";
import * as S from "../ir/sexpr.ts";
import { strides } from "../ir/shape.ts";
import type { Fn, Plan } from "../plan/memory.ts";
import type { Layout } from "../../runtime/abi.ts";
import type { Access } from "./access.ts";
import type { Cx } from "./context.ts";
import { finish, helpersOf } from "./finish.ts";
import type { WasmKernel } from "./kernel.ts";
import { layoutOf, withMemory } from "./layout.ts";
import { copyTo, kernel } from "./loops.ts";
import { Naming } from "./names.ts";
import { elemsOf, unrolled } from "./scalar.ts";
import type { Stmt } from "./stmt.ts";

export type { Layout, Slot } from "../../runtime/abi.ts";
export type { ConvKernel, Epi, MatmulKernel, PoolKernel, WasmKernel } from "./kernel.ts";
export { BUFFERS, type Buffer, type Stmt, walk } from "./stmt.ts";

export interface Lowered {
  readonly layout: Layout;
  readonly forward: readonly Stmt[];
  readonly backward: readonly Stmt[];
  /** Forward and backward fused (fully unrolled models only). */
  readonly step?: readonly Stmt[];
  /** How the module's `sgd` runs: a wasm SIMD loop, straight-line (tiny unrolled models), or a JS loop. */
  readonly sgd: "wasm" | "unrolled" | "loop";
  /** Helper functions the statements call (by name), e.g. `nthRoot`. */
  readonly helpers: readonly string[];
  /** WebAssembly SIMD kernels the statements call (`call` statements), built by the emitter. */
  readonly kernels: readonly WasmKernel[];
  /** Arena floats with no reuse, for the compile report. */
  readonly naiveArenaSize: number;
}

/** Models with at most this many parameters and no loops get a straight-line `sgd` (a loop's overhead is a real share of a ~100 ns step). */
const UNROLLED_SGD_MAX = 64;

export function lower(plan: Plan): Lowered {
  const p = plan.program;
  const { layout, regions } = layoutOf(plan);
  const cx = context(plan, layout, regions);

  const fwd = run(cx, plan.forward, "forward");
  const outCopies = p.outputs.flatMap((o, i) => copyTo(cx, o.node, "arena", layout.outputs[i]!.offset));
  if (outCopies.length) fwd.push({ k: "comment", text: "outputs" }, ...outCopies);
  // The loss goes to an arena slot, not a return value: returning a double boxes it (one allocation per call).
  if (p.loss) fwd.push({ k: "set", target: S.idx("arena", plan.lossOffset), op: "=", e: elemsOf(cx, p.loss)[0]! });

  const bwd = run(cx, plan.backward, "backward");
  const gradCopies = p.grads.flatMap((g, i) => copyTo(cx, g.node, "grads", layout.params[i]!.offset));
  if (gradCopies.length) bwd.push({ k: "comment", text: "gradients" }, ...gradCopies);

  // Each function loads what it reads and does not define itself.
  const forward = finish(fwd, cx.loadable, (nm) => cx.definedIn.get(nm) === "forward");
  const backward = p.loss ? finish(bwd, cx.loadable, (nm) => cx.definedIn.get(nm) === "backward") : [];
  const step = p.loss && fullyUnrolled(plan) ? finish(stepOf(plan, layout, fwd, bwd), cx.loadable, (nm) => cx.definedIn.has(nm)) : undefined;

  return {
    layout: cx.kernels.length ? withMemory(layout, plan, regions) : layout,
    forward,
    backward,
    ...(step ? { step } : {}),
    sgd: cx.kernels.length ? "wasm" : layout.paramSize <= UNROLLED_SGD_MAX && step ? "unrolled" : "loop",
    helpers: helpersOf([...forward, ...backward]),
    kernels: cx.kernels,
    naiveArenaSize: plan.naiveSize,
  };
}

/** The lowering state before any node: leaves' storage, and no names but the reserved ones. */
function context(plan: Plan, layout: Layout, regions: Cx["regions"]): Cx {
  const m = plan.program.model;
  const access = new Map<number, Access>();
  for (const n of [...plan.forward, ...plan.backward]) if (n.op === "batchMask") access.set(n.id, { arr: "mask", base: 0, st: [1] });
  m.params.forEach((l, i) => access.set(l.node.id, { arr: "params", base: layout.params[i]!.offset, st: strides(l.shape) }));
  m.inputs.forEach((l, i) => access.set(l.node.id, { arr: "inputs", base: layout.inputs[i]!.offset, st: strides(l.shape) }));
  return {
    plan,
    naming: new Naming(plan.program, [...plan.forward, ...plan.backward]),
    elems: new Map(),
    access,
    loadable: new Map(),
    definedIn: new Map(),
    regions,
    kernels: [],
    fn: "forward",
    local: undefined,
  };
}

/** The statements of one function: each node the plan computes there, headed by its comment. */
function run(cx: Cx, nodes: readonly Node[], fn: Fn): Stmt[] {
  cx.fn = fn;
  const out: Stmt[] = [];
  for (const n of nodes) {
    const np = cx.plan.nodes.get(n.id)!;
    if (np.fn !== fn || np.fusedInto !== undefined || np.mode === "leaf" || np.mode === "const" || np.mode === "view") continue;
    out.push({ k: "comment", text: cx.naming.describe(n), heading: true });
    if (np.mode === "unroll") {
      out.push(...unrolled(cx, n));
      continue;
    }
    cx.local = cx.naming.names.scope();
    try {
      out.push(...kernel(cx, n));
    } finally {
      cx.local = undefined;
    }
  }
  return out;
}

const fullyUnrolled = (plan: Plan) => [...plan.nodes.values()].every((np) => np.mode !== "loop");

/**
 * A fully unrolled model's `step`: forward then backward in one function, so
 * the forward values the backward pass reads stay in locals; nothing needs
 * the values saved for backward in the arena, only outputs and the loss.
 */
function stepOf(plan: Plan, layout: Layout, fwd: readonly Stmt[], bwd: readonly Stmt[]): Stmt[] {
  const outEnd = layout.outputs.reduce((e, o) => Math.max(e, o.offset + o.size), 0);
  const saved = (st: Stmt) =>
    st.k === "set" && st.target.k === "idx" && st.target.arr === "arena" && typeof st.target.i === "number" && st.target.i >= outEnd && st.target.i !== plan.lossOffset;
  return [...fwd, ...bwd].filter((st) => !saved(st));
}
