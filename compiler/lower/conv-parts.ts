/**
 * The pieces conv.ts and pool.ts build their loop nests from: the job (where
 * the operands and the result live, the fused epilogue), the ranges of taps
 * that land inside the image (so no tap tests a bound and padding costs
 * nothing), operand rows with their address hoisted, and the epilogue.
 */
import type { Node } from "../ir/graph.ts";
import { opDef } from "../ir/ops.ts";
import * as S from "../ir/sexpr.ts";
import type { SExpr } from "../ir/sexpr.ts";
import { size } from "../ir/shape.ts";
import { type Access, at, element } from "./access.ts";
import { type Cx, fresh } from "./context.ts";
import { read } from "./reads.ts";
import { noTemps, scalarNode } from "./scalar.ts";
import type { Stmt } from "./stmt.ts";

/** One conv or pool node being lowered (the JS loops here, or a wasm kernel: compiler/lower/wasm-conv.ts). */
export interface ConvJob {
  readonly cx: Cx;
  /** The conv or pool op. */
  readonly node: Node;
  /** The fused group's root: `node` itself when no elementwise epilogue is fused into the kernel. */
  readonly root: Node;
  /** Where the root's value goes (row-major). */
  readonly dest: Access;
  /** Each input's storage (base and strides), or undefined when it has none: a constant, or a view with no strided form, read elementwise. */
  readonly ins: readonly (Access | undefined)[];
  /** The kernel's comment. */
  readonly head: readonly Stmt[];
}

/** e + c with the constants merged: `h + 1`, not `h + 2 + -1`. */
export function plus(e: SExpr, c: number): SExpr {
  if (c === 0) return e;
  if (e.k === "num") return S.num(e.v + c);
  if (e.k === "bin" && (e.op === "+" || e.op === "-") && e.b.k === "num") return plus(e.a, c + (e.op === "+" ? e.b.v : -e.b.v));
  return c > 0 ? S.add(e, S.num(c)) : S.sub(e, S.num(-c));
}
export const max0 = (e: SExpr): SExpr => (e.k === "num" ? S.num(Math.max(0, e.v)) : S.M("max", S.num(0), e));
export const minOf = (n: number, e: SExpr): SExpr => (e.k === "num" ? S.num(Math.min(n, e.v)) : S.M("min", S.num(n), e));
/** floor(e / d) for integer e, positive literal d. */
export const floorDiv = (e: SExpr, d: number): SExpr => (d === 1 ? e : e.k === "num" ? S.num(Math.floor(e.v / d)) : S.M("floor", S.div(e, S.num(d))));

/** c − v·k, folded: `c - v * k`, `-(v * k)` for c = 0, c for k = 0. */
function cMinus(c: number, v: SExpr, k: number): SExpr {
  const vk = S.imul(v, S.num(k));
  if (vk.k === "num") return S.num(c - vk.v);
  return c === 0 ? S.neg(vk) : S.sub(S.num(c), vk);
}

/**
 * The taps t ∈ [0, T) at spacing d of output o (stride st, padding p before, pEnd after)
 * that land inside [0, inDim): position o·st − p + t·d. Literal bounds where the padding
 * on that side is 0 (then every tap is inside).
 */
export function tapRange(o: SExpr, st: number, d: number, p: number, pEnd: number, T: number, inDim: number): [SExpr, SExpr] {
  // o·st − p + t·d >= 0  ⟺  t >= ceil((p − o·st) / d);   o·st − p + t·d <= inDim − 1  ⟺  t <= floor((p + inDim − 1 − o·st) / d)
  const lo = p === 0 ? S.num(0) : max0(floorDiv(cMinus(p + d - 1, o, st), d));
  const hi = pEnd === 0 ? S.num(T) : minOf(T, d === 1 ? cMinus(p + inDim, o, st) : S.iadd(floorDiv(cMinus(p + inDim - 1, o, st), d), S.num(1)));
  return [lo, hi];
}

/** The outputs o ∈ [0, O) whose tap t (spacing d) lands inside [0, inDim): the same condition solved for o. */
export function outRange(t: SExpr, st: number, d: number, p: number, pEnd: number, O: number, inDim: number): [SExpr, SExpr] {
  const lo = p === 0 ? S.num(0) : max0(floorDiv(cMinus(p + st - 1, t, d), st));
  const hi = pEnd === 0 ? S.num(O) : minOf(O, st === 1 ? cMinus(p + inDim, t, d) : S.iadd(floorDiv(cMinus(p + inDim - 1, t, d), st), S.num(1)));
  return [lo, hi];
}

/** A loop bound kept in a local when it is computed (so the loop head reads a name), or the literal. */
export function bound(cx: Cx, e: SExpr, want: string, into: Stmt[]): SExpr {
  if (e.k === "num") return e;
  const name = fresh(cx, want);
  into.push({ k: "const", name, e });
  return S.ref(name);
}

/** `for (v = from; v < to; v++)`; a literal-empty range is no loop. */
export const range = (v: string, from: SExpr, to: SExpr, body: Stmt[]): Stmt[] =>
  from.k === "num" && to.k === "num" && to.v <= from.v ? [] : [{ k: "for", v, ...(from.k === "num" && from.v === 0 ? {} : { from }), n: to, body }];

/** The position o·st + t·d − p. */
export const pos = (o: SExpr, st: number, p: number, t: SExpr, d: number): SExpr => {
  const e = S.iadd(S.imul(o, S.num(st)), S.imul(t, S.num(d)));
  return p === 0 ? e : e.k === "num" ? S.num(e.v - p) : S.sub(e, S.num(p));
};

/**
 * A 4-D operand's row (i0, i1, i2, ·): its address hoisted into a const in `into`
 * when the operand has strided storage; else each element read through its view.
 */
export function rowOf(cx: Cx, x: Node, a: Access | undefined, idx: readonly SExpr[], want: string, into: Stmt[]): (last: SExpr) => SExpr {
  if (a) {
    const base = idx.reduce((e, v, d) => S.iadd(e, S.imul(v, S.num(a.st[d]!))), S.num(a.base) as SExpr);
    const name = fresh(cx, want);
    into.push({ k: "const", name, e: base });
    return (last) => element(a.arr, S.iadd(S.ref(name), S.imul(last, S.num(a.st[3]!))));
  }
  return (last) => {
    const side: Stmt[] = [];
    const e = read(cx, x, x.shape, [...idx, last], undefined, side, new Map());
    if (side.length) throw new Error(`internal: conv operand ${x.op}#${x.id} is fused`);
    return e;
  };
}

/** dest[0..n) = 0 (before a kernel accumulates into it). */
export function zero(cx: Cx, dest: Access, n: number): Stmt[] {
  const i = fresh(cx, "i");
  return [{ k: "for", v: i, n: S.num(n), body: [{ k: "set", target: element(dest.arr, S.iadd(S.num(dest.base), S.ref(i))), op: "=", e: S.num(0) }] }];
}

/** The fused epilogue applied to the kernel's value `acc` at the root's index `vars`; its temporaries go to `body`. */
export function epilogueAt(j: ConvJob, acc: SExpr, vars: readonly SExpr[], body: Stmt[]): SExpr {
  const { cx, node, root } = j;
  if (root === node) return acc;
  const pinned = new Map([[node.id, acc]]);
  return opDef(root.op).lower!(root.inputs.map((x) => [read(cx, x, root.shape, [...vars], undefined, body, pinned)]), scalarNode(root), noTemps)[0]!;
}

/**
 * The epilogue as a pass over the slab of `dest` whose leading indices are `lead`
 * (dest[lead, …] = epi(dest[lead, …])), once a kernel that accumulates has finished it.
 */
export function slabEpilogue(j: ConvJob, lead: readonly SExpr[]): Stmt[] {
  const { cx, root, dest } = j;
  if (root === j.node) return [];
  const rest = root.shape.slice(lead.length);
  const vs = rest.map(() => fresh(cx, "i"));
  const vars = [...lead, ...vs.map(S.ref)];
  const cell = at(dest, vars);
  const body: Stmt[] = [];
  const e = epilogueAt(j, cell, vars, body);
  let inner: Stmt[] = [...body, { k: "set", target: cell, op: "=", e }];
  for (let d = rest.length - 1; d >= 0; d--) inner = [{ k: "for", v: vs[d]!, n: S.num(rest[d]!), body: inner }];
  return inner;
}

/** The destination element at a 4-D index. */
export const destAt = (j: ConvJob, vars: readonly SExpr[]): SExpr => at(j.dest, [...vars]);

/** `4×1×28×28` */
export const dims = (n: Node | readonly number[]): string => ("shape" in n ? n.shape : n).join("×");

/** Elements of the node's output. */
export const outSize = (n: Node): number => size(n.shape);
