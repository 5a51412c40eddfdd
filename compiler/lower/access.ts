/**
 * Strided access: where a value's elements live in the flat buffers. A stored
 * value (or a leaf) is a base offset and strides; a view (reshape, transpose,
 * broadcast) is the same base at other strides (compiler/plan/views.ts).
 */
import type { Node } from "../ir/graph.ts";
import * as S from "../ir/sexpr.ts";
import type { SExpr } from "../ir/sexpr.ts";
import { type Shape, strides } from "../ir/shape.ts";
import type { Plan } from "../plan/memory.ts";
import { contiguous as contiguousStrides, viewStrides } from "../plan/views.ts";
import type { Buffer } from "./stmt.ts";

/** A strided view of a buffer: element (i0, i1, …) is at base + Σ i_d st_d. */
export interface Access {
  readonly arr: Buffer;
  readonly base: number;
  readonly st: readonly number[];
}

export const contiguous = (a: Access, shape: Shape): boolean => contiguousStrides(a.st, shape);

/** The multi-index of flat index i in `shape`. */
export const unflat = (shape: Shape, i: number): number[] => strides(shape).map((s, d) => Math.floor(i / s) % shape[d]!);

/** The multi-index of flat index `f` in `shape`, as expressions. */
export const unflatExpr = (f: SExpr, shape: Shape): SExpr[] =>
  strides(shape).map((st, d) => {
    const q = st === 1 ? f : S.M("floor", S.div(f, S.num(st)));
    return d === 0 ? q : S.bin("%", q, S.num(shape[d]!));
  });

/** A buffer element; for the virtual batch mask, the comparison that defines it. */
export const element = (arr: Buffer, i: SExpr): SExpr =>
  arr === "mask" ? S.cond(S.bin("<", i, S.ref("n")), S.num(1), S.num(0)) : S.idx(arr, i);

/** The element of `a` at multi-index `vars`. */
export const at = (a: Access, vars: readonly SExpr[]): SExpr =>
  element(a.arr, vars.reduce((e, v, d) => S.iadd(e, S.imul(v, S.num(a.st[d]!))), S.num(a.base) as SExpr));

/**
 * Where `n` lives: its own storage, or (a view) its source's at the view's
 * strides; undefined for a value with no storage or no strided form. Views
 * found are remembered in `access`.
 */
export function accessOf(access: Map<number, Access>, plan: Plan, n: Node): Access | undefined {
  const hit = access.get(n.id);
  if (hit) return hit;
  const src = plan.source(n);
  if (src === n) return undefined;
  const a = access.get(src.id);
  if (!a) return undefined;
  const st = viewStrides(n, src, a.st);
  if (!st) return undefined;
  const r = { ...a, st };
  access.set(n.id, r);
  return r;
}
