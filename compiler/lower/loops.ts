/**
 * Loop kernels: a large value is one loop nest with literal bounds and
 * strides. Elementwise chains fused into it are computed inline at the same
 * index (reads.ts); sums accumulate in a float64 local; row-wise ops
 * (softmax, logsumexp) run their scalar template on one row at a time;
 * matmuls go to matmul.ts, convolutions and pools to conv.ts.
 */
import type { Node } from "../ir/graph.ts";
import { opDef } from "../ir/ops.ts";
import * as S from "../ir/sexpr.ts";
import type { SExpr } from "../ir/sexpr.ts";
import { normAxes, size, strides } from "../ir/shape.ts";
import { sumRuns } from "../plan/target.ts";
import { accessOf, contiguous, element, unflatExpr } from "./access.ts";
import { type Cx, destOf, fresh } from "./context.ts";
import { convKernel } from "./conv.ts";
import { matmulKernel } from "./matmul.ts";
import { flatReads, fusedInto, loops, read } from "./reads.ts";
import { elemsOf, noTemps, scalarNode } from "./scalar.ts";
import type { Buffer, Stmt } from "./stmt.ts";

/** The matmul or conv fused somewhere inside an elementwise group, if any (depth-first, inputs in order): the group's kernel. */
function findFusedKernel(cx: Cx, root: Node): Node | undefined {
  const stack: Node[] = [root];
  while (stack.length) {
    const n = stack.pop()!;
    const fused = n.inputs.filter((x) => fusedInto(cx, x, n));
    const mm = fused.find((x) => x.op === "matmul" || opDef(x.op).kind === "conv");
    if (mm) return mm;
    for (let k = fused.length - 1; k >= 0; k--) stack.push(fused[k]!);
  }
  return undefined;
}

/** The kernel of a loop node (the root of its fused group). */
export function kernel(cx: Cx, n: Node): Stmt[] {
  const def = opDef(n.op);
  const dest = destOf(cx, n);
  if (def.kind === "elementwise") {
    const mm = findFusedKernel(cx, n);
    if (mm) return mm.op === "matmul" ? matmulKernel(cx, mm, n, dest) : convKernel(cx, mm, n, dest);
    const flat = flatReads(cx, n, n.shape);
    return loops(cx, n.shape, flat, (vars, fi) => {
      const body: Stmt[] = [];
      const e = def.lower!(n.inputs.map((x) => [read(cx, x, n.shape, vars, flat ? fi : undefined, body, new Map())]), scalarNode(n), noTemps)[0]!;
      body.push({ k: "set", target: S.idx(dest.arr, S.iadd(S.num(dest.base), fi)), op: "=", e });
      return body;
    });
  }
  if (def.kind === "reduce") return sumKernel(cx, n, dest);
  if (def.kind === "matmul") return matmulKernel(cx, n, n, dest);
  if (def.kind === "rowwise") return rowKernel(cx, n, dest);
  if (def.kind === "conv") return convKernel(cx, n, n, dest);
  throw new Error(`internal: no loop kernel for ${n.op}`);
}

/** A sum: to a scalar in one function-scoped accumulator, or over some axes with one accumulator per output (or a wasm kernel). */
function sumKernel(cx: Cx, n: Node, dest: { arr: Buffer; base: number }): Stmt[] {
  const x = n.inputs[0]!;
  const axes = normAxes(n.attrs.axes as number[], x.shape.length)!;
  if (cx.plan.nodes.get(n.id)!.sum?.wasm) return wasmSum(cx, n, axes, dest);
  const out: Stmt[] = [];
  if (n.shape.length === 0) {
    const flat = flatReads(cx, n, x.shape);
    const acc = cx.naming.names.fresh(`${cx.naming.baseName(n)}_acc`); // function scope: read after the loop
    cx.definedIn.set(acc, cx.fn);
    cx.loadable.set(acc, element(dest.arr, S.num(dest.base))); // the other function reads the stored value
    out.push({ k: "let", name: acc, e: S.num(0) });
    out.push(
      ...loops(cx, x.shape, flat, (vars, fi) => {
        const body: Stmt[] = [];
        body.push({ k: "set", target: S.ref(acc), op: "+=", e: read(cx, x, x.shape, vars, flat ? fi : undefined, body, new Map()) });
        return body;
      }),
    );
    out.push({ k: "set", target: S.idx(dest.arr, dest.base), op: "=", e: S.ref(acc) });
    cx.elems.set(n.id, [S.ref(acc)]);
    return out;
  }
  // Kept axes outside, summed axes inside: each output is accumulated in a local (float64)
  // and stored once, instead of rounding through the float32 arena at every term.
  const vs = x.shape.map(() => fresh(cx, "i"));
  const vars = vs.map(S.ref);
  const acc = fresh(cx, "acc");
  const body: Stmt[] = [];
  const e = read(cx, x, x.shape, vars, undefined, body, new Map());
  let inner: Stmt[] = [...body, { k: "set", target: S.ref(acc), op: "+=", e }];
  for (let d = x.shape.length - 1; d >= 0; d--) if (axes.includes(d)) inner = [{ k: "for", v: vs[d]!, n: S.num(x.shape[d]!), body: inner }];
  const keptSt = strides(n.shape);
  let k = 0;
  const o = vs.reduce((a, nm, d) => (axes.includes(d) ? a : S.iadd(a, S.imul(S.ref(nm), S.num(keptSt[k++]!)))), S.num(dest.base) as SExpr);
  let outer: Stmt[] = [{ k: "let", name: acc, e: S.num(0) }, ...inner, { k: "set", target: S.idx(dest.arr, o), op: "=", e: S.ref(acc) }];
  for (let d = x.shape.length - 1; d >= 0; d--) if (!axes.includes(d)) outer = [{ k: "for", v: vs[d]!, n: S.num(x.shape[d]!), body: outer }];
  return outer;
}

/** The sum as a wasm kernel call (the plan chose it: `sumOnWasm`): its input is stored contiguously. */
function wasmSum(cx: Cx, n: Node, axes: readonly number[], dest: { arr: Buffer; base: number }): Stmt[] {
  const x = n.inputs[0]!;
  const a = accessOf(cx.access, cx.plan, x);
  if (!a || a.arr === "mask" || !contiguous(a, x.shape)) throw new Error(`internal: the plan put sum#${n.id} on wasm with its input not stored contiguously`);
  const bytes = (arr: string, base: number) => cx.regions[arr as keyof typeof cx.regions] + base * 4;
  const name = `sm${cx.kernels.length}`;
  cx.kernels.push({ kind: "sum", name, ...sumRuns(x.shape, axes)!, x: bytes(a.arr, a.base), y: bytes(dest.arr, dest.base), node: n.id });
  return [{ k: "comment", text: `sum of ${x.shape.join("×")} over ${axes.length === 1 ? "axis" : "axes"} ${axes.join(", ")} (wasm)` }, { k: "call", fn: name }];
}

/** A row-wise op: its scalar template over one row of the last axis, for every row. */
function rowKernel(cx: Cx, n: Node, dest: { arr: Buffer; base: number }): Stmt[] {
  const def = opDef(n.op);
  const x = n.inputs[0]!;
  const rn = x.shape[x.shape.length - 1]!;
  const rows = size(x.shape) / rn;
  const outN = size(n.shape) / rows;
  const r = fresh(cx, "r");
  const body: Stmt[] = [];
  const rb = fresh(cx, `${r}_base`);
  body.push({ k: "const", name: rb, e: S.imul(S.ref(r), S.num(rn)) });
  // Element j of row r: the leading axes are r unflattened, the last is j (any layout, through views).
  const lead = x.shape.length > 1 ? unflatExpr(S.ref(r), x.shape.slice(0, -1)) : [];
  // Row r of every input (all have x's shape: softmaxCE's targets too).
  const rowOf = (y: Node) => {
    const a = accessOf(cx.access, cx.plan, y);
    return Array.from({ length: rn }, (_, j) =>
      a && contiguous(a, y.shape)
        ? read(cx, y, y.shape, [], S.iadd(S.ref(rb), S.num(j)), body, new Map())
        : read(cx, y, y.shape, [...lead, S.num(j)], undefined, body, new Map()),
    );
  };
  let t = 0;
  const base = cx.naming.baseName(n);
  const ctx = {
    temp: (e: SExpr) => {
      const name = fresh(cx, `${base}_t${t++}`);
      body.push({ k: "const", name, e });
      return S.ref(name);
    },
  };
  const rowNode = { ...n, shape: n.shape.length === x.shape.length ? [rn] : [], inputs: n.inputs.map((y) => ({ ...y, shape: [rn] })) };
  def.lower!(n.inputs.map(rowOf), rowNode, ctx).forEach((e, j) =>
    body.push({ k: "set", target: S.idx(dest.arr, S.iadd(S.num(dest.base), S.iadd(S.imul(S.ref(r), S.num(outN)), S.num(j)))), op: "=", e }),
  );
  return [{ k: "for", v: r, n: S.num(rows), body }];
}

/** Copies `x` into a slot (an output, a gradient) unless the plan already computed it there. */
export function copyTo(cx: Cx, x: Node, arr: Buffer, offset: number): Stmt[] {
  const src = cx.plan.source(x);
  const st = cx.plan.nodes.get(src.id)?.store;
  if (st && st.arr === arr && st.offset === offset && cx.plan.sameOrder(x)) return [];
  if (size(x.shape) <= cx.plan.unrollLimit || cx.elems.has(x.id) || (cx.elems.has(src.id) && !cx.access.has(src.id)))
    return elemsOf(cx, x).map((e, i) => ({ k: "set", target: S.idx(arr, offset + i), op: "=", e }) as Stmt);
  const flat = flatReads(cx, { ...x, inputs: [x] } as Node, x.shape);
  return loops(cx, x.shape, flat, (vars, fi) => {
    const body: Stmt[] = [];
    body.push({ k: "set", target: S.idx(arr, S.iadd(S.num(offset), fi)), op: "=", e: read(cx, x, x.shape, vars, flat ? fi : undefined, body, new Map()) });
    return body;
  });
}
