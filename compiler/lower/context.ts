/**
 * The state lowering threads through its modules, explicitly: what has been
 * lowered so far (elements of unrolled values, storage of stored ones), what
 * each function may load, and the names in use.
 */
import type { Node } from "../ir/graph.ts";
import type { SExpr } from "../ir/sexpr.ts";
import { strides } from "../ir/shape.ts";
import type { Fn, Plan } from "../plan/memory.ts";
import type { Access } from "./access.ts";
import type { WasmKernel } from "./kernel.ts";
import type { Names, Naming } from "./names.ts";
import type { Buffer } from "./stmt.ts";

/** Byte offsets of the four buffers in the module's one WebAssembly.Memory (wasm modules). */
export type Regions = Readonly<Record<"params" | "grads" | "inputs" | "arena", number>>;

export interface Cx {
  readonly plan: Plan;
  readonly naming: Naming;
  /** Per-element scalar expressions of unrolled values (locals or literals). */
  readonly elems: Map<number, SExpr[]>;
  /** Where stored values (and leaves) live. */
  readonly access: Map<number, Access>;
  /** Locals any function may load on demand (leaf elements, stored forward scalars), with where they load from. */
  readonly loadable: Map<string, SExpr>;
  /** The function that defines each local. */
  readonly definedIn: Map<string, Fn>;
  readonly regions: Regions;
  /** wasm kernels so far (the emitter builds them). */
  readonly kernels: WasmKernel[];
  /** The function being lowered. */
  fn: Fn;
  /** The names of the loop kernel being lowered, if any. */
  local: Names | undefined;
}

/** A fresh name in the innermost scope. */
export const fresh = (cx: Cx, want: string): string => (cx.local ?? cx.naming.names).fresh(want);

/** Where the plan stores `n` (remembered as its access). */
export function destOf(cx: Cx, n: Node): Access {
  const st = cx.plan.nodes.get(n.id)!.store!;
  const a = { arr: st.arr as Buffer, base: st.offset, st: strides(n.shape) };
  cx.access.set(n.id, a);
  return a;
}
