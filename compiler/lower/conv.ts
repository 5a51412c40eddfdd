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

/**
 * Output columns [0, O) as loops: the interior columns [a, b), whose taps all land inside the
 * image, in blocks of 4 (four accumulators sharing each weight), the rest one at a time with the
 * tap range computed. `cols(from, to, width, full)` builds one loop.
 */
function columnLoops(O: number, a: number, b: number, cols: (from: number, to: number, width: number, full: boolean) => Stmt[]): Stmt[] {
  const [lo, hi] = [Math.max(0, a), Math.min(O, b)];
  const n4 = hi - lo >= 4 ? Math.floor((hi - lo) / 4) * 4 : 0;
  if (!n4) return cols(0, O, 1, false);
  return [...cols(0, lo, 1, false), ...cols(lo, lo + n4, 4, true), ...cols(lo + n4, O, 1, false)];
}

/** `for (v = from; v < to; v += step)` with literal bounds; nothing when empty. */
const loopOf = (v: string, from: number, to: number, step: number, body: Stmt[]): Stmt[] =>
  to > from ? [{ k: "for", v, ...(from ? { from: S.num(from) } : {}), n: S.num(to), ...(step !== 1 ? { step } : {}), body }] : [];

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
  const cols = (from: number, to: number, width: number, full: boolean): Stmt[] => {
    const ow = fresh(cx, "ow");
    const owBody: Stmt[] = [];
    const [sLo, sHi] = full
      ? [S.num(0), S.num(g.S)]
      : tapRange(S.ref(ow), g.stride[1], g.dilation[1], g.pad[1], g.pad[3], g.S, g.W).map((e, i) => bound(cx, e, i ? "sHi" : "sLo", owBody));
    const accs = Array.from({ length: width }, (_, i) => fresh(cx, width > 1 ? `acc${i}` : "acc"));
    const [c, r, s] = [fresh(cx, "c"), fresh(cx, "r"), fresh(cx, "s")];
    const rBody: Stmt[] = [];
    const xRow = rowOf(cx, x, j.ins[0], [R("b"), ch(S.ref(c)), pos(R("oh"), g.stride[0], g.pad[0], S.ref(r), g.dilation[0])], "xr", rBody);
    const wRow = rowOf(cx, w, j.ins[1], [R("k"), S.ref(c), S.ref(r)], "wr", rBody);
    const sBody: Stmt[] = [];
    let wv = wRow(S.ref(s));
    if (width > 1) {
      const name = fresh(cx, "wv");
      sBody.push({ k: "const", name, e: wv });
      wv = S.ref(name);
    }
    const col = (i: number) => pos(S.iadd(S.ref(ow), S.num(i)), g.stride[1], g.pad[1], S.ref(s), g.dilation[1]);
    accs.forEach((a, i) => sBody.push({ k: "set", target: S.ref(a), op: "+=", e: S.mul(xRow(col(i)), wv) }));
    rBody.push(...range(s, sLo, sHi, sBody));
    owBody.push(...accs.map((a) => ({ k: "let", name: a, e: S.num(0) }) as Stmt), { k: "for", v: c, n: S.num(g.Cg), body: range(r, rLo, rHi, rBody) });
    accs.forEach((a, i) => {
      const at = [R("b"), R("k"), R("oh"), S.iadd(S.ref(ow), S.num(i))];
      const e = epilogueAt(j, S.ref(a), at, owBody);
      owBody.push({ k: "set", target: destAt(j, at), op: "=", e });
    });
    return loopOf(ow, from, to, width, owBody);
  };
  // interior columns: ow·sw − pl >= 0 and ow·sw − pl + (S − 1)·dw <= W − 1
  const [sw, pl, ext] = [g.stride[1], g.pad[1], g.dilation[1] * (g.S - 1)];
  ohBody.push(...columnLoops(g.OW, Math.ceil(pl / sw), Math.floor((g.W - 1 + pl - ext) / sw) + 1, cols));
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
  const h = fresh(cx, "h");
  const cBody: Stmt[] = [];
  // c = grp·Cg + c' reads out channels grp·Kg .. grp·Kg + Kg − 1
  const grp = g.groups === 1 ? undefined : fresh(cx, "grp");
  if (grp) cBody.push({ k: "const", name: grp, e: S.M("floor", S.div(R("c"), S.num(g.Cg))) });
  const kOf = (kk: string) => (grp ? S.iadd(S.imul(S.ref(grp), S.num(g.Kg)), S.ref(kk)) : S.ref(kk));
  const cw = grp ? S.sub(R("c"), S.imul(S.ref(grp), S.num(g.Cg))) : R("c");
  const hBody: Stmt[] = [];
  const rows = backTaps(cx, S.ref(h), g.stride[0], g.dilation[0], g.pad[0], g.R, g.OH, v.r, hBody);
  /** Columns [from, to) of dx in blocks of `width`; `full`: every tap s lands on an output column (stride 1 interior). */
  const cols = (from: number, to: number, width: number, full: boolean): Stmt[] => {
    const [col, kk, s] = [fresh(cx, "v"), fresh(cx, "kk"), fresh(cx, "s")];
    const k = kOf(kk);
    const vBody: Stmt[] = [];
    const taps = full
      ? { loop: (body: Stmt[]): Stmt[] => [{ k: "for", v: s, n: S.num(g.S), body }], o: (i: number) => S.sub(plus(S.ref(col), g.pad[1] + i), S.imul(S.ref(s), S.num(g.dilation[1]))), ok: undefined }
      : (() => {
          const t = backTaps(cx, S.ref(col), g.stride[1], g.dilation[1], g.pad[1], g.S, g.OW, s, vBody);
          return { loop: t.loop, o: () => t.o, ok: t.ok };
        })();
    const accs = Array.from({ length: width }, (_, i) => fresh(cx, width > 1 ? `acc${i}` : "acc"));
    const rBody: Stmt[] = [];
    const gRow = rowOf(cx, gN, j.ins[0], [R("b"), k, rows.o], "gr", rBody);
    const wRow = rowOf(cx, w, j.ins[1], [k, cw, R("r")], "wr", rBody);
    const sBody: Stmt[] = [];
    let wv = wRow(S.ref(s));
    if (width > 1) {
      const name = fresh(cx, "wv");
      sBody.push({ k: "const", name, e: wv });
      wv = S.ref(name);
    }
    const ok = rows.ok && taps.ok ? S.cond(rows.ok, taps.ok, S.num(0)) : (rows.ok ?? taps.ok);
    accs.forEach((a, i) => {
      const term = S.mul(gRow(taps.o(i)), wv);
      // taps between outputs (stride > 1 with dilation > 1) add nothing
      sBody.push({ k: "set", target: S.ref(a), op: "+=", e: ok ? S.cond(ok, term, S.num(0)) : term });
    });
    rBody.push(...taps.loop(sBody));
    vBody.push(...accs.map((a) => ({ k: "let", name: a, e: S.num(0) }) as Stmt), { k: "for", v: kk, n: S.num(g.Kg), body: rows.loop(rBody) });
    accs.forEach((a, i) => {
      const at = [R("b"), R("c"), S.ref(h), S.iadd(S.ref(col), S.num(i))];
      const e = epilogueAt(j, S.ref(a), at, vBody);
      vBody.push({ k: "set", target: destAt(j, at), op: "=", e });
    });
    return loopOf(col, from, to, width, vBody);
  };
  // at stride 1, column v reads every tap s when (S − 1)·dw <= v + pl <= OW − 1
  hBody.push(...(g.stride[1] === 1 ? columnLoops(g.W, g.dilation[1] * (g.S - 1) - g.pad[1], g.OW - g.pad[1], cols) : cols(0, g.W, 1, false)));
  cBody.push({ k: "for", v: h, n: S.num(g.H), body: hBody });
  return [...j.head, { k: "for", v: v.b, n: S.num(g.N), body: [{ k: "for", v: v.c, n: S.num(g.C), body: cBody }] }];
}

/** dw[k,c,r,s] = Σ_{b,oh,ow} x[b, c0+c, oh·sh − pt + r·dh, ow·sw − pl + s·dw] · g[b,k,oh,ow], one float64 sum per element. */
function backFilter(j: ConvJob): Stmt[] {
  const { cx, node } = j;
  const [x, gN] = node.inputs as [Node, Node];
  const g = geom(node);
  /** Out channels [from, to) in blocks of `width`: the block's filters share each load of x. */
  const ks = (from: number, to: number, width: number): Stmt[] => {
    const [k, c, r, s, b, oh, ow] = ["k", "c", "r", "s", "b", "oh", "ow"].map((n) => fresh(cx, n)) as [string, string, string, string, string, string, string];
    const R = S.ref;
    const kBody: Stmt[] = [];
    const ch = inChannel(cx, g, R(k), kBody);
    const rBody: Stmt[] = [];
    const [ohLo, ohHi] = outRange(R(r), g.stride[0], g.dilation[0], g.pad[0], g.pad[2], g.OH, g.H).map((e, i) => bound(cx, e, i ? "ohHi" : "ohLo", rBody));
    const sBody: Stmt[] = [];
    const [owLo, owHi] = outRange(R(s), g.stride[1], g.dilation[1], g.pad[1], g.pad[3], g.OW, g.W).map((e, i) => bound(cx, e, i ? "owHi" : "owLo", sBody));
    const accs = Array.from({ length: width }, (_, i) => fresh(cx, width > 1 ? `acc${i}` : "acc"));
    const ohBody: Stmt[] = [];
    const xRow = rowOf(cx, x, j.ins[0], [R(b), ch(R(c)), pos(R(oh), g.stride[0], g.pad[0], R(r), g.dilation[0])], "xr", ohBody);
    const gRows = accs.map((_, i) => rowOf(cx, gN, j.ins[1], [R(b), S.iadd(R(k), S.num(i)), R(oh)], "gr", ohBody));
    const owBody: Stmt[] = [];
    let xv = xRow(pos(R(ow), g.stride[1], g.pad[1], R(s), g.dilation[1]));
    if (width > 1) {
      const name = fresh(cx, "xv");
      owBody.push({ k: "const", name, e: xv });
      xv = S.ref(name);
    }
    accs.forEach((a, i) => owBody.push({ k: "set", target: S.ref(a), op: "+=", e: S.mul(xv, gRows[i]!(R(ow))) }));
    ohBody.push(...range(ow, owLo, owHi, owBody));
    sBody.push(...accs.map((a) => ({ k: "let", name: a, e: S.num(0) }) as Stmt), { k: "for", v: b, n: S.num(g.N), body: range(oh, ohLo, ohHi, ohBody) });
    accs.forEach((a, i) => {
      const at = [S.iadd(R(k), S.num(i)), R(c), R(r), R(s)];
      const e = epilogueAt(j, S.ref(a), at, sBody);
      sBody.push({ k: "set", target: destAt(j, at), op: "=", e });
    });
    rBody.push({ k: "for", v: s, n: S.num(g.S), body: sBody });
    kBody.push({ k: "for", v: c, n: S.num(g.Cg), body: [{ k: "for", v: r, n: S.num(g.R), body: rBody }] });
    return loopOf(k, from, to, width, kBody);
  };
  // Blocks of 4 filters within one group (a block must read one group's input channels).
  if (g.Kg % 4 !== 0 && g.groups > 1) return [...j.head, ...ks(0, g.K, 1)];
  const K4 = g.groups > 1 ? g.K : g.K - (g.K % 4);
  return [...j.head, ...ks(0, K4, 4), ...ks(K4, g.K, 1)];
}
