/**
 * Scalar unrolling: a small value is one `const` per element, computed by its
 * op's scalar template (ops.ts `lower`) from its inputs' elements. Leaves are
 * locals loaded once at the top of a function; views and constants alias.
 */
import type { Node } from "../ir/graph.ts";
import { opDef } from "../ir/ops.ts";
import * as S from "../ir/sexpr.ts";
import type { SExpr } from "../ir/sexpr.ts";
import { size } from "../ir/shape.ts";
import { accessOf, at, element, unflat } from "./access.ts";
import { type Cx, destOf, fresh } from "./context.ts";
import type { Stmt } from "./stmt.ts";

/** An op template context that allows no temporaries. */
export const noTemps = { temp: (e: SExpr) => e };

/** A node seen as one element of itself: for applying an elementwise op's template inside a loop. */
export function scalarNode(n: Node): Node {
  return { ...n, shape: [], inputs: n.inputs.map((i) => ({ ...i, shape: [] })) };
}

/**
 * Is `n` a view whose elements are its input's, rearranged (rather than read from storage)? Also every view no
 * strided access reaches (a reshape of a transpose: fuzz seed 20261204, batch 425, in a Hessian-vector product):
 * its elements are its input's, resolved the same way down to a view that strides do express.
 */
const aliasView = (cx: Cx, n: Node): boolean =>
  opDef(n.op).kind === "view" &&
  (cx.elems.has(n.inputs[0]!.id) ||
    cx.elems.has(cx.plan.source(n).id) ||
    size(n.shape) <= cx.plan.unrollLimit ||
    accessOf(cx.access, cx.plan, n) === undefined);

/**
 * The unrolled elements of `n`: locals or literals, or reads of its storage by
 * literal index. A chain of views is resolved bottom-up, without recursion.
 */
export function elemsOf(cx: Cx, n: Node): SExpr[] {
  const stack = [n];
  while (stack.length) {
    const x = stack[stack.length - 1]!;
    if (cx.elems.has(x.id)) {
      stack.pop();
      continue;
    }
    if (aliasView(cx, x) && !cx.elems.has(x.inputs[0]!.id)) {
      stack.push(x.inputs[0]!);
      continue;
    }
    cx.elems.set(x.id, elemsHere(cx, x));
    stack.pop();
  }
  return cx.elems.get(n.id)!;
}

/** Elements of `n`, its view input's elements (if it is an aliasing view) being known. */
function elemsHere(cx: Cx, n: Node): SExpr[] {
  const def = opDef(n.op);
  // A float32 model computes with float32 constants: 2.17 is fround(2.17), so fround(2.17) - 2.17 is 0 as in float32
  // (a float64 literal against a float32-stored value left 7.6e-8 there; the fuzzer found it).
  if (n.op === "const") return def.lower!([], n, noTemps).map((e) => (cx.plan.target.f32 && e.k === "num" ? S.num(Math.fround(e.v)) : e));
  if (n.op === "batchSize") return [S.ref("n")];
  if (n.op === "batchMask") return Array.from({ length: size(n.shape) }, (_, i) => element("mask", S.num(i)));
  if (def.kind === "leaf" && size(n.shape) <= cx.plan.unrollLimit) {
    const a = cx.access.get(n.id)!;
    return Array.from({ length: size(n.shape) }, (_, i) => {
      const name = cx.naming.elemName(n, i);
      cx.loadable.set(name, S.idx(a.arr, a.base + i));
      return S.ref(name);
    });
  }
  if (aliasView(cx, n)) return def.lower!([cx.elems.get(n.inputs[0]!.id)!], n, noTemps);
  const a = accessOf(cx.access, cx.plan, n);
  if (!a) throw new Error(`internal: ${n.op}#${n.id} has neither elements nor storage`);
  return Array.from({ length: size(n.shape) }, (_, i) => at(a, unflat(n.shape, i).map(S.num)));
}

/** The statements of an unrolled node: temporaries, one `const` per element, and its stores. */
export function unrolled(cx: Cx, n: Node): Stmt[] {
  const out: Stmt[] = [];
  const np = cx.plan.nodes.get(n.id)!;
  const base = cx.naming.baseName(n);
  let t = 0;
  const ctx = {
    temp: (e: SExpr) => {
      const name = fresh(cx, `${base}_t${t++}`);
      out.push({ k: "const", name, e });
      cx.definedIn.set(name, cx.fn);
      return S.ref(name);
    },
  };
  const es = opDef(n.op).lower!(n.inputs.map((x) => elemsOf(cx, x)), n, ctx);
  const refs = es.map((e, i) => {
    const name = cx.naming.elemName(n, i);
    out.push({ k: "const", name, e });
    cx.definedIn.set(name, cx.fn);
    return S.ref(name);
  });
  cx.elems.set(n.id, refs);
  if (np.store) {
    const dest = destOf(cx, n);
    refs.forEach((r, i) => {
      out.push({ k: "set", target: S.idx(dest.arr, dest.base + i), op: "=", e: r });
      if (dest.arr === "arena") cx.loadable.set((r as { name: string }).name, S.idx("arena", dest.base + i));
    });
  }
  return out;
}
