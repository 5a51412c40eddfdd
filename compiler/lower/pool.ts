/**
 * Pooling in JS loops: one pass over the windows of each image plane, each
 * window's rows and columns clipped to the image once (padding cells are never
 * visited, so they never win a max and never count in a mean).
 *
 * - maxPool2d, avgPool2d, maxPool2dPick gather: one float64 value per window,
 *   stored once (through the fused epilogue, if any);
 * - maxPool2dBack, avgPool2dBack scatter each window's gradient into its cells
 *   (dx zeroed first; overlapping windows add up); the epilogue then runs on
 *   each finished plane.
 *
 * The tie rule is the op table's: a window's gradient is shared equally by the
 * t cells equal to its max (t = 0 only when a NaN made the max NaN: nothing).
 */
import { poolAttrs } from "../ir/conv.ts";
import * as S from "../ir/sexpr.ts";
import type { SExpr } from "../ir/sexpr.ts";
import { fresh } from "./context.ts";
import { type ConvJob, bound, destAt, epilogueAt, outSize, pos, range, rowOf, slabEpilogue, tapRange, zero } from "./conv-parts.ts";
import type { Stmt } from "./stmt.ts";

export function poolKernel(j: ConvJob): Stmt[] {
  const { cx, node } = j;
  const a = poolAttrs(node.attrs);
  const scatter = node.op === "maxPool2dBack" || node.op === "avgPool2dBack";
  const x = scatter ? node.shape : node.inputs[0]!.shape; // the image the windows cover
  const y = scatter ? node.inputs[node.op === "maxPool2dBack" ? 1 : 0]!.shape : node.shape; // one value per window
  const [N, C, H, W] = x as [number, number, number, number];
  const [OH, OW] = [y[2]!, y[3]!];
  const [b, c, oh, ow] = [fresh(cx, "b"), fresh(cx, "c"), fresh(cx, "oh"), fresh(cx, "ow")];
  const win = [S.ref(b), S.ref(c), S.ref(oh), S.ref(ow)];
  const ohBody: Stmt[] = [];
  const [rLo, rHi] = tapRange(S.ref(oh), a.stride[0], 1, a.pad[0], a.pad[2], a.size[0], H).map((e, i) => bound(cx, e, i ? "rHi" : "rLo", ohBody));
  const owBody: Stmt[] = [];
  const [sLo, sHi] = tapRange(S.ref(ow), a.stride[1], 1, a.pad[1], a.pad[3], a.size[1], W).map((e, i) => bound(cx, e, i ? "sHi" : "sLo", owBody));

  /** A pass over the window's cells: `body(at)` with `at(k)` the element of input k (or the destination, k = -1) at the cell. */
  const cells = (body: (at: (k: number) => SExpr) => Stmt[]): Stmt[] => {
    const [r, s] = [fresh(cx, "r"), fresh(cx, "s")];
    const rBody: Stmt[] = [];
    const rows = new Map<number, (v: SExpr) => SExpr>();
    const h = pos(S.ref(oh), a.stride[0], a.pad[0], S.ref(r), 1);
    const row = (k: number) => {
      if (!rows.has(k)) {
        const at = [S.ref(b), S.ref(c), h];
        rows.set(k, k < 0 ? rowOf(cx, node, j.dest, at, "dr", rBody) : rowOf(cx, node.inputs[k]!, j.ins[k], at, k === 0 ? "xr" : "tr", rBody));
      }
      return rows.get(k)!;
    };
    const col = pos(S.ref(ow), a.stride[1], a.pad[1], S.ref(s), 1);
    const inner = body((k) => row(k)(col));
    return range(r, rLo, rHi, [...rBody, ...range(s, sLo, sHi, inner)]);
  };
  const gather = (e: SExpr) => {
    const temps: Stmt[] = [];
    const v = epilogueAt(j, e, win, temps);
    return [...temps, { k: "set", target: destAt(j, win), op: "=", e: v } as Stmt];
  };
  const count: SExpr =
    a.pad.every((p) => p === 0) ? S.num(a.size[0] * a.size[1]) : S.mul(S.sub(rHi, rLo), S.sub(sHi, sLo)); // the window's real cells
  /** m = the window's max over x (input 0); t = how many cells equal it. */
  const maxAndTies = (m: string, t?: string): Stmt[] => [
    { k: "let", name: m, e: S.num(-Infinity) },
    ...cells((at) => [{ k: "set", target: S.ref(m), op: "=", e: S.M("max", S.ref(m), at(0)) }]),
    ...(t ? [{ k: "let", name: t, e: S.num(0) } as Stmt, ...cells((at) => [{ k: "set", target: S.ref(t), op: "+=", e: S.cond(S.bin("===", at(0), S.ref(m)), S.num(1), S.num(0)) } as Stmt])] : []),
  ];
  const [m, t, acc, gv] = [fresh(cx, "m"), fresh(cx, "t"), fresh(cx, "acc"), fresh(cx, "gv")];
  const gOf = (k: number) => {
    const side: Stmt[] = [];
    const e = rowOf(cx, node.inputs[k]!, j.ins[k], win.slice(0, 3), "gr", side)(S.ref(ow));
    return { side, e };
  };
  switch (node.op) {
    case "maxPool2d":
      owBody.push(...maxAndTies(m), ...gather(S.ref(m)));
      break;
    case "avgPool2d":
      owBody.push({ k: "let", name: acc, e: S.num(0) }, ...cells((at) => [{ k: "set", target: S.ref(acc), op: "+=", e: at(0) }]), ...gather(S.div(S.ref(acc), count)));
      break;
    case "maxPool2dPick": // the mean of G (input 1) over the window's tied maxima
      owBody.push(
        ...maxAndTies(m, t),
        { k: "let", name: acc, e: S.num(0) },
        ...cells((at) => [{ k: "set", target: S.ref(acc), op: "+=", e: S.cond(S.bin("===", at(0), S.ref(m)), S.div(at(1), S.ref(t)), S.num(0)) }]),
        ...gather(S.ref(acc)),
      );
      break;
    case "maxPool2dBack": {
      // g/t to each of the t cells equal to the window's max
      const g = gOf(1);
      owBody.push(...maxAndTies(m, t), ...g.side, { k: "const", name: gv, e: S.div(g.e, S.ref(t)) });
      owBody.push(...cells((at) => [{ k: "set", target: at(-1), op: "+=", e: S.cond(S.bin("===", at(0), S.ref(m)), S.ref(gv), S.num(0)) }]));
      break;
    }
    case "avgPool2dBack": {
      const g = gOf(0);
      owBody.push(...g.side, { k: "const", name: gv, e: S.div(g.e, count) });
      owBody.push(...cells((at) => [{ k: "set", target: at(-1), op: "+=", e: S.ref(gv) }]));
      break;
    }
    default:
      throw new Error(`internal: no JS kernel for ${node.op}`);
  }
  ohBody.push({ k: "for", v: ow, n: S.num(OW), body: owBody });
  const plane: Stmt[] = [{ k: "for", v: oh, n: S.num(OH), body: ohBody }, ...(scatter ? slabEpilogue(j, [S.ref(b), S.ref(c)]) : [])];
  return [
    ...j.head,
    ...(scatter ? zero(cx, j.dest, outSize(node)) : []),
    { k: "for", v: b, n: S.num(N), body: [{ k: "for", v: c, n: S.num(C), body: plane }] },
  ];
}
