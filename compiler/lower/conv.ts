/**
 * Convolutions in JS loops (pooling: pool.ts). Every bound is a literal or a
 * tap range computed once per row (conv-parts.ts), so code size does not grow
 * with the image and no inner loop tests a bound; each op is one loop nest:
 *
 * - conv2d: each output is one float64 sum over in channels and the taps
 *   inside the image, the inner loop along a row of the input and the filter;
 * - conv2dBackInput (the transposed convolution): each element of dx is one
 *   float64 sum over the out channels of its group and the taps that some
 *   output reads it through (at stride > 1 a stepped loop visits only those);
 * - conv2dBackFilter: each filter element is one float64 sum over images and
 *   output pixels.
 *
 * So in float32 every element is rounded once, at its store, and it receives
 * its terms in the float64 interpreter's order. A fused elementwise epilogue
 * (bias, ReLU, the ReLU mask of a gradient) is applied to the sum before the
 * store. The plan chooses JS or wasm for
 * each node (`convOnWasm`, compiler/plan/target.ts); a wasm choice goes to
 * the wasm kernels (compiler/lower/wasm-conv.ts).
 */
import { type ConvAttrs, convAttrs, convRoles, fmtPad } from "../ir/conv.ts";
import type { Node } from "../ir/graph.ts";
import { opDef } from "../ir/ops.ts";
import * as S from "../ir/sexpr.ts";
import type { SExpr } from "../ir/sexpr.ts";
import { type Access, accessOf } from "./access.ts";
import { type Cx, fresh } from "./context.ts";
import { type ConvJob, bound, destAt, dims, epilogueAt, floorDiv, max0, minOf, outRange, plus, pos, range, rowOf, tapRange } from "./conv-parts.ts";
import { poolKernel } from "./pool.ts";
import type { Stmt } from "./stmt.ts";
import { wasmConv } from "./wasm-conv.ts";

export type { ConvJob } from "./conv-parts.ts";

/** The statements of conv or pool node `node`, fused into `root` (itself when nothing is fused), storing to `dest`. */
export function convKernel(cx: Cx, node: Node, root: Node, dest: Access): Stmt[] {
  const ins = node.inputs.map((x) => accessOf(cx.access, cx.plan, x));
  const head: Stmt[] = [{ k: "comment", text: describeKernel(node) + (root === node ? "" : ` + fused ${root.op} epilogue`) }];
  const job: ConvJob = { cx, node, root, dest, ins, head };
  const cp = cx.plan.nodes.get(node.id)!.conv;
  if (cp?.wasm) return wasmConv(job, cp);
  if (node.op === "conv2d") return conv2d(job);
  if (node.op === "conv2dBackInput") return backInput(job);
  if (node.op === "conv2dBackFilter") return backFilter(job);
  return poolKernel(job);
}

function describeKernel(n: Node): string {
  if (opDef(n.op).kind !== "conv" || !("groups" in n.attrs)) return `${n.op} ${n.inputs.map(dims).join(", ")} -> ${dims(n)}`;
  const a = convAttrs(n.attrs);
  const { x, w, y } = convRoles(n);
  const extra = [a.groups > 1 ? `groups ${a.groups}` : "", a.dilation.some((d) => d !== 1) ? `dilation ${a.dilation.join("×")}` : ""].filter(Boolean);
  return `${n.op}: x ${dims(x)}, w ${dims(w)}, y ${dims(y)}, stride ${a.stride.join("×")}, padding ${fmtPad(a.pad)}${extra.map((e) => `, ${e}`).join("")}`;
}

/** The sizes and attributes of a conv op, whichever role its output plays. */
interface Geom extends ConvAttrs {
  readonly N: number; readonly C: number; readonly H: number; readonly W: number;
  readonly K: number; readonly Cg: number; readonly Kg: number; readonly R: number; readonly S: number;
  readonly OH: number; readonly OW: number;
}
function geom(n: Node): Geom {
  const { x, w, y } = convRoles(n);
  const a = convAttrs(n.attrs);
  const [N, C, H, W] = x as [number, number, number, number];
  const [K, Cg, R, S_] = w as [number, number, number, number];
  return { ...a, N, C, H, W, K, Cg, Kg: K / a.groups, R, S: S_, OH: y[2]!, OW: y[3]! };
}

/** Loop variables of a conv nest and the input channel `c0 + c` of out channel k (group base hoisted when groups > 1). */
function vars(cx: Cx) {
  const v = { b: fresh(cx, "b"), k: fresh(cx, "k"), c: fresh(cx, "c"), r: fresh(cx, "r"), s: fresh(cx, "s"), oh: fresh(cx, "oh"), ow: fresh(cx, "ow") };
  return { v, R: (name: keyof typeof v) => S.ref(v[name]) };
}
function inChannel(cx: Cx, g: Geom, k: SExpr, into: Stmt[]): (c: SExpr) => SExpr {
  if (g.groups === 1) return (c) => c;
  const c0 = fresh(cx, "c0");
  into.push({ k: "const", name: c0, e: S.mul(S.M("floor", S.div(k, S.num(g.Kg))), S.num(g.Cg)) });
  return (c) => S.iadd(S.ref(c0), c);
}

/** y[b,k,oh,ow] = Σ_{c,r,s} x[b, c0+c, oh·sh − pt + r·dh, ow·sw − pl + s·dw] · w[k,c,r,s]: one float64 sum per output over the taps inside the image. */
function conv2d(j: ConvJob): Stmt[] {
  const { cx, node } = j;
  const [x, w] = node.inputs as [Node, Node];
  const g = geom(node);
  const { v, R } = vars(cx);
  const kBody: Stmt[] = [];
  const ch = inChannel(cx, g, R("k"), kBody);
  const ohBody: Stmt[] = [];
  const [rLo, rHi] = tapRange(R("oh"), g.stride[0], g.dilation[0], g.pad[0], g.pad[2], g.R, g.H).map((e, i) => bound(cx, e, i ? "rHi" : "rLo", ohBody));
  const owBody: Stmt[] = [];
  const [sLo, sHi] = tapRange(R("ow"), g.stride[1], g.dilation[1], g.pad[1], g.pad[3], g.S, g.W).map((e, i) => bound(cx, e, i ? "sHi" : "sLo", owBody));
  const acc = fresh(cx, "acc");
  const rBody: Stmt[] = [];
  const xRow = rowOf(cx, x, j.ins[0], [R("b"), ch(R("c")), pos(R("oh"), g.stride[0], g.pad[0], R("r"), g.dilation[0])], "xr", rBody);
  const wRow = rowOf(cx, w, j.ins[1], [R("k"), R("c"), R("r")], "wr", rBody);
  rBody.push(...range(v.s, sLo, sHi, [{ k: "set", target: S.ref(acc), op: "+=", e: S.mul(xRow(pos(R("ow"), g.stride[1], g.pad[1], R("s"), g.dilation[1])), wRow(R("s"))) }]));
  const at = [R("b"), R("k"), R("oh"), R("ow")];
  const store: Stmt[] = [];
  const e = epilogueAt(j, S.ref(acc), at, store);
  owBody.push(
    { k: "let", name: acc, e: S.num(0) },
    { k: "for", v: v.c, n: S.num(g.Cg), body: range(v.r, rLo, rHi, rBody) },
    ...store,
    { k: "set", target: destAt(j, at), op: "=", e },
  );
  ohBody.push({ k: "for", v: v.ow, n: S.num(g.OW), body: owBody });
  kBody.push({ k: "for", v: v.oh, n: S.num(g.OH), body: ohBody });
  return [...j.head, { k: "for", v: v.b, n: S.num(g.N), body: [{ k: "for", v: v.k, n: S.num(g.K), body: kBody }] }];
}

/**
 * The taps t of an input position i (stride st, spacing d, padding p before) that some output o
 * reads: o = (i + p − t·d) / st whole and in [0, O). Returns the loop over t (and, through `o`,
 * the output index) and the condition, if any, under which a tap counts: a stepped loop when
 * d = 1 (t ≡ i + p mod st), a plain one at stride 1, else a divisibility test.
 */
function backTaps(cx: Cx, i: SExpr, st: number, d: number, p: number, T: number, O: number, t: string, into: Stmt[]) {
  const q = plus(i, p); // i + p
  // 0 <= i + p − t·d <= (O − 1)·st  ⟺  ceil((i + p − (O − 1)·st) / d) <= t <= floor((i + p) / d)
  const lo = bound(cx, max0(floorDiv(plus(q, d - 1 - (O - 1) * st), d)), `${t}Lo`, into);
  const hi = bound(cx, minOf(T, plus(floorDiv(q, d), 1)), `${t}Hi`, into);
  const num = S.sub(q, S.imul(S.ref(t), S.num(d))); // i + p − t·d = o·st
  const o = st === 1 ? num : S.div(num, S.num(st));
  if (st === 1) return { loop: (body: Stmt[]) => range(t, lo, hi, body), o, ok: undefined };
  if (d === 1) {
    const from = bound(cx, S.add(lo, S.bin("%", S.sub(q, lo), S.num(st))), `${t}0`, into);
    return { loop: (body: Stmt[]): Stmt[] => [{ k: "for", v: t, from, n: hi, step: st, body }], o, ok: undefined };
  }
  return { loop: (body: Stmt[]) => range(t, lo, hi, body), o, ok: S.bin("===", S.bin("%", num, S.num(st)), S.num(0)) };
}

/**
 * dx[b,c,h,v] = Σ_{k of c's group, r, s} g[b, k, (h + pt − r·dh)/sh, (v + pl − s·dw)/sw] · w[k, c', r, s]
 * over the taps whose output position is whole and inside g: the transposed convolution, one
 * float64 sum per element of dx.
 */
function backInput(j: ConvJob): Stmt[] {
  const { cx, node } = j;
  const [gN, w] = node.inputs as [Node, Node];
  const g = geom(node);
  const { v, R } = vars(cx);
  const [h, col, kk] = [fresh(cx, "h"), fresh(cx, "v"), fresh(cx, "kk")];
  const cBody: Stmt[] = [];
  // c = grp·Cg + c' reads out channels grp·Kg .. grp·Kg + Kg − 1
  const [k, cw] =
    g.groups === 1
      ? [S.ref(kk), R("c")]
      : (() => {
          const grp = fresh(cx, "grp");
          cBody.push({ k: "const", name: grp, e: S.M("floor", S.div(R("c"), S.num(g.Cg))) });
          return [S.iadd(S.imul(S.ref(grp), S.num(g.Kg)), S.ref(kk)), S.sub(R("c"), S.imul(S.ref(grp), S.num(g.Cg)))];
        })();
  const hBody: Stmt[] = [];
  const rows = backTaps(cx, S.ref(h), g.stride[0], g.dilation[0], g.pad[0], g.R, g.OH, v.r, hBody);
  const vBody: Stmt[] = [];
  const cols = backTaps(cx, S.ref(col), g.stride[1], g.dilation[1], g.pad[1], g.S, g.OW, v.s, vBody);
  const acc = fresh(cx, "acc");
  const rBody: Stmt[] = [];
  const gRow = rowOf(cx, gN, j.ins[0], [R("b"), k, rows.o], "gr", rBody);
  const wRow = rowOf(cx, w, j.ins[1], [k, cw, R("r")], "wr", rBody);
  let term = S.mul(gRow(cols.o), wRow(R("s")));
  const ok = rows.ok && cols.ok ? S.cond(rows.ok, cols.ok, S.num(0)) : (rows.ok ?? cols.ok);
  if (ok) term = S.cond(ok, term, S.num(0)); // taps between outputs (stride > 1 with dilation > 1) add nothing
  rBody.push(...cols.loop([{ k: "set", target: S.ref(acc), op: "+=", e: term }]));
  const at = [R("b"), R("c"), S.ref(h), S.ref(col)];
  const store: Stmt[] = [];
  const e = epilogueAt(j, S.ref(acc), at, store);
  vBody.push(
    { k: "let", name: acc, e: S.num(0) },
    { k: "for", v: kk, n: S.num(g.Kg), body: rows.loop(rBody) },
    ...store,
    { k: "set", target: destAt(j, at), op: "=", e },
  );
  hBody.push({ k: "for", v: col, n: S.num(g.W), body: vBody });
  cBody.push({ k: "for", v: h, n: S.num(g.H), body: hBody });
  return [...j.head, { k: "for", v: v.b, n: S.num(g.N), body: [{ k: "for", v: v.c, n: S.num(g.C), body: cBody }] }];
}

/** dw[k,c,r,s] = Σ_{b,oh,ow} x[b, c0+c, oh·sh − pt + r·dh, ow·sw − pl + s·dw] · g[b,k,oh,ow], one float64 sum per element. */
function backFilter(j: ConvJob): Stmt[] {
  const { cx, node } = j;
  const [x, gN] = node.inputs as [Node, Node];
  const g = geom(node);
  const { v, R } = vars(cx);
  const kBody: Stmt[] = [];
  const ch = inChannel(cx, g, R("k"), kBody);
  const rBody: Stmt[] = [];
  const [ohLo, ohHi] = outRange(R("r"), g.stride[0], g.dilation[0], g.pad[0], g.pad[2], g.OH, g.H).map((e, i) => bound(cx, e, i ? "ohHi" : "ohLo", rBody));
  const sBody: Stmt[] = [];
  const [owLo, owHi] = outRange(R("s"), g.stride[1], g.dilation[1], g.pad[1], g.pad[3], g.OW, g.W).map((e, i) => bound(cx, e, i ? "owHi" : "owLo", sBody));
  const acc = fresh(cx, "acc");
  const ohBody: Stmt[] = [];
  const xRow = rowOf(cx, x, j.ins[0], [R("b"), ch(R("c")), pos(R("oh"), g.stride[0], g.pad[0], R("r"), g.dilation[0])], "xr", ohBody);
  const gRow = rowOf(cx, gN, j.ins[1], [R("b"), R("k"), R("oh")], "gr", ohBody);
  const xCol = pos(R("ow"), g.stride[1], g.pad[1], R("s"), g.dilation[1]);
  ohBody.push(...range(v.ow, owLo, owHi, [{ k: "set", target: S.ref(acc), op: "+=", e: S.mul(xRow(xCol), gRow(R("ow"))) }]));
  const store: Stmt[] = [];
  const at = [R("k"), R("c"), R("r"), R("s")];
  const e = epilogueAt(j, S.ref(acc), at, store);
  sBody.push(
    { k: "let", name: acc, e: S.num(0) },
    { k: "for", v: v.b, n: S.num(g.N), body: range(v.oh, ohLo, ohHi, ohBody) },
    ...store,
    { k: "set", target: destAt(j, at), op: "=", e },
  );
  rBody.push({ k: "for", v: v.s, n: S.num(g.S), body: sBody });
  kBody.push({ k: "for", v: v.c, n: S.num(g.Cg), body: [{ k: "for", v: v.r, n: S.num(g.R), body: rBody }] });
  return [...j.head, { k: "for", v: v.k, n: S.num(g.K), body: kBody }];
}
