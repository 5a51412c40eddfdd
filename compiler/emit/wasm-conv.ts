/**
 * WebAssembly SIMD convolution and pooling kernels, specialized to shapes and
 * byte addresses (`ConvKernel`, `PoolKernel`: compiler/lower/kernel.ts), built
 * with the binaryen method subset of compiler/emit/wasm.ts.
 *
 * The convolutions run on one direct-convolution core (`core`), except the input gradient's usual path
 * (`backInputLanes`, below):
 *   out[n,o,oh,ow] = Σ_{i,r,s} in[n, i, oh·sh + r·dh, ow·sw + s·dw] · w[wOff(o, i, r, s)]
 * over an input that needs no padding. A padded conv first copies its input,
 * zero-padded, into the kernel's scratch (`prep`); the input gradient is the
 * same core over the output gradient dilated by the stride and padded by
 * (R−1)·dh − pt (the transposed convolution), with the filter flipped and its
 * two channel axes swapped — which is only a different constant offset per
 * (o, i, r, s) in the weight loads. Register blocking: a tile of kb output
 * channels × pr output rows × pv vectors of four output columns lives in
 * f32x4 accumulators; for each (r, s) the tile loads pr·pv input vectors and
 * kb splatted weights (load32_splat) for kb·pr·pv multiply-adds. The tile is
 * chosen per shape by a cost model (`coreTile`); tiles at the edges take the
 * remainders, columns past the last multiple of four a scalar tile.
 *
 * The lanes kernel (`backInputLanes`) is the input gradient with the images in the lanes: each input pixel
 * sums exactly the taps that land on g (the core's padded columns put a third of LeNet's conv2 multiply-adds
 * on zeros), one filter column per loop iteration (V8 loads a loop body's operands at its top: five taps
 * spilled); compiler/plan/target.ts `backInputPath` chooses it.
 *
 * The filter gradient (`backFilter`) is a reduction over the batch and the
 * output pixels: dw[k,c,r,s] = Σ_{n,oh,ow} g[n,k,oh,ow] · xp[n,c,oh·sh+r·dh, ow·sw+s·dw],
 * kb channels × sb kernel columns of partial sums in f32x4 registers (lanes:
 * four output columns), summed across lanes once per filter element. Narrow rows
 * are unrolled, each vector of columns in a basic block of its own (`filterRows`):
 * V8 loads a block's operands at its top, so two vectors in one block spill.
 *
 * Pools are scalar loops (they move memory; there is nothing to block).
 */
import * as binaryen from "./wasm-encoder.ts"; // binaryen's builder API, on our own encoder
import type { ConvKernel, Epi, PoolKernel } from "../lower/kernel.ts";
import type { BackInputPath, ConvGeometry } from "../plan/target.ts";
import { backInputPath, backInputTaps, convScratchFloats } from "../plan/target.ts";
import { wasmHelpers } from "./wasm-helpers.ts";

export { convScratchFloats };

type Ref = number;
/** The epilogue builder of compiler/emit/wasm.ts (passed in: wasm.ts imports this file). */
export type EpiExpr = (m: binaryen.Module, e: Epi, o: EpiAt) => Ref;
/** Where an epilogue runs: see compiler/emit/wasm.ts `epiExpr`. */
export interface EpiAt {
  readonly vector: boolean;
  readonly acc: number;
  readonly I: number;
  readonly J: number;
  readonly r: number;
  readonly colOff: number;
  /** The local already holding a load's value, if one does. */
  readonly held?: (e: Epi & { readonly k: "load" }) => number | undefined;
}

const ZERO = Array.from({ length: 16 }, () => 0);

/** One function's locals (no parameters: a local's index is its position) and unique loop labels. */
class Fn {
  readonly vars: number[] = [];
  private labels = 0;
  local(t: number): number {
    this.vars.push(t);
    return this.vars.length - 1;
  }
  /** Locals of one role, allocated as they are first asked for. */
  pool(t: number): (j: number) => number {
    const xs: number[] = [];
    return (j) => {
      while (xs.length <= j) xs.push(this.local(t));
      return xs[j]!;
    };
  }
  label(p: string): string {
    return `${p}${this.labels++}`;
  }
}

function tools(m: binaryen.Module, f: Fn) {
  const h = wasmHelpers(m);
  /** `body` for L = from, from+1, … to−1 (a loop unless it runs once). */
  const count = (L: number, from: number, to: number, body: Ref[]): Ref[] => {
    if (to <= from) return [];
    if (to - from === 1) return [h.set(L, h.c(from)), ...body];
    const lab = f.label("n");
    return [h.set(L, h.c(from)), m.loop(lab, m.block(null, [...body, h.set(L, h.add(h.get(L), h.c(1))), m.br(lab, h.ltU(h.get(L), h.c(to)))]))];
  };
  /** `mk(size)` for the blocks [L, L+blk) of [from, to): a loop over the full blocks, then the remainder. */
  const blocked = (L: number, from: number, to: number, blk: number, mk: (size: number) => Ref[]): Ref[] => {
    if (to <= from) return [];
    const full = from + Math.floor((to - from) / blk) * blk;
    const out: Ref[] = [];
    if (full > from) {
      out.push(h.set(L, h.c(from)));
      if (full - from === blk) out.push(...mk(blk));
      else {
        const lab = f.label("b");
        out.push(m.loop(lab, m.block(null, [...mk(blk), h.set(L, h.add(h.get(L), h.c(blk))), m.br(lab, h.ltU(h.get(L), h.c(full)))])));
      }
    }
    if (full < to) out.push(h.set(L, h.c(full)), ...mk(to - full));
    return out;
  };
  /** c0 + Σ local·k, skipping zero terms. */
  const affine = (c0: number, terms: [number, number][]): Ref => {
    let e: Ref | null = null;
    for (const [l, k] of terms) {
      if (k === 0) continue;
      const t = k === 1 ? h.get(l) : h.mul(h.get(l), h.c(k));
      e = e === null ? t : h.add(e, t);
    }
    return e === null ? h.c(c0) : c0 ? h.add(h.c(c0), e) : e;
  };
  /** n floats from byte address `base` set to 0: a vector loop on local P (stores aligned to `align` bytes), then scalars. */
  const zero = (P: number, base: number, n: number, align: number): Ref[] => {
    const vecs = Math.floor(n / 4);
    const out: Ref[] = [];
    if (vecs > 0) {
      const lab = f.label("z");
      out.push(
        h.set(P, h.c(base)),
        m.loop(lab, m.block(null, [m.v128.store(0, align, h.get(P), m.v128.const(ZERO)), h.set(P, h.add(h.get(P), h.c(16))), m.br(lab, h.ltU(h.get(P), h.c(base + vecs * 16)))])),
      );
    }
    for (let e = vecs * 4; e < n; e++) out.push(m.f32.store(e * 4, 4, h.c(base), m.f32.const(0)));
    return out;
  };
  return { ...h, count, blocked, affine, zero };
}

/** The loads in an epilogue expression. */
function epiLoads(e: Epi): (Epi & { readonly k: "load" })[] {
  switch (e.k) {
    case "load":
      return [e];
    case "acc":
    case "num":
      return [];
    case "neg":
    case "abs":
    case "sqrt":
      return epiLoads(e.x);
    case "sel":
      return [...epiLoads(e.c.a), ...epiLoads(e.c.b), ...epiLoads(e.a), ...epiLoads(e.b)];
    default:
      return [...epiLoads(e.a), ...epiLoads(e.b)];
  }
}

/** The direct-convolution core's geometry (see the file comment); every length in elements, bases in bytes. */
interface Core {
  readonly N: number;
  readonly Ci: number;
  readonly Hi: number;
  readonly Wi: number;
  readonly inBase: number;
  readonly Co: number;
  readonly Ho: number;
  readonly Wo: number;
  readonly outBase: number;
  readonly R: number;
  readonly S: number;
  readonly sh: number;
  readonly sw: number;
  readonly dh: number;
  readonly dw: number;
  readonly wBase: number;
  /** Weight offset = o·wo + i·wi + wrs(r, s) (wrs ≥ 0). */
  readonly wo: number;
  readonly wi: number;
  readonly wrs: (r: number, s: number) => number;
  /**
   * Rows of the input not padded (sh = dh = 1): output row h reads input rows h + r − P0 for the r that
   * land inside [0, Hi) only, a range computed at run time (the transposed conv's zero rows are skipped);
   * wrs(r, s) = wrs(0, s) + r·wr. Tiles are then one output row high.
   */
  readonly rowClip?: { readonly P0: number; readonly wr: number };
  readonly epi?: Epi;
  readonly accumulate: boolean;
  /**
   * With rows clipped: the S taps of a kernel row as a loop too, one tap (pv input vectors, kb splatted
   * weights) per iteration, instead of S taps unrolled — V8 hoisted the unrolled taps' 5·(kb + pv) loads
   * ahead of their uses and spilled most of them. Needs wrs(0, s) = wrs(0, 0) + s·ws (the forward: ws = 1; the
   * input gradient's flipped filter: ws = −1, its weight pointer walking down to the row's first weight, never below).
   */
  readonly tapLoop?: boolean;
}

/**
 * Register tile [kb channels, pr rows, pv vectors] for the core, by a cost model over the whole loop nest.
 * With the taps as a loop (`tapLoop`) at most 8 accumulators: V8 spilled 9-12 (LeNet's conv2 at 6×2: 273 µs,
 * 4×2: 159 µs; conv1 at 2×6: 183 µs, 2×4: 109 µs).
 */
export function coreTile(q: Pick<Core, "Co" | "Ho" | "Wo" | "sw"> & { readonly rowClip?: unknown; readonly tapLoop?: boolean }): [number, number, number] {
  const maxAccs = q.tapLoop ? 8 : 12;
  const NV = q.sw === 1 && q.Wo >= 4 ? Math.floor(q.Wo / 4) : 0;
  if (NV === 0) return [Math.min(q.Co, 4), 1, 1];
  const parts = (E: number, b: number): [number, number][] => [[Math.floor(E / b), b], [1, E % b]].filter(([n, s]) => n > 0 && s > 0) as [number, number][];
  let best: [number, number, number] = [1, 1, 1];
  let bestCost = Infinity;
  for (let kb = 1; kb <= Math.min(q.Co, 8); kb++)
    for (let pr = 1; pr <= Math.min(q.Ho, q.rowClip ? 1 : 4); pr++)
      for (let pv = 1; pv <= Math.min(NV, 6); pv++) {
        const accs = kb * pr * pv;
        if (accs > maxAccs || accs + Math.min(kb, pr * pv) + 1 > 15) continue;
        let cost = 0;
        for (const [nk, k] of parts(q.Co, kb))
          for (const [nr, r] of parts(q.Ho, pr))
            for (const [nv, v] of parts(NV, pv)) cost += nk * nr * nv * (k * r * v + 0.6 * (k + r * v) + 0.02 * k * r * v);
        if (cost < bestCost - 1e-9) [best, bestCost] = [[kb, pr, pv], cost];
      }
  return best;
}

function core(m: binaryen.Module, f: Fn, q: Core, epiExpr: EpiExpr, tile = coreTile(q)): Ref[] {
  const { i32, v128, f32 } = binaryen;
  const t = tools(m, f);
  const { get, set, c, add } = t;
  const [kb, pr0, pv] = tile;
  const pr = q.rowClip ? 1 : pr0;
  const N_ = f.local(i32), K0 = f.local(i32), OH0 = f.local(i32), OW0 = f.local(i32), I = f.local(i32);
  const PX = f.local(i32), PW = f.local(i32), PY = f.local(i32);
  const RLO = f.local(i32), RHI = f.local(i32), R_ = f.local(i32), PXR = f.local(i32), PWR = f.local(i32);
  const S_ = f.local(i32), PXS = f.local(i32), PWS = f.local(i32);
  const rc = q.rowClip;
  // no row to clip: [max(0, P0 − h), min(R, Hi + P0 − h)) is [0, R) for every output row h < Ho
  const allRows = rc !== undefined && rc.P0 <= 0 && q.Hi + rc.P0 - (q.Ho - 1) >= q.R;
  // With rows clipped, the filter pointer walks the flipped rows downward (rc.wr < 0). Wasm adds a load's static
  // offset to the pointer without wrapping, so the pointer itself must never go below the filter: the filter's
  // row offset of the first tap row is in the pointer, not in the loads' offsets (a filter at a low address read
  // out of bounds: fuzz seed 20261202, batch 106).
  const wAdj = rc ? Math.min(...Array.from({ length: q.S }, (_, s) => q.wrs(0, s))) : 0;
  const accV = f.pool(v128), tmpV = f.pool(v128), accF = f.pool(f32), tmpF = f.pool(f32), holdV = f.pool(v128), holdF = f.pool(f32);
  const V4ok = q.sw === 1 && q.Wo >= 4;
  const NV = V4ok ? Math.floor(q.Wo / 4) : 0;

  /** The tile of kbs channels × prs rows × np units (vectors of four columns, or single columns) at (K0, OH0, OW0). */
  const tileCode = (kbs: number, prs: number, np: number, V4: boolean): Ref[] => {
    const F = V4 ? m.f32x4 : m.f32;
    const T = V4 ? v128 : f32;
    const units: { pj: number; col: number }[] = [];
    for (let pj = 0; pj < prs; pj++) for (let v = 0; v < np; v++) units.push({ pj, col: V4 ? 4 * v : v });
    const P = units.length;
    const acc = (ko: number, u: number) => (V4 ? accV : accF)(ko * P + u);
    const tmp = V4 ? tmpV : tmpF;
    const out: Ref[] = [];
    for (let ko = 0; ko < kbs; ko++) for (let u = 0; u < P; u++) out.push(set(acc(ko, u), V4 ? m.v128.const(ZERO) : m.f32.const(0)));
    if (rc && allRows) {
      // every output row has all R taps in the input (the forward conv: P0 = 0, Hi = Ho + R − 1)
      out.push(
        set(PX, t.affine(q.inBase - rc.P0 * q.Wi * 4, [[N_, q.Ci * q.Hi * q.Wi * 4], [OH0, q.Wi * 4], [OW0, q.sw * 4]])),
        set(PW, t.affine(q.wBase + wAdj * 4, [[K0, q.wo * 4]])),
      );
    } else if (rc) {
      // the taps r ∈ [max(0, P0 − h), min(R, Hi + P0 − h)) of output row h = OH0
      const from = (v: number) => m.i32.sub(c(v), get(OH0));
      out.push(
        set(RLO, m.select(m.i32.gt_s(from(rc.P0), c(0)), from(rc.P0), c(0))),
        set(RHI, m.select(m.i32.gt_s(from(q.Hi + rc.P0), c(q.R)), c(q.R), from(q.Hi + rc.P0))),
        set(PX, t.affine(q.inBase - rc.P0 * q.Wi * 4, [[N_, q.Ci * q.Hi * q.Wi * 4], [OH0, q.Wi * 4], [RLO, q.Wi * 4], [OW0, q.sw * 4]])),
        set(PW, t.affine(q.wBase + wAdj * 4, [[K0, q.wo * 4], [RLO, rc.wr * 4]])),
      );
    } else
      out.push(
        set(PX, t.affine(q.inBase, [[N_, q.Ci * q.Hi * q.Wi * 4], [OH0, q.sh * q.Wi * 4], [OW0, q.sw * 4]])),
        set(PW, t.affine(q.wBase, [[K0, q.wo * 4]])),
      );
    const taps = rc !== undefined && q.tapLoop === true && q.S > 1;
    const [PXa, PWa] = taps ? [PXS, PWS] : rc ? [PXR, PWR] : [PX, PW];
    const step: Ref[] = [];
    const madd = (a: number, x: Ref, y: Ref) => set(a, F.add(get(a, T), F.mul(x, y)));
    for (let r = 0; r < (rc ? 1 : q.R); r++)
      for (let s = 0; s < (taps ? 1 : q.S); s++) {
        const xl = (u: { pj: number; col: number }) => {
          const off = ((u.pj * q.sh + r * q.dh) * q.Wi + u.col * q.sw + s * q.dw) * 4;
          return V4 ? m.v128.load(off, 4, get(PXa)) : m.f32.load(off, 4, get(PXa));
        };
        const wl = (ko: number) => {
          // in the tap loop the pointer itself is at the tap (PWS: see below)
          const off = (ko * q.wo + (taps ? 0 : q.wrs(r, s) - wAdj)) * 4;
          return V4 ? m.v128.load32_splat(off, 4, get(PWa)) : m.f32.load(off, 4, get(PWa));
        };
        // Hold the smaller of the two operand sets in registers, stream the other.
        if (P <= kbs) {
          units.forEach((u, j) => step.push(set(tmp(j), xl(u))));
          for (let ko = 0; ko < kbs; ko++) {
            step.push(set(tmp(P), wl(ko)));
            for (let u = 0; u < P; u++) step.push(madd(acc(ko, u), get(tmp(P), T), get(tmp(u), T)));
          }
        } else {
          for (let ko = 0; ko < kbs; ko++) step.push(set(tmp(ko), wl(ko)));
          units.forEach((u, j) => {
            step.push(set(tmp(kbs), xl(u)));
            for (let ko = 0; ko < kbs; ko++) step.push(madd(acc(ko, j), get(tmp(ko), T), get(tmp(kbs), T)));
          });
        }
      }
    let inner = step;
    if (taps) {
      // the taps s = 0 … S−1 of row R_: the input pointer moves dw columns, the weight pointer ws weights (from
      // tap 0's weight; with ws = −1 it ends on the row's lowest weight, where PWR points: never below the filter)
      const ws = q.wrs(0, 1) - q.wrs(0, 0);
      for (let s2 = 0; s2 < q.S; s2++) if (q.wrs(0, s2) !== q.wrs(0, 0) + s2 * ws) throw new Error("internal: conv tap loop needs weights evenly spaced in a row");
      const lab = f.label("s");
      inner = [
        set(S_, c(0)),
        set(PXS, get(PXR)),
        set(PWS, q.wrs(0, 0) === wAdj ? get(PWR) : add(get(PWR), c((q.wrs(0, 0) - wAdj) * 4))),
        m.loop(lab, m.block(null, [
          ...step,
          set(PXS, add(get(PXS), c(q.dw * 4))),
          set(PWS, add(get(PWS), c(ws * 4))),
          set(S_, add(get(S_), c(1))),
          m.br(lab, t.ltU(get(S_), c(q.S))),
        ])),
      ];
    }
    if (rc) {
      // the kernel rows R_ = from … to−1: all R of them (a fixed loop), or the run-time range [RLO, RHI) when clipped
      const lab = f.label("r");
      const rows = (from: Ref, to: () => Ref): Ref[] => [
        set(R_, from),
        set(PXR, get(PX)),
        set(PWR, get(PW)),
        m.loop(lab, m.block(null, [
          ...inner,
          set(PXR, add(get(PXR), c(q.Wi * 4))),
          set(PWR, add(get(PWR), c(rc.wr * 4))),
          set(R_, add(get(R_), c(1))),
          m.br(lab, t.ltU(get(R_), to())),
        ])),
      ];
      inner = allRows ? rows(c(0), () => c(q.R)) : [m.if(t.ltU(get(RLO), get(RHI)), m.block(null, rows(get(RLO), () => get(RHI))))];
    }
    if (q.Ci === 1) out.push(...inner);
    else {
      const lab = f.label("i");
      out.push(
        set(I, c(0)),
        m.loop(lab, m.block(null, [
          ...inner,
          set(PX, add(get(PX), c(q.Hi * q.Wi * 4))),
          set(PW, add(get(PW), c(q.wi * 4))),
          set(I, add(get(I), c(1))),
          m.br(lab, t.ltU(get(I), c(q.Ci))),
        ])),
      );
    }
    out.push(set(PY, t.affine(q.outBase, [[N_, q.Co * q.Ho * q.Wo * 4], [K0, q.Ho * q.Wo * 4], [OH0, q.Wo * 4], [OW0, 4]])));
    // the epilogue's loads of one value per output channel (a bias): once per channel, not once per unit
    const key = (e: Epi & { readonly k: "load" }) => `${e.at} ${e.rowBytes}`;
    const rowLoads = q.epi ? [...new Map(epiLoads(q.epi).filter((e) => !e.col).map((e) => [key(e), e])).values()] : [];
    const hold = (ko: number, i: number) => (V4 ? holdV : holdF)(ko * rowLoads.length + i);
    for (let ko = 0; ko < kbs; ko++) rowLoads.forEach((e, i) => out.push(set(hold(ko, i), epiExpr(m, e, { vector: V4, acc: acc(ko, 0), I: K0, J: OW0, r: ko, colOff: 0 }))));
    for (let ko = 0; ko < kbs; ko++)
      units.forEach((u, j) => {
        const off = (ko * q.Ho * q.Wo + u.pj * q.Wo + u.col) * 4;
        const held = (e: Epi & { readonly k: "load" }) => {
          const i = e.col ? -1 : rowLoads.findIndex((l) => key(l) === key(e));
          return i < 0 ? undefined : hold(ko, i);
        };
        let val = q.epi ? epiExpr(m, q.epi, { vector: V4, acc: acc(ko, j), I: K0, J: OW0, r: ko, colOff: 0, held }) : get(acc(ko, j), T);
        if (q.accumulate) val = F.add(V4 ? m.v128.load(off, 4, get(PY)) : m.f32.load(off, 4, get(PY)), val);
        out.push(V4 ? m.v128.store(off, 4, get(PY), val) : m.f32.store(off, 4, get(PY), val));
      });
    return out;
  };

  const pixels = (kbs: number, prs: number): Ref[] => [
    ...t.blocked(OW0, 0, 4 * NV, 4 * pv, (px) => tileCode(kbs, prs, px / 4, true)),
    ...t.blocked(OW0, 4 * NV, q.Wo, V4ok ? 4 : pv, (n) => tileCode(kbs, prs, n, false)),
  ];
  return t.count(N_, 0, q.N, t.blocked(K0, 0, q.Co, kb, (kbs) => t.blocked(OH0, 0, q.Ho, pr, (prs) => pixels(kbs, prs))));
}

/** Copy of `planes` planes [Hs, Ws] at `src` into zeroed planes [Hp, Wp] at `dst`: element (t, q) to (t·stepH + offH, q·stepW + offW), dropping what falls outside. */
interface Prep {
  readonly planes: number;
  readonly Hs: number;
  readonly Ws: number;
  readonly src: number;
  readonly dst: number;
  readonly Hp: number;
  readonly Wp: number;
  readonly stepH: number;
  readonly stepW: number;
  readonly offH: number;
  readonly offW: number;
}

function prep(m: binaryen.Module, f: Fn, p: Prep): Ref[] {
  const { i32 } = binaryen;
  const t = tools(m, f);
  const { get, set, c, add } = t;
  const PL = f.local(i32), T_ = f.local(i32), Q = f.local(i32), PS = f.local(i32), PD = f.local(i32);
  const total = p.planes * p.Hp * p.Wp;
  if (p.dst % 16) throw new Error("internal: conv scratch must be 16-byte aligned");
  const out: Ref[] = t.zero(PD, p.dst, total, 16); // the padded planes
  // the rows and columns that land inside
  const range = (n: number, step: number, off: number, size: number): [number, number] => [
    Math.max(0, Math.ceil(-off / step)),
    Math.min(n, Math.floor((size - 1 - off) / step) + 1),
  ];
  const [tLo, tHi] = range(p.Hs, p.stepH, p.offH, p.Hp);
  const [qLo, qHi] = range(p.Ws, p.stepW, p.offW, p.Wp);
  if (tLo >= tHi || qLo >= qHi) return out;
  const row: Ref[] = [
    set(PS, t.affine(p.src + qLo * 4, [[PL, p.Hs * p.Ws * 4], [T_, p.Ws * 4]])),
    set(PD, t.affine(p.dst + (p.offH * p.Wp + qLo * p.stepW + p.offW) * 4, [[PL, p.Hp * p.Wp * 4], [T_, p.stepH * p.Wp * 4]])),
  ];
  const n = qHi - qLo;
  if (p.stepW === 1) {
    // contiguous: four floats at a time, then the rest
    const v = Math.floor(n / 4);
    if (v > 0) {
      const lab = f.label("c");
      row.push(
        set(Q, c(0)),
        m.loop(lab, m.block(null, [
          m.v128.store(0, 4, add(get(PD), get(Q)), m.v128.load(0, 4, add(get(PS), get(Q)))),
          set(Q, add(get(Q), c(16))),
          m.br(lab, t.ltU(get(Q), c(v * 16))),
        ])),
      );
    }
    for (let e = v * 4; e < n; e++) row.push(m.f32.store(e * 4, 4, get(PD), m.f32.load(e * 4, 4, get(PS))));
  } else {
    const lab = f.label("c");
    row.push(
      set(Q, c(0)),
      m.loop(lab, m.block(null, [
        m.f32.store(0, 4, add(get(PD), t.mul(get(Q), c(p.stepW * 4))), m.f32.load(0, 4, add(get(PS), m.i32.shl(get(Q), c(2))))),
        set(Q, add(get(Q), c(1))),
        m.br(lab, t.ltU(get(Q), c(n))),
      ])),
    );
  }
  out.push(...t.count(PL, 0, p.planes, t.count(T_, tLo, tHi, row)));
  return out;
}

/** Geometry of the filter-gradient reduction over padded input xp [N, C, Hp, Wp] and g [N, K, OH, OW]. */
interface BackFilter {
  readonly N: number;
  readonly C: number;
  readonly K: number;
  readonly R: number;
  readonly S: number;
  readonly OH: number;
  readonly OW: number;
  readonly Hp: number;
  readonly Wp: number;
  readonly sh: number;
  readonly sw: number;
  readonly dh: number;
  readonly dw: number;
  readonly xBase: number;
  readonly gBase: number;
  readonly wBase: number;
  readonly accumulate: boolean;
}

/** Register tile [kb channels, sb kernel columns] of the filter gradient. */
export function filterTile(q: Pick<BackFilter, "K" | "S">): [number, number] {
  const parts = (E: number, b: number): [number, number][] => [[Math.floor(E / b), b], [1, E % b]].filter(([n, s]) => n > 0 && s > 0) as [number, number][];
  let best: [number, number] = [1, 1];
  let bestCost = Infinity;
  for (let kb = Math.min(q.K, 8); kb >= 1; kb--)
    for (let sb = 1; sb <= Math.min(q.S, 8); sb++) {
      // at most 8 accumulators: on LeNet's two filter gradients 4×2 and 2×3 tiles beat 2×5 (10) by 33-40% and 3×3 (9) by 40%;
      // and V8 loads a unit's kb + sb vectors before its multiplies, so accumulators + loads + a product must fit its 15
      // vector registers: 8×1 (18) spilled (a 1×1 conv 32->32 on 14×14, batch 8: 136 µs; 6×1 91 µs, bench/filter-ab.ts)
      if (kb * sb > 8 || kb * sb + kb + sb + 1 > 15) continue;
      let cost = 0;
      for (const [nk, k] of parts(q.K, kb)) for (const [ns, s] of parts(q.S, sb)) cost += nk * ns * (k * s + (k + s) + 0.02 * k * s);
      if (cost < bestCost - 1e-9) [best, bestCost] = [[kb, sb], cost];
    }
  return best;
}

/**
 * The filter gradient's rows, unless the tiles say otherwise: rows of at most FENCE_UNITS units (vectors of four
 * output columns) are unrolled and fenced (`backFilter`), FENCE_UNITS units per loop iteration (LeNet's conv2dBackFilter,
 * bench/conv-tiles.ts at load 2: conv2 (2 units a row) 193 µs as a loop, 168 fenced one row an iteration, 164-166 with
 * all 8 rows; conv1 (6 units a row) 99 µs, 95 fenced one row, 93.5-94 with 2-8 rows, 95 with 12).
 */
const FENCE_UNITS = 16;
export function filterRows(q: Pick<BackFilter, "sw" | "OW" | "OH">): { fence: boolean; rows: number } {
  const units = q.sw === 1 && q.OW >= 4 ? Math.ceil(q.OW / 4) : 0;
  if (units === 0 || units > FENCE_UNITS) return { fence: false, rows: 1 };
  return { fence: true, rows: Math.max(1, Math.min(q.OH, Math.floor(FENCE_UNITS / units))) };
}

/**
 * Images per block of the filter gradient: every tile runs over one block of images before the next, so the
 * block's x and g (NB·(K·OH·OW + C·Hp·Wp) floats, at most 16 KiB) stay in the L1 cache (32 KiB here) across the
 * tiles that reuse them, instead of each tile streaming all N images from L2. A block costs each tile its setup
 * and its lane sums added into dw (~80 instructions against ~23 per vector of columns): blocks of fewer than 128
 * vectors a tile lose. LeNet with column tiles (bench/conv-tiles.ts, load 4.7, blocks of 1/2/4/8/32 images): conv1
 * (144 vectors an image) 96.3/97.6/97.5/100.3/100.4 µs; conv2 (16 an image) 213/191/181/174/174 µs: conv2 keeps one
 * block. With the tap tiles conv1's blocks of 1 ran 1.2 µs slower than one block (92.7 against 91.5); they are kept
 * for their shorter float32 sums (max |err| / Σ|terms| 3.2e-8 → 7.3e-9 on conv1).
 */
export function filterImages(q: Pick<BackFilter, "N" | "K" | "C" | "OH" | "OW" | "Hp" | "Wp" | "sw">): number {
  const perImage = (q.K * q.OH * q.OW + q.C * q.Hp * q.Wp) * 4;
  const nb = Math.max(1, Math.min(q.N, Math.floor((16 << 10) / perImage)));
  const vectors = q.OH * (q.sw === 1 ? Math.ceil(q.OW / 4) : q.OW);
  return nb * vectors >= 128 ? nb : q.N;
}

function backFilter(
  m: binaryen.Module, f: Fn, q: BackFilter, tile?: [number, number], unrollMax = 0, fence = filterRows(q).fence, rowsPerIter = filterRows(q).rows,
  images = filterImages(q), flatTaps = true,
): Ref[] {
  const { i32, v128, f32 } = binaryen;
  const t = tools(m, f);
  const { get, set, c, add } = t;
  // Fenced rows take their taps from the R·S taps in order (blocks may span kernel rows, one x pointer per tap), so
  // only the last block of each (k, c) is short: a tile of 4 or fewer accumulators waits on its adds' latency (3
  // cycles, 2 ports) — S = 5 in column blocks of 2 or 3 left a fifth to two fifths of the work in such tiles.
  const flat = fence && flatTaps && q.sw === 1 && q.OW >= 4;
  const [kb, sb] = tile ?? filterTile(flat ? { K: q.K, S: q.R * q.S } : q);
  // a tap's kernel row t ÷ S as (t·M) >> 16 when that is exact for every tap (checked here), else a division
  const M = Math.ceil(65536 / q.S);
  const taps = q.R * q.S + 8;
  const exact = taps * M < 2 ** 32 && Array.from({ length: taps }, (_, t) => Math.floor((t * M) / 65536) === Math.floor(t / q.S)).every(Boolean);
  const rowOf = (tap: Ref): Ref => (exact ? m.i32.shr_u(t.mul(tap, c(M)), c(16)) : m.i32.div_u(tap, c(q.S)));
  const K0 = f.local(i32), C0 = f.local(i32), R0 = f.local(i32), N_ = f.local(i32), OH0 = f.local(i32), V_ = f.local(i32);
  const PG = f.local(i32), PX = f.local(i32), QG = f.local(i32), QX = f.local(i32), PD = f.local(i32);
  const NB0 = f.local(i32), NE = f.local(i32), T0 = f.local(i32), TR = f.local(i32);
  const PXT = f.pool(i32);
  const accV = f.pool(v128), tmpV = f.pool(v128), accF = f.pool(f32), tmpF = f.pool(f32);
  // blocks of `NBk` images [NB0, NE): each block's sums are added into dw (zeroed first unless accumulating)
  const NBk = Math.max(1, Math.min(q.N, Math.floor(images)));
  const blocks = NBk < q.N;
  const V4 = q.sw === 1 && q.OW >= 4;
  const NV = V4 ? Math.floor(q.OW / 4) : 0;
  const plane = q.OH * q.OW;

  const tileCode = (kbs: number, s0: number, sbs: number): Ref[] => {
    const F = V4 ? m.f32x4 : m.f32;
    const T = V4 ? v128 : f32;
    const acc = (ko: number, sj: number) => (V4 ? accV : accF)(ko * sbs + sj);
    const tmp = V4 ? tmpV : tmpF;
    const out: Ref[] = [];
    for (let a = 0; a < kbs * sbs; a++) out.push(set((V4 ? accV : accF)(a), V4 ? m.v128.const(ZERO) : m.f32.const(0)));
    const nTerm = (bytes: number): [number, number][] => (blocks ? [[NB0, bytes]] : []);
    out.push(set(PG, t.affine(q.gBase, [[K0, plane * 4], ...nTerm(q.K * plane * 4)])));
    if (!flat) out.push(set(PX, t.affine(q.xBase + s0 * q.dw * 4, [[C0, q.Hp * q.Wp * 4], [R0, q.dh * q.Wp * 4], ...nTerm(q.C * q.Hp * q.Wp * 4)])));
    else {
      // tap T0 + j = r·S + s: its pointer at x[n, c, r·dh, s·dw]
      out.push(set(PX, t.affine(q.xBase, [[C0, q.Hp * q.Wp * 4], ...nTerm(q.C * q.Hp * q.Wp * 4)])));
      for (let j = 0; j < sbs; j++) {
        const tap = () => add(get(T0), c(j));
        out.push(
          set(TR, rowOf(tap())),
          set(PXT(j), add(get(PX), add(t.mul(get(TR), c(q.dh * q.Wp * 4)), t.mul(m.i32.sub(tap(), t.mul(get(TR), c(q.S))), c(q.dw * 4))))),
        );
      }
    }
    const xPtrs = (bytes: number): Ref[] => (flat ? Array.from({ length: sbs }, (_, j) => set(PXT(j), add(get(PXT(j)), c(bytes)))) : [set(PX, add(get(PX), c(bytes)))]);
    /** One unit of the reduction: a vector of four output columns at `col` (masked: only its last `keep` lanes count), or one column. */
    const unit = (G: number, X: number, col: number, keep = 4, xRow = 0): Ref[] => {
      const gl = (ko: number) => (V4 ? m.v128.load((ko * plane + col) * 4, 4, get(G)) : m.f32.load((ko * plane + col) * 4, 4, get(G)));
      const xl = (sj: number) =>
        flat ? m.v128.load((xRow + col) * 4, 4, get(PXT(sj)))
        : V4 ? m.v128.load((xRow + col + sj * q.dw) * 4, 4, get(X)) : m.f32.load((col * q.sw + sj * q.dw) * 4, 4, get(X));
      // the lane mask, built anew at each use: an expression is one node of one tree
      const mask = keep < 4 ? () => m.v128.const(Array.from({ length: 16 }, (_, b) => (b >> 2 >= 4 - keep ? 255 : 0))) : null;
      const madd = (a: number, x: Ref, y: Ref) => {
        const prod = F.mul(x, y);
        return set(a, F.add(get(a, T), mask === null ? prod : m.v128.bitselect(prod, m.v128.const(ZERO), mask())));
      };
      const s: Ref[] = [];
      if (kbs <= sbs) {
        for (let ko = 0; ko < kbs; ko++) s.push(set(tmp(ko), gl(ko)));
        for (let sj = 0; sj < sbs; sj++) {
          s.push(set(tmp(kbs), xl(sj)));
          for (let ko = 0; ko < kbs; ko++) s.push(madd(acc(ko, sj), get(tmp(ko), T), get(tmp(kbs), T)));
        }
      } else {
        for (let sj = 0; sj < sbs; sj++) s.push(set(tmp(sj), xl(sj)));
        for (let ko = 0; ko < kbs; ko++) {
          s.push(set(tmp(sbs), gl(ko)));
          for (let sj = 0; sj < sbs; sj++) s.push(madd(acc(ko, sj), get(tmp(sbs), T), get(tmp(sj), T)));
        }
      }
      return s;
    };
    // A row's units unrolled at static offsets, every unit after the first in a basic block of its own, behind a test
    // that always holds (g's pointer is below g's end) with a distinct bound per unit (V8 drops a test it has seen
    // and merges the blocks). V8 loads a block's operands at its top: units in one block spill; and a loop per row
    // costs its counter, addresses and stack check every NV units (LeNet's conv2: 2).
    const gEnd = q.gBase + q.N * q.K * plane * 4;
    const fencedRows = (rows: number): Ref[] => {
      const units: Ref[][] = [];
      for (let j = 0; j < rows; j++) {
        const xRow = j * (q.sh * q.Wp - q.OW);
        for (let v = 0; v < NV; v++) units.push(unit(PG, PX, j * q.OW + 4 * v, 4, xRow));
        if (q.OW % 4) units.push(unit(PG, PX, j * q.OW + q.OW - 4, q.OW % 4, xRow));
      }
      return units.flatMap((u, i) => (i === 0 ? u : [m.if(t.ltU(get(PG), c(Math.min(gEnd + 4 * i, 0xffffffff))), m.block(null, u))]));
    };
    const row: Ref[] = [];
    if (V4 && fence) row.push(...fencedRows(1));
    else if (V4 && NV <= unrollMax) for (let v = 0; v < NV; v++) row.push(...unit(PG, PX, 4 * v));
    else if (V4) {
      const lab = f.label("v");
      row.push(
        set(V_, c(0)),
        m.loop(lab, m.block(null, [
          set(QG, add(get(PG), m.i32.shl(get(V_), c(4)))),
          set(QX, add(get(PX), m.i32.shl(get(V_), c(4)))),
          ...unit(QG, QX, 0),
          set(V_, add(get(V_), c(1))),
          m.br(lab, t.ltU(get(V_), c(NV))),
        ])),
      );
    } else {
      const lab = f.label("v");
      row.push(
        set(V_, c(0)),
        m.loop(lab, m.block(null, [
          set(QG, add(get(PG), m.i32.shl(get(V_), c(2)))),
          set(QX, add(get(PX), t.mul(get(V_), c(q.sw * 4)))),
          ...unit(QG, QX, 0),
          set(V_, add(get(V_), c(1))),
          m.br(lab, t.ltU(get(V_), c(q.OW))),
        ])),
      );
    }
    if (V4 && q.OW % 4 && !fence) row.push(...unit(PG, PX, q.OW - 4, q.OW % 4));
    const rowStep = (rows: number) => [set(PG, add(get(PG), c(rows * q.OW * 4))), ...xPtrs(rows * q.sh * q.Wp * 4)];
    // fenced: rowsPer rows an iteration, then the last OH % rowsPer one at a time
    const rowsPer = V4 && fence ? Math.max(1, Math.min(rowsPerIter, q.OH)) : 1;
    const full = Math.floor(q.OH / rowsPer) * rowsPer;
    const rows: Ref[] = [
      ...t.blocked(OH0, 0, full, rowsPer, () => [...(rowsPer === 1 ? row : fencedRows(rowsPer)), ...rowStep(rowsPer)]),
      ...t.count(OH0, full, q.OH, [...row, ...rowStep(1)]),
    ];
    const image = [
      ...rows,
      set(PG, add(get(PG), c((q.K - 1) * plane * 4))),
      ...xPtrs((q.C * q.Hp * q.Wp - q.OH * q.sh * q.Wp) * 4),
    ];
    if (!blocks) out.push(...t.count(N_, 0, q.N, image));
    else {
      const lab = f.label("n");
      out.push(set(N_, get(NB0)), m.loop(lab, m.block(null, [...image, set(N_, add(get(N_), c(1))), m.br(lab, t.ltU(get(N_), get(NE)))])));
    }
    const CRS = q.C * q.R * q.S;
    out.push(set(PD, t.affine(q.wBase, [[K0, CRS * 4], [C0, q.R * q.S * 4], flat ? [T0, 4] : [R0, q.S * 4]])));
    for (let ko = 0; ko < kbs; ko++)
      for (let sj = 0; sj < sbs; sj++) {
        const a = acc(ko, sj);
        const lane = (l: number) => m.f32x4.extract_lane(get(a, v128), l);
        let val = V4 ? m.f32.add(m.f32.add(lane(0), lane(1)), m.f32.add(lane(2), lane(3))) : get(a, f32);
        const off = (ko * CRS + s0 + sj) * 4;
        if (q.accumulate || blocks) val = m.f32.add(m.f32.load(off, 4, get(PD)), val);
        out.push(m.f32.store(off, 4, get(PD), val));
      }
    return out;
  };
  const sBlocks = (kbs: number): Ref[] => {
    const out: Ref[] = [];
    for (let s0 = 0; s0 < q.S; s0 += sb) out.push(...tileCode(kbs, s0, Math.min(sb, q.S - s0)));
    return out;
  };
  const tiles = t.blocked(K0, 0, q.K, kb, (kbs) =>
    t.count(C0, 0, q.C, flat ? t.blocked(T0, 0, q.R * q.S, sb, (n) => tileCode(kbs, 0, n)) : t.count(R0, 0, q.R, sBlocks(kbs))),
  );
  if (!blocks) return tiles;
  const out: Ref[] = [];
  if (!q.accumulate) out.push(...t.zero(PD, q.wBase, q.K * q.C * q.R * q.S, 4)); // dw = 0, then each block adds its sums
  const lab = f.label("b");
  out.push(
    set(NB0, c(0)),
    m.loop(lab, m.block(null, [
      set(NE, add(get(NB0), c(NBk))),
      set(NE, m.select(t.ltU(get(NE), c(q.N)), get(NE), c(q.N))),
      ...tiles,
      set(NB0, get(NE)),
      m.br(lab, t.ltU(get(NB0), c(q.N))),
    ])),
  );
  return out;
}

/** Geometry of conv2dBackInput with the images in the lanes ("lanes": compiler/plan/target.ts `backInputPath`). */
interface BackInputLanes extends Pick<ConvGeometry, "N" | "C" | "H" | "W" | "K" | "R" | "S" | "OH" | "OW"> {
  readonly pt: number;
  readonly pl: number;
  readonly dw: number;
  /** g [N, K, OH, OW], the filter [K, C, R, S], dx [N, C, H, W], scratch for g transposed [K, OH, OW, N'] (bytes). */
  readonly gBase: number;
  readonly wBase: number;
  readonly xBase: number;
  readonly scratch: number;
  readonly accumulate: boolean;
}

/** Register tile [kb input channels, nv vectors of four images] of the lanes path. */
export function lanesTile(q: Pick<BackInputLanes, "C" | "N">): [number, number] {
  const NV = Math.ceil(q.N / 4);
  const parts = (E: number, b: number): [number, number][] => [[Math.floor(E / b), b], [1, E % b]].filter(([n, s]) => n > 0 && s > 0) as [number, number][];
  let best: [number, number] = [1, 1];
  let bestCost = Infinity;
  for (let kb = 1; kb <= Math.min(q.C, 8); kb++)
    for (let nv = 1; nv <= Math.min(NV, 8); nv++) {
      // V8 loads a tap's kb weights and nv vectors before its multiplies: accumulators + kb + nv + a product must fit
      // its 15 vector registers. LeNet's conv2 (bench/conv-tiles.ts conv2BackInput, one run at load 10): 2×4 188 µs,
      // 4×2 207, 3×2 208, 2×3 240; spilled: 3×3 417, 6×2 399, 2×5 379, 1×8 501
      if (kb * nv + kb + nv + 1 > 15) continue;
      let cost = 0;
      for (const [nk, k] of parts(q.C, kb)) for (const [nn, n] of parts(NV, nv)) cost += nk * nn * (k * n + 0.6 * (k + n) + 0.02 * k * n);
      if (cost < bestCost - 1e-9) [best, bestCost] = [[kb, nv], cost];
    }
  return best;
}

/** Copy of g [N, X] (X = K·OH·OW) at `src` into [X, N'] at `dst`, N' = N rounded up to 4, the extra lanes zero. */
function transposeImagesLast(m: binaryen.Module, f: Fn, N: number, X: number, src: number, dst: number): Ref[] {
  const { i32, v128 } = binaryen;
  const t = tools(m, f);
  const { get, set, c, add } = t;
  const Np = 4 * Math.ceil(N / 4), NF = Math.floor(N / 4), X4 = X - (X % 4);
  const NB = f.local(i32), XB = f.local(i32), PS = f.local(i32), PD = f.local(i32);
  const A = [f.local(v128), f.local(v128), f.local(v128), f.local(v128)];
  const T = [f.local(v128), f.local(v128), f.local(v128), f.local(v128)];
  const lanes = (a: Ref, b: Ref, l: number[]) => m.i8x16.shuffle(a, b, l.flatMap((q) => [4 * q, 4 * q + 1, 4 * q + 2, 4 * q + 3]));
  const out: Ref[] = [];
  if (dst % 16) throw new Error("internal: conv scratch must be 16-byte aligned");
  // four images × four elements at a time: a 4×4 transpose in registers
  const block: Ref[] = [
    ...A.map((a, i) => set(a, m.v128.load(i * X * 4, 4, get(PS)))),
    set(T[0]!, lanes(get(A[0]!, v128), get(A[1]!, v128), [0, 4, 1, 5])),
    set(T[1]!, lanes(get(A[0]!, v128), get(A[1]!, v128), [2, 6, 3, 7])),
    set(T[2]!, lanes(get(A[2]!, v128), get(A[3]!, v128), [0, 4, 1, 5])),
    set(T[3]!, lanes(get(A[2]!, v128), get(A[3]!, v128), [2, 6, 3, 7])),
    m.v128.store(0, 16, get(PD), lanes(get(T[0]!, v128), get(T[2]!, v128), [0, 1, 4, 5])),
    m.v128.store(Np * 4, 16, get(PD), lanes(get(T[0]!, v128), get(T[2]!, v128), [2, 3, 6, 7])),
    m.v128.store(2 * Np * 4, 16, get(PD), lanes(get(T[1]!, v128), get(T[3]!, v128), [0, 1, 4, 5])),
    m.v128.store(3 * Np * 4, 16, get(PD), lanes(get(T[1]!, v128), get(T[3]!, v128), [2, 3, 6, 7])),
  ];
  const perImages: Ref[] = [];
  if (X4 > 0) {
    const lab = f.label("t");
    perImages.push(
      set(XB, c(0)),
      m.loop(lab, m.block(null, [
        set(PS, t.affine(src, [[NB, 4 * X * 4], [XB, 4]])),
        set(PD, t.affine(dst, [[NB, 16], [XB, Np * 4]])),
        ...block,
        set(XB, add(get(XB), c(4))),
        m.br(lab, t.ltU(get(XB), c(X4))),
      ])),
    );
  }
  for (let x = X4; x < X; x++)
    for (let i = 0; i < 4; i++) perImages.push(m.f32.store((x * Np + i) * 4, 4, t.affine(dst, [[NB, 16]]), m.f32.load(((i * X) + x) * 4, 4, t.affine(src, [[NB, 4 * X * 4]]))));
  out.push(...t.count(NB, 0, NF, perImages));
  if (N % 4) {
    // the last images: their lanes, then zeros in the lanes past N
    const lab = f.label("t");
    const n0 = 4 * NF;
    const cell: Ref[] = [m.v128.store(0, 16, get(PD), m.v128.const(ZERO))];
    for (let i = 0; i < N % 4; i++) cell.push(m.f32.store(i * 4, 4, get(PD), m.f32.load(i * X * 4, 4, get(PS))));
    out.push(
      set(PS, c(src + n0 * X * 4)),
      set(PD, c(dst + n0 * 4)),
      m.loop(lab, m.block(null, [
        ...cell,
        set(PS, add(get(PS), c(4))),
        set(PD, add(get(PD), c(Np * 4))),
        m.br(lab, t.ltU(get(PS), c(src + (n0 * X + X) * 4))),
      ])),
    );
  }
  return out;
}

/**
 * conv2dBackInput with the images in the lanes: dx[n,c,h,w] = Σ_{k,r,s} g[n, k, h + pt − r, w + pl − s·dw] · w[k,c,r,s]
 * over the taps that land on g only — rows clipped at run time ([RLO, RHI) of output row h), columns by the
 * column's place: border columns each with their own static taps, the interior (every tap on g) as a loop. A
 * tile of kb input channels × nv vectors of four images at one pixel; for each tap kb splatted weights and nv
 * loads of gt (g transposed to [K, OH, OW, N']) for kb·nv multiply-adds; the lanes are stored to dx's images.
 */
function backInputLanes(m: binaryen.Module, f: Fn, q: BackInputLanes, tile = lanesTile(q), tapsPerIter = 1): Ref[] {
  const { i32, v128 } = binaryen;
  const t = tools(m, f);
  const { get, set, c, add } = t;
  const [kb, nv] = tile;
  const Np = 4 * Math.ceil(q.N / 4), NF = Math.floor(q.N / 4);
  const C0 = f.local(i32), NB0 = f.local(i32), H_ = f.local(i32), W_ = f.local(i32), K_ = f.local(i32), R_ = f.local(i32);
  const RLO = f.local(i32), RHI = f.local(i32), PG = f.local(i32), PW = f.local(i32), PGR = f.local(i32), PWR = f.local(i32), PD = f.local(i32);
  const PGS = f.local(i32), PWS = f.local(i32), SG = f.local(i32);
  const accV = f.pool(v128), tmpV = f.pool(v128);
  const gt = q.scratch;
  const rowBytes = q.OW * Np * 4, planeBytes = q.OH * rowBytes;
  const taps = (w: number) => backInputTaps({ S: q.S, OW: q.OW, pad: [q.pt, q.pl, 0, 0], dilation: [1, q.dw] }, w);
  const out: Ref[] = transposeImagesLast(m, f, q.N, q.K * q.OH * q.OW, q.gBase, gt);

  /** The tile of kbs channels × nvs image vectors (the last `lastLanes` lanes of its last vector real) at column w (static, or W_ with `all` taps). */
  const tileCode = (kbs: number, nvs: number, lastLanes: number, w: number | null, ss: number[]): Ref[] => {
    const acc = (j: number, v: number) => accV(j * nvs + v);
    const code: Ref[] = [];
    for (let a = 0; a < kbs * nvs; a++) code.push(set(accV(a), m.v128.const(ZERO)));
    if (ss.length) {
      const smax = ss[ss.length - 1]!;
      // gt's pointer: tap row oh = h + pt − RLO (the highest), column ow = w + pl − smax·dw (the lowest of the taps), images n0
      const wTerm: [number, number][] = w === null ? [[W_, Np * 4]] : [];
      const col0 = (w ?? 0) + q.pl - smax * q.dw;
      code.push(
        set(PG, t.affine(gt + (q.pt * q.OW + col0) * Np * 4, [[H_, rowBytes], [RLO, -rowBytes], [NB0, 16], ...wTerm])),
        set(PW, t.affine(q.wBase, [[C0, q.R * q.S * 4], [RLO, q.S * 4]])),
      );
      const madd = (a: number, x: Ref, y: Ref) => set(a, m.f32x4.add(get(a, v128), m.f32x4.mul(x, y)));
      /** One tap: gt's vectors at byte offset `go` from local G, the weights at `wo` from local Wp (offsets ≥ 0). */
      const tap = (G: number, go: number, Wp: number, wo: number): Ref[] => {
        const step: Ref[] = [];
        const gl = (v: number) => m.v128.load(go + 16 * v, 16, get(G));
        const wl = (j: number) => m.v128.load32_splat(wo + j * q.R * q.S * 4, 4, get(Wp));
        if (nvs <= kbs) {
          for (let v = 0; v < nvs; v++) step.push(set(tmpV(v), gl(v)));
          for (let j = 0; j < kbs; j++) {
            step.push(set(tmpV(nvs), wl(j)));
            for (let v = 0; v < nvs; v++) step.push(madd(acc(j, v), get(tmpV(nvs), v128), get(tmpV(v), v128)));
          }
        } else {
          for (let j = 0; j < kbs; j++) step.push(set(tmpV(j), wl(j)));
          for (let v = 0; v < nvs; v++) {
            step.push(set(tmpV(kbs), gl(v)));
            for (let j = 0; j < kbs; j++) step.push(madd(acc(j, v), get(tmpV(j), v128), get(tmpV(kbs), v128)));
          }
        }
        return step;
      };
      // The taps of a row: u at a time in a loop, from s = smax down (gt's pointer rising, the filter's falling), the
      // rest unrolled. V8 hoists a loop body's loads to its top: with all S taps in one body their operands spill.
      const smin = ss[0]!, gStep = q.dw * Np * 4;
      const groups = Math.floor(ss.length / tapsPerIter), rest = ss.length - groups * tapsPerIter;
      const step: Ref[] = [];
      if (groups > 1) {
        const sl = f.label("s");
        step.push(
          set(PGS, get(PGR)),
          set(PWS, add(get(PWR), c((smax - tapsPerIter + 1) * 4))),
          set(SG, c(0)),
          m.loop(sl, m.block(null, [
            ...Array.from({ length: tapsPerIter }, (_, i) => tap(PGS, i * gStep, PWS, (tapsPerIter - 1 - i) * 4)).flat(),
            set(PGS, add(get(PGS), c(tapsPerIter * gStep))),
            // the filter's pointer is used only while SG < groups, where it is ≥ its row's first tap
            set(PWS, m.i32.sub(get(PWS), c(tapsPerIter * 4))),
            set(SG, add(get(SG), c(1))),
            m.br(sl, t.ltU(get(SG), c(groups))),
          ])),
        );
      } else for (let i = 0; i < groups * tapsPerIter; i++) step.push(...tap(PGR, i * gStep, PWR, (smax - i) * 4));
      for (let s = smin + rest - 1; s >= smin; s--) step.push(...tap(PGR, (smax - s) * gStep, PWR, s * 4));
      const rl = f.label("r"), kl = f.label("k");
      code.push(
        m.if(t.ltU(get(RLO), get(RHI)), m.block(null, [
          set(K_, c(0)),
          m.loop(kl, m.block(null, [
            set(R_, get(RLO)),
            set(PGR, get(PG)),
            set(PWR, get(PW)),
            m.loop(rl, m.block(null, [
              ...step,
              // the next tap row reads g's row above: the pointer is used only while R_ < RHI, where that row is ≥ 0
              set(PGR, m.i32.sub(get(PGR), c(rowBytes))),
              set(PWR, add(get(PWR), c(q.S * 4))),
              set(R_, add(get(R_), c(1))),
              m.br(rl, t.ltU(get(R_), get(RHI))),
            ])),
            set(PG, add(get(PG), c(planeBytes))),
            set(PW, add(get(PW), c(q.C * q.R * q.S * 4))),
            set(K_, add(get(K_), c(1))),
            m.br(kl, t.ltU(get(K_), c(q.K))),
          ])),
        ])),
      );
    }
    // dx[n0 + 4v + l, c0 + j, h, w] from lane l of acc(j, v)
    code.push(set(PD, t.affine(q.xBase + (w ?? 0) * 4, [[NB0, 4 * q.C * q.H * q.W * 4], [C0, q.H * q.W * 4], [H_, q.W * 4], ...(w === null ? ([[W_, 4]] as [number, number][]) : [])])));
    for (let j = 0; j < kbs; j++)
      for (let v = 0; v < nvs; v++)
        for (let l = 0; l < (v === nvs - 1 ? lastLanes : 4); l++) {
          const off = (((4 * v + l) * q.C + j) * q.H * q.W) * 4;
          let val = m.f32x4.extract_lane(get(acc(j, v), v128), l);
          if (q.accumulate) val = m.f32.add(m.f32.load(off, 4, get(PD)), val);
          code.push(m.f32.store(off, 4, get(PD), val));
        }
    return code;
  };

  // columns: the interior [wL, wR) has every tap on g
  const wL = Math.min(q.W, Math.max(0, (q.S - 1) * q.dw - q.pl)), wR = Math.max(wL, Math.min(q.W, q.OW - q.pl));
  const all = Array.from({ length: q.S }, (_, s) => s);
  const row = (kbs: number, nvs: number, lastLanes: number): Ref[] => {
    const code: Ref[] = [
      // the tap rows r ∈ [max(0, h + pt − OH + 1), min(R, h + pt + 1)) of output row h
      set(RLO, m.select(m.i32.gt_s(t.affine(q.pt - q.OH + 1, [[H_, 1]]), c(0)), t.affine(q.pt - q.OH + 1, [[H_, 1]]), c(0))),
      set(RHI, m.select(m.i32.gt_s(t.affine(q.pt + 1, [[H_, 1]]), c(q.R)), c(q.R), t.affine(q.pt + 1, [[H_, 1]]))),
    ];
    for (let w = 0; w < wL; w++) code.push(...tileCode(kbs, nvs, lastLanes, w, taps(w)));
    code.push(...t.count(W_, wL, wR, tileCode(kbs, nvs, lastLanes, null, all)));
    for (let w = wR; w < q.W; w++) code.push(...tileCode(kbs, nvs, lastLanes, w, taps(w)));
    return code;
  };
  const images = (kbs: number): Ref[] => [
    // whole vectors of images, then the last images (N % 4) as a vector of their own
    ...t.blocked(NB0, 0, NF, nv, (nvs) => t.count(H_, 0, q.H, row(kbs, nvs, 4))),
    ...(q.N % 4 ? [set(NB0, c(NF)), ...t.count(H_, 0, q.H, row(kbs, 1, q.N % 4))] : []),
  ];
  out.push(...t.blocked(C0, 0, q.C, kb, images));
  return out;
}

/** Tile overrides, for measuring (bench/); the cost models choose otherwise. */
export interface ConvTiles {
  /** conv2dBackInput: the path (compiler/plan/target.ts `backInputPath`; the scratch must be sized for it) and the "lanes" tile [kb, nv]. */
  readonly backInputPath?: BackInputPath;
  readonly lanes?: [number, number];
  /** conv2dBackInput "lanes": the filter columns per iteration of the tap loop. */
  readonly lanesTaps?: number;
  readonly core?: [number, number, number];
  readonly filter?: [number, number];
  /** conv2dBackFilter: vectors of output columns unrolled up to this many per row (default 0: always a loop, 20-30% faster on LeNet than unrolled). */
  readonly filterUnroll?: number;
  /** conv2dBackFilter: each row's units unrolled, one basic block each (default: rows of up to 16 units), and `filterRows` rows per loop iteration. */
  readonly filterFence?: boolean;
  readonly filterRows?: number;
  /** conv2dBackFilter: images per block (`filterImages`). */
  readonly filterImages?: number;
  /** conv2dBackFilter with fenced rows: tiles over blocks of the R·S taps in order (default), or of one kernel row's columns (false). */
  readonly filterTaps?: boolean;
  /** conv2d with row stride and dilation 1: the kernel rows as a loop (default), or unrolled (false). */
  readonly rowLoop?: boolean;
  /** conv2d with the kernel rows as a loop, and conv2dBackInput "rows": each row's taps as a loop too (default), or unrolled (false). */
  readonly tapLoop?: boolean;
}

/** The function body of a conv kernel and its locals. */
function convBody(m: binaryen.Module, k: ConvKernel, epiExpr: EpiExpr, tiles: ConvTiles): { body: Ref[]; vars: number[] } {
  const f = new Fn();
  const { N, C, H, W, K, R, S, OH, OW } = k;
  const [sh, sw] = k.stride;
  const [pt, pl, pb, pr] = k.pad;
  const [dh, dw] = k.dilation;
  const acc = k.accumulate ?? false;
  const body: Ref[] = [];
  const need = (floats: number) => {
    if (floats * 4 > k.scratchBytes) throw new Error(`internal: conv kernel ${k.name} needs ${floats * 4} scratch bytes, has ${k.scratchBytes}`);
  };
  if (k.op === "conv2d" || k.op === "conv2dBackFilter") {
    const padded = pt || pl || pb || pr;
    const Hp = H + pt + pb, Wp = W + pl + pr;
    let xBase = k.x;
    if (padded) {
      need(N * C * Hp * Wp);
      body.push(...prep(m, f, { planes: N * C, Hs: H, Ws: W, src: k.x, dst: k.scratch, Hp, Wp, stepH: 1, stepW: 1, offH: pt, offW: pl }));
      xBase = k.scratch;
    }
    if (k.op === "conv2d")
      body.push(
        ...core(m, f, {
          N, Ci: C, Hi: Hp, Wi: Wp, inBase: xBase, Co: K, Ho: OH, Wo: OW, outBase: k.y, R, S, sh, sw, dh, dw,
          wBase: k.w, wo: C * R * S, wi: R * S, wrs: (r, s) => r * S + s, ...(k.epilogue ? { epi: k.epilogue } : {}), accumulate: acc,
          // the kernel rows as a loop (the unrolled R·S taps made a body V8 ran 3x slower: LeNet's conv2 681 -> 213 µs)
          ...(tiles.rowLoop !== false && sh === 1 && dh === 1 ? { rowClip: { P0: 0, wr: S }, tapLoop: tiles.tapLoop !== false } : {}),
        }, epiExpr, tiles.core),
      );
    else body.push(...backFilter(m, f, { N, C, K, R, S, OH, OW, Hp, Wp, sh, sw, dh, dw, xBase, gBase: k.y, wBase: k.w, accumulate: acc }, tiles.filter, tiles.filterUnroll, tiles.filterFence, tiles.filterRows, tiles.filterImages, tiles.filterTaps));
  } else {
    // dx = the stride-1 correlation of g, dilated by the stride and padded by (R−1)·dh − pt, with the flipped filter.
    const wrs = (r: number, s: number) => (R - 1 - r) * S + (S - 1 - s);
    const path = tiles.backInputPath ?? backInputPath(k);
    if (path === "lanes") {
      need(convScratchFloats(k, "lanes"));
      const q = { N, C, H, W, K, R, S, OH, OW, pt, pl, dw, gBase: k.y, wBase: k.w, xBase: k.x, scratch: k.scratch, accumulate: acc };
      body.push(...backInputLanes(m, f, q, tiles.lanes ?? lanesTile(q), tiles.lanesTaps));
      return { body, vars: f.vars };
    }
    if (path === "rows") {
      // rows: only the taps that land on g (no zero rows); columns: g dilated by sw and padded in scratch
      const Wp = W + (S - 1) * dw, offW = (S - 1) * dw - pl;
      let gBase = k.y;
      if (sw !== 1 || offW || Wp !== OW) {
        need(N * K * OH * Wp);
        body.push(...prep(m, f, { planes: N * K, Hs: OH, Ws: OW, src: k.y, dst: k.scratch, Hp: OH, Wp, stepH: 1, stepW: sw, offH: 0, offW }));
        gBase = k.scratch;
      }
      const q: Core = {
        N, Ci: K, Hi: OH, Wi: Wp, inBase: gBase, Co: C, Ho: H, Wo: W, outBase: k.x, R, S, sh: 1, sw: 1, dh: 1, dw,
        wBase: k.w, wo: R * S, wi: C * R * S, wrs, rowClip: { P0: R - 1 - pt, wr: -S }, accumulate: acc,
        // each kernel row's taps as a loop, as the forward's (the unrolled taps spilled there)
        ...(tiles.tapLoop !== false ? { tapLoop: true } : {}),
      };
      body.push(...core(m, f, q, epiExpr, tiles.core ?? coreTile(q)));
      return { body, vars: f.vars };
    }
    const Hp = H + (R - 1) * dh, Wp = W + (S - 1) * dw;
    const [offH, offW] = [(R - 1) * dh - pt, (S - 1) * dw - pl];
    let gBase = k.y;
    if (sh !== 1 || sw !== 1 || offH || offW || Hp !== OH || Wp !== OW) {
      need(N * K * Hp * Wp);
      body.push(...prep(m, f, { planes: N * K, Hs: OH, Ws: OW, src: k.y, dst: k.scratch, Hp, Wp, stepH: sh, stepW: sw, offH, offW }));
      gBase = k.scratch;
    }
    body.push(
      ...core(m, f, {
        N, Ci: K, Hi: Hp, Wi: Wp, inBase: gBase, Co: C, Ho: H, Wo: W, outBase: k.x, R, S, sh: 1, sw: 1, dh, dw,
        wBase: k.w, wo: R * S, wi: C * R * S, wrs, accumulate: acc,
      }, epiExpr, tiles.core),
    );
  }
  return { body, vars: f.vars };
}

export function addConvKernel(m: binaryen.Module, k: ConvKernel, epiExpr: EpiExpr, tiles: ConvTiles = {}): void {
  const { body, vars } = convBody(m, k, epiExpr, tiles);
  m.addFunction(k.name, binaryen.none, binaryen.none, vars, m.block(null, body));
  m.addFunctionExport(k.name, k.name);
}

/**
 * Pools, one output (or one window of the gradient) at a time. Without
 * padding, a window's cells are loads at constant offsets from its corner;
 * with padding each cell is first checked against the image.
 */
export function addPoolKernel(m: binaryen.Module, k: PoolKernel, epiExpr: EpiExpr): void {
  const { i32, f32 } = binaryen;
  const f = new Fn();
  const t = tools(m, f);
  const { get, set, c, add } = t;
  const { N, C, H, W, R, S, OH, OW } = k;
  const [sh, sw] = k.stride;
  const [pt, pl, pb, pr] = k.pad;
  const padded = pt || pl || pb || pr;
  const isMax = k.op === "maxPool2d" || k.op === "maxPool2dBack";
  const back = k.op === "maxPool2dBack" || k.op === "avgPool2dBack";
  const acc = k.accumulate ?? false;
  const PL = f.local(i32), OH0 = f.local(i32), OW0 = f.local(i32), PX = f.local(i32), PD = f.local(i32), PY = f.local(i32);
  const HH = f.local(i32), WW = f.local(i32);
  // The max and its ties in lane 0 of f32x4 registers: V8 compiles scalar f32.max and f32 selects to branches,
  // which data-dependent maxima mispredict (LeNet's first pool ran 6x slower so); the vector forms are branchless.
  // A select between a value and zero is an and with the comparison's mask (one instruction; bitselect is three).
  const MX = f.local(f32), CNT = f.local(f32), GV = f.local(f32), MV = f.local(binaryen.v128), CV = f.local(binaryen.v128);
  const ONE = Array.from({ length: 16 }, (_, b) => [0, 0, 128, 63][b % 4]!); // 1.0f in every lane
  // Every cell of the image in exactly one window: the gradient is written, not added.
  const tiles = !padded && sh === R && sw === S && H === OH * R && W === OW * S;
  if (k.epilogue && !(back && tiles)) throw new Error(`internal: pool kernel ${k.name}: an epilogue needs a gradient with every cell in one window`);
  // the epilogue's same-index loads: J is the flat index of the window's corner cell in dx
  const JJ = f.local(i32), SH = f.local(f32), SV = f.local(binaryen.v128);
  const jAt = () => set(JJ, t.affine(0, [[PL, H * W], [OH0, sh * W], [OW0, sw]]));
  const epi = (v: Ref, vector: boolean, colOff: number, held?: EpiAt["held"]): Ref => {
    if (!k.epilogue) return v;
    return m.block(null, [set(vector ? SV : SH, v), epiExpr(m, k.epilogue, { vector, acc: vector ? SV : SH, I: JJ, J: JJ, r: 0, colOff, ...(held ? { held } : {}) })], vector ? binaryen.v128 : f32);
  };
  const body: Ref[] = [];
  if (back && !acc && !tiles) {
    const total = N * C * H * W;
    const lab = f.label("z");
    const vecs = Math.floor(total / 4);
    if (vecs)
      body.push(
        set(PD, c(k.dx)),
        m.loop(lab, m.block(null, [m.v128.store(0, 4, get(PD), m.v128.const(ZERO)), set(PD, add(get(PD), c(16))), m.br(lab, t.ltU(get(PD), c(k.dx + vecs * 16)))])),
      );
    for (let e = vecs * 4; e < total; e++) body.push(m.f32.store(e * 4, 4, c(k.dx), m.f32.const(0)));
  }
  /** `fn(cell offset from PX (bytes), PX-relative pointer)` for each cell of the window, inside its bounds check when padded. */
  const cells = (fn: (off: number, ptr: () => Ref) => Ref[]): Ref[] => {
    const out: Ref[] = [];
    for (let r = 0; r < R; r++)
      for (let s = 0; s < S; s++) {
        const off = (r * W + s) * 4;
        if (!padded) {
          out.push(...fn(off, () => get(PX)));
          continue;
        }
        // cell (HH + r, WW + s), HH and WW possibly negative: compared unsigned against the image
        const inside = fn(0, () => add(get(PX), c(off)));
        out.push(m.if(t.ltU(add(get(HH), c(r)), c(H)), m.if(t.ltU(add(get(WW), c(s)), c(W)), m.block(null, inside))));
      }
    return out;
  };
  const xAt = (off: number, ptr: () => Ref) => m.f32.load(off, 4, ptr());
  const win: Ref[] = [];
  if (padded) win.push(set(HH, t.affine(-pt, [[OH0, sh]])), set(WW, t.affine(-pl, [[OW0, sw]])));
  // PX: the window's corner (may lie outside the image when padded: cells are then addressed with no offset immediate)
  win.push(set(PX, add(t.affine(k.x - (pt * W + pl) * 4, [[PL, H * W * 4], [OH0, sh * W * 4]]), t.mul(get(OW0), c(sw * 4)))));
  const V = binaryen.v128;
  const xSplat = (off: number, ptr: () => Ref) => m.v128.load32_splat(off, 4, ptr());
  if (isMax && back) {
    // the gradient needs only the cells equal to the maximum: pmax and a NaN flag, as in the vector path below
    const UV = f.local(V), XV = f.local(V);
    win.push(set(MV, m.f32x4.splat(m.f32.const(-Infinity))), set(UV, m.v128.const(ZERO)));
    if (k.ordered) win.push(...cells((off, ptr) => [set(MV, m.f32x4.pmax(get(MV, V), xSplat(off, ptr)))]));
    else {
      win.push(...cells((off, ptr) => [set(XV, xSplat(off, ptr)), set(MV, m.f32x4.pmax(get(MV, V), get(XV, V))), set(UV, m.v128.or(get(UV, V), m.f32x4.ne(get(XV, V), get(XV, V))))]));
      win.push(set(MV, m.v128.or(get(MV, V), get(UV, V))));
    }
  } else if (isMax) {
    win.push(set(MV, m.f32x4.splat(m.f32.const(-Infinity))));
    win.push(...cells((off, ptr) => [set(MV, (k.ordered ? m.f32x4.pmax : m.f32x4.max)(get(MV, V), xSplat(off, ptr)))]));
    win.push(set(MX, m.f32x4.extract_lane(get(MV, V), 0)));
  } else {
    win.push(set(MX, m.f32.const(0)), set(CNT, m.f32.const(0)));
    win.push(...cells((off, ptr) => [set(MX, m.f32.add(get(MX, f32), xAt(off, ptr))), set(CNT, m.f32.add(get(CNT, f32), m.f32.const(1)))]));
  }
  win.push(set(PY, t.affine(k.y, [[PL, OH * OW * 4], [OH0, OW * 4], [OW0, 4]])));
  if (!back) {
    const v = isMax ? get(MX, f32) : m.f32.div(get(MX, f32), get(CNT, f32));
    win.push(m.f32.store(0, 4, get(PY), acc ? m.f32.add(m.f32.load(0, 4, get(PY)), v) : v));
  } else {
    if (isMax) {
      // tied maxima share g: count the cells equal to the maximum (x ≥ max)
      win.push(set(CV, m.v128.const(ZERO)));
      win.push(...cells((off, ptr) => [set(CV, m.f32x4.add(get(CV, V), m.v128.and(m.f32x4.ge(xSplat(off, ptr), get(MV, V)), m.v128.const(ONE))))]));
      win.push(set(CNT, m.f32x4.extract_lane(get(CV, V), 0)));
    }
    win.push(set(GV, m.f32.div(m.f32.load(0, 4, get(PY)), get(CNT, f32))));
    // dx's window corner: dx and x share a shape, so the same offsets from PD
    win.push(set(PD, add(get(PX), c(k.dx - k.x))));
    const dxCell = (off: number, ptr: () => Ref): Ref[] => {
      const dptr = () => add(ptr(), c(k.dx - k.x));
      const share = epi(
        isMax
          ? m.f32x4.extract_lane(m.v128.and(m.f32x4.ge(xSplat(off, ptr), get(MV, V)), m.f32x4.splat(get(GV, f32))), 0)
          : get(GV, f32),
        false,
        off / 4,
      );
      const v = tiles && !acc ? share : m.f32.add(m.f32.load(off, 4, padded ? dptr() : get(PD)), share);
      return [m.f32.store(off, 4, padded ? dptr() : get(PD), v)];
    };
    if (k.epilogue) win.push(jAt());
    win.push(...cells(dxCell));
  }
  // Max pools with windows two columns wide at column stride 2 and no padding (LeNet's 2×2/2): four windows at
  // a time, from two vectors of each window row — the maximum over rows, then over the even and odd lanes.
  const vec = isMax && !padded && S === 2 && sw === 2 && OW >= 4 && (!back || tiles);
  const OW4 = vec ? OW - (OW % 4) : 0;
  /** Four windows at OW0 (fresh nodes at each call: an expression is one node of one tree). */
  let vwin = (): Ref[] => [];
  if (vec) {
    const V = binaryen.v128;
    const A = Array.from({ length: R }, () => f.local(V)), Bv = Array.from({ length: R }, () => f.local(V));
    const VA = f.local(V), VB = f.local(V), Y = f.local(V), YA = f.local(V), YB = f.local(V), CA = f.local(V), CB = f.local(V), G = f.local(V);
    const lanes = (a: Ref, b: Ref, l: number[]) => m.i8x16.shuffle(a, b, l.flatMap((q) => [4 * q, 4 * q + 1, 4 * q + 2, 4 * q + 3]));
    const UA = f.local(V), UB = f.local(V), T4 = f.local(V), S4 = f.local(V), K7F = f.local(V);
    // set once, before the loops (V8 rebuilds a splat inside the loop at each use)
    if (back) body.push(set(K7F, m.i32x4.splat(c(0x7f000000))));
    vwin = () => {
    const vwin: Ref[] = [];
    // PX: the first window's corner; its row r at r·W floats, the eight columns in two vectors
    vwin.push(set(PX, t.affine(k.x, [[PL, H * W * 4], [OH0, sh * W * 4], [OW0, sw * 4]])));
    for (let r = 0; r < R; r++) vwin.push(set(A[r]!, m.v128.load(r * W * 4, 4, get(PX))), set(Bv[r]!, m.v128.load(r * W * 4 + 16, 4, get(PX))));
    const ev = (a: number, b: number) => lanes(get(a, V), get(b, V), [0, 2, 4, 6]), od = (a: number, b: number) => lanes(get(a, V), get(b, V), [1, 3, 5, 7]);
    // the forward's maximum: f32x4.max (NaN and ±0 as the op table's max), or pmax when x holds no NaN and no −0
    // (k.ordered: then pmax's bits are max's); the gradient's: see below
    const MAX = back || k.ordered ? m.f32x4.pmax : m.f32x4.max;
    vwin.push(set(VA, get(A[0]!, V)), set(VB, get(Bv[0]!, V)));
    for (let r = 1; r < R; r++) vwin.push(set(VA, MAX(get(VA, V), get(A[r]!, V))), set(VB, MAX(get(VB, V), get(Bv[r]!, V))));
    vwin.push(set(Y, MAX(ev(VA, VB), od(VA, VB))));
    vwin.push(set(PY, t.affine(k.y, [[PL, OH * OW * 4], [OH0, OW * 4], [OW0, 4]])));
    if (!back) vwin.push(m.v128.store(0, 4, get(PY), acc ? m.f32x4.add(m.v128.load(0, 4, get(PY)), get(Y, V)) : get(Y, V)));
    else {
      // The gradient needs only which cells equal the maximum and how many. f32x4.max is eight instructions in V8
      // (its NaN and ±0 rules), pmax one: without a NaN in the window pmax's maximum equals max's (−0 and +0 compare
      // equal), and a window holding a NaN gets all ones (a NaN) as its maximum, so that no cell hits, as with max.
      const nan = (x: number) => m.f32x4.ne(get(x, V), get(x, V));
      if (!k.ordered) {
        vwin.push(set(UA, nan(A[0]!)), set(UB, nan(Bv[0]!)));
        for (let r = 1; r < R; r++) vwin.push(set(UA, m.v128.or(get(UA, V), nan(A[r]!))), set(UB, m.v128.or(get(UB, V), nan(Bv[r]!))));
        vwin.push(set(Y, m.v128.or(get(Y, V), m.v128.or(ev(UA, UB), od(UA, UB)))));
      }
      // each cell's window maximum, lanes (0,0,1,1) and (2,2,3,3)
      vwin.push(set(YA, lanes(get(Y, V), get(Y, V), [0, 0, 1, 1])), set(YB, lanes(get(Y, V), get(Y, V), [2, 2, 3, 3])));
      const hit = (x: number, y: number) => m.f32x4.ge(get(x, V), get(y, V));
      // ties: the hit masks (all ones: −1) subtracted as integers, per column, then per window (four windows in T4)
      vwin.push(set(CA, m.i32x4.sub(m.v128.const(ZERO), hit(A[0]!, YA))), set(CB, m.i32x4.sub(m.v128.const(ZERO), hit(Bv[0]!, YB))));
      for (let r = 1; r < R; r++) vwin.push(set(CA, m.i32x4.sub(get(CA, V), hit(A[r]!, YA))), set(CB, m.i32x4.sub(get(CB, V), hit(Bv[r]!, YB))));
      vwin.push(set(T4, m.i32x4.add(ev(CA, CB), od(CA, CB))), set(G, m.v128.load(0, 4, get(PY))), set(CA, m.f32x4.convert_i32x4_s(get(T4, V))));
      // g/t: for t a power of two g·(1/t) is the same rounding of the same quotient, and 1/t's bits are
      // 0x7F000000 − t's (its exponent negated); a division only when some window has another count (3 ties).
      // (t = 0, a NaN window, takes the product: no cell hits there.)
      vwin.push(
        set(S4, m.f32x4.mul(get(G, V), m.i32x4.sub(get(K7F, V), get(CA, V)))),
        m.if(m.v128.any_true(m.v128.and(get(T4, V), m.i32x4.sub(get(T4, V), m.i32x4.splat(c(1))))), set(S4, m.f32x4.div(get(G, V), get(CA, V)))),
        set(CA, lanes(get(S4, V), get(S4, V), [0, 0, 1, 1])),
        set(CB, lanes(get(S4, V), get(S4, V), [2, 2, 3, 3])),
        set(PD, add(get(PX), c(k.dx - k.x))),
      );
      if (k.epilogue) vwin.push(jAt());
      for (let r = 0; r < R; r++)
        for (const [off, cell, share, ym] of [[0, A[r]!, CA, YA], [16, Bv[r]!, CB, YB]] as const) {
          // an epilogue's load of x at the cell (relu's mask) is the cell's vector, already in a local
          const held = (e: Epi & { readonly k: "load" }) => (e.at === k.x && e.col && e.rowBytes === 0 ? cell : undefined);
          const v = epi(m.v128.and(hit(cell, ym), get(share, V)), true, r * W + off / 4, held);
          vwin.push(m.v128.store(r * W * 4 + off, 4, get(PD), acc ? m.f32x4.add(m.v128.load(r * W * 4 + off, 4, get(PD)), v) : v));
        }
    }
    return vwin;
    };
  }
  // a row of up to four vectors of windows unrolled (LeNet's first pool: three)
  const vrow = OW4 <= 16 ? Array.from({ length: OW4 / 4 }, (_, i) => [set(OW0, c(4 * i)), ...vwin()]).flat() : t.blocked(OW0, 0, OW4, 4, vwin);
  const row = [...vrow, ...t.count(OW0, OW4, OW, win)];
  // every cell in one window: the planes' rows of windows are one run (window row p at x's row p·R), one loop
  body.push(...(tiles ? [set(PL, c(0)), ...t.count(OH0, 0, N * C * OH, row)] : t.count(PL, 0, N * C, t.count(OH0, 0, OH, row))));
  m.addFunction(k.name, binaryen.none, binaryen.none, f.vars, m.block(null, body));
  m.addFunctionExport(k.name, k.name);
}
