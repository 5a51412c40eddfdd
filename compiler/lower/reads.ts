/**
 * Reads inside loop kernels: the element of a value at a kernel's loop
 * index — from storage at its strides, from a local, or computed right there
 * when its producer is fused into the kernel — and the loop nests themselves.
 */
import type { Node } from "../ir/graph.ts";
import { opDef } from "../ir/ops.ts";
import * as S from "../ir/sexpr.ts";
import type { SExpr } from "../ir/sexpr.ts";
import { type Shape, size, strides } from "../ir/shape.ts";
import { accessOf, at, contiguous, element, unflatExpr } from "./access.ts";
import { type Cx, fresh } from "./context.ts";
import { elemsOf, noTemps, scalarNode } from "./scalar.ts";
import type { Stmt } from "./stmt.ts";

/**
 * Loops over `shape`: one flat loop when every read can use the flat index
 * (`vars` is then empty), else one loop per axis.
 */
export function loops(cx: Cx, shape: Shape, flat: boolean, body: (vars: SExpr[], flatIndex: SExpr) => Stmt[]): Stmt[] {
  if (flat || shape.length <= 1) {
    const v = fresh(cx, "i");
    return [{ k: "for", v, n: S.num(size(shape)), body: body(shape.length === 1 ? [S.ref(v)] : [], S.ref(v)) }];
  }
  const vs = shape.map(() => fresh(cx, "i"));
  const fi = strides(shape).reduce((e, st, d) => S.iadd(e, S.imul(S.ref(vs[d]!), S.num(st))), S.num(0) as SExpr);
  let inner: Stmt[] = body(vs.map(S.ref), fi);
  for (let d = shape.length - 1; d >= 0; d--) inner = [{ k: "for", v: vs[d]!, n: S.num(shape[d]!), body: inner }];
  return inner;
}

export const fusedInto = (cx: Cx, x: Node, root: Node): boolean => cx.plan.nodes.get(x.id)?.fusedInto === root.id;

/** Inputs of a fused group that are read from storage or locals (not computed inside the group). */
function groupReads(cx: Cx, root: Node): Node[] {
  const out: Node[] = [];
  const stack = [root];
  while (stack.length) {
    const n = stack.pop()!;
    for (const x of n.inputs) (fusedInto(cx, x, n) ? stack.push(x) : out.push(x));
  }
  return out;
}

/** Can every read of the group use the root's flat index? */
export function flatReads(cx: Cx, root: Node, shape: Shape): boolean {
  return groupReads(cx, root).every((x) => {
    if (size(x.shape) === 1) return true;
    if (x.shape.length !== shape.length || size(x.shape) !== size(shape)) return false;
    const a = accessOf(cx.access, cx.plan, x);
    return a !== undefined && contiguous(a, x.shape);
  });
}

/** A fused producer being computed inline: its input values so far. */
interface Frame {
  readonly x: Node;
  readonly vars: SExpr[];
  readonly flat: SExpr | undefined;
  readonly ins: SExpr[][];
}

/**
 * The element of `x` that a kernel over `shape` reads at `vars` (numpy
 * broadcasting from `x`'s shape to `shape`), computing fused producers inline
 * into `body`, each into a loop-local const. `pinned` supplies values
 * computed by the kernel itself (a matmul's accumulator). Iterative: a fused
 * chain may be as long as the graph.
 */
export function read(cx: Cx, x: Node, shape: Shape, vars: SExpr[], flat: SExpr | undefined, body: Stmt[], pinned: ReadonlyMap<number, SExpr>): SExpr {
  const first = readOne(cx, x, shape, vars, flat, pinned);
  if (!("ins" in first)) return first;
  const stack: Frame[] = [first];
  for (;;) {
    const f = stack[stack.length - 1]!;
    if (f.ins.length < f.x.inputs.length) {
      const v = readOne(cx, f.x.inputs[f.ins.length]!, f.x.shape, f.vars, f.flat, pinned);
      if ("ins" in v) stack.push(v);
      else f.ins.push([v]);
      continue;
    }
    const name = fresh(cx, `${cx.naming.baseName(f.x)}_v`);
    body.push({ k: "const", name, e: opDef(f.x.op).lower!(f.ins, scalarNode(f.x), noTemps)[0]! });
    stack.pop();
    if (!stack.length) return S.ref(name);
    stack[stack.length - 1]!.ins.push([S.ref(name)]);
  }
}

/** One read: its value, or the frame of a fused producer to compute first. */
function readOne(cx: Cx, x: Node, shape: Shape, vars: SExpr[], flat: SExpr | undefined, pinned: ReadonlyMap<number, SExpr>): SExpr | Frame {
  for (;;) {
    const pin = pinned.get(x.id);
    if (pin) return pin;
    const src = cx.plan.source(x);
    if (src.op === "const") return elemsOf(cx, src)[0]!;
    // A view of a one-element value (a broadcast scalar adjoint, say) is that value everywhere.
    if (size(src.shape) === 1 && src.op !== "batchMask" && !cx.access.has(src.id) && cx.plan.nodes.get(src.id)?.fusedInto === undefined)
      return elemsOf(cx, src)[0]!;
    if (cx.plan.nodes.get(x.id)?.fusedInto !== undefined) return { x, vars, flat, ins: [] };
    if (size(x.shape) === 1) {
      const es = cx.elems.get(x.id);
      if (es) return es[0]!;
      const a = accessOf(cx.access, cx.plan, x);
      return a ? element(a.arr, S.num(a.base)) : elemsOf(cx, x)[0]!;
    }
    const a = accessOf(cx.access, cx.plan, x);
    if (a && flat) return element(a.arr, S.iadd(S.num(a.base), flat));
    const off = shape.length - x.shape.length;
    const xv = x.shape.map((d, i) => (d === 1 ? S.num(0) : vars[i + off]!));
    if (a) return at(a, xv);
    // A view with no strided form (a reshape of a transpose, say): read its input at the index it maps to.
    const y = x.inputs[0]!;
    if (opDef(x.op).kind !== "view") throw new Error(`internal: ${x.op}#${x.id} is read by a loop but not stored`);
    flat = undefined;
    if (x.op === "transpose") [shape, vars] = [y.shape, [xv[1]!, xv[0]!]];
    else if (x.op === "broadcast") [shape, vars] = [x.shape, xv];
    else {
      const fx = strides(x.shape).reduce((e, st, d) => S.iadd(e, S.imul(xv[d]!, S.num(st))), S.num(0) as SExpr);
      [shape, vars] = [y.shape, unflatExpr(fx, y.shape)];
    }
    x = y;
  }
}

