/**
 * Convolution and pooling: the geometry behind the conv ops of the op table
 * (ops.ts) — attributes, shape rules, the float64 reference, the scalar
 * templates for unrolled nodes and the work counts.
 *
 * Layout NCHW, filters OIHW (ONNX's conventions): x [N, C, H, W], w [K, C/groups, R, S],
 * y = conv2d(x, w) [N, K, OH, OW] with
 *
 *   y[n,k,oh,ow] = Σ_{c',r,s} x[n, g·C/groups + c', oh·sh − pt + r·dh, ow·sw − pl + s·dw] · w[k, c', r, s]
 *
 * (g = k / (K/groups); x is 0 outside the image). The three conv ops are the three
 * partial derivatives of one trilinear form T(x, w, y') = Σ y'·x·w over these taps:
 * conv2d = ∂T/∂y', conv2dBackInput(g, w) = ∂T/∂x, conv2dBackFilter(x, g) = ∂T/∂w, so the
 * derivative of each is built from the others (closed under differentiation).
 *
 * Output sizes must come out whole: OH = (H + pt + pb − dh·(R−1) − 1) / sh + 1 is refused,
 * with the arithmetic, when it is not an integer (PyTorch and TensorFlow floor silently).
 * Then the input size and the kernel size are determined by the other two, which is how
 * the backward ops know their output shapes without attributes of their own.
 */
import { fmtShape } from "../errors.ts";
import type { Attrs, Node } from "./graph.ts";
import * as S from "./sexpr.ts";
import type { SExpr } from "./sexpr.ts";
import { type Shape, ShapeError, size } from "./shape.ts";

type Pair = readonly [number, number];
type Quad = readonly [number, number, number, number];

/** Attributes of conv2d, conv2dBackInput and conv2dBackFilter (normalized by the builder). */
export interface ConvAttrs {
  readonly stride: Pair;
  /** [top, left, bottom, right], ONNX's `pads` order. */
  readonly pad: Quad;
  readonly dilation: Pair;
  readonly groups: number;
}

/** Attributes of the pooling ops: window, stride, padding (padding cells never count). */
export interface PoolAttrs {
  readonly size: Pair;
  readonly stride: Pair;
  readonly pad: Quad;
}

const ints = (v: unknown, n: number, min: number): v is readonly number[] =>
  Array.isArray(v) && v.length === n && v.every((d) => Number.isInteger(d) && d >= min);

const attrError = (name: string, v: unknown, want: string) =>
  new ShapeError(`attribute ${name} ${JSON.stringify(v) ?? String(v)} is not ${want}`, "build conv and pool ops with m.conv2d, m.maxPool2d, m.avgPool2d");

export function convAttrs(a: Attrs): ConvAttrs {
  if (!ints(a.stride, 2, 1)) throw attrError("stride", a.stride, "[sh, sw] with positive integers");
  if (!ints(a.pad, 4, 0)) throw attrError("pad", a.pad, "[top, left, bottom, right] with integers >= 0");
  if (!ints(a.dilation, 2, 1)) throw attrError("dilation", a.dilation, "[dh, dw] with positive integers");
  if (!Number.isInteger(a.groups) || (a.groups as number) < 1) throw attrError("groups", a.groups, "a positive integer");
  return { stride: a.stride as Pair, pad: a.pad as Quad, dilation: a.dilation as Pair, groups: a.groups as number };
}

export function poolAttrs(a: Attrs): PoolAttrs {
  if (!ints(a.size, 2, 1)) throw attrError("size", a.size, "[r, s] with positive integers");
  if (!ints(a.stride, 2, 1)) throw attrError("stride", a.stride, "[sh, sw] with positive integers");
  if (!ints(a.pad, 4, 0)) throw attrError("pad", a.pad, "[top, left, bottom, right] with integers >= 0");
  const [r, s] = a.size as Pair;
  const [pt, pl, pb, pr] = a.pad as Quad;
  if (pt >= r || pb >= r || pl >= s || pr >= s)
    throw new ShapeError(
      `padding ${fmtPad(a.pad as Quad)} is not smaller than the window ${r}×${s}: a window could hold only padding`,
      "pad each side by less than the window (ONNX requires it too)",
    );
  return { size: a.size as Pair, stride: a.stride as Pair, pad: a.pad as Quad };
}

/** Padding as the error messages show it. */
export const fmtPad = (p: Quad): string =>
  p.every((d) => d === 0) ? "valid" : p.every((d) => d === p[0]) ? String(p[0]) : `[${p.join(", ")}]`;

const rank4 = (s: Shape, what: string, layout: string) => {
  if (s.length !== 4)
    throw new ShapeError(`${what} must be 4-D ${layout}, got ${fmtShape(s)}`, "images are [batch, channels, height, width]; reshape a flat row with m.reshape(x, [n, c, h, w])");
};

/**
 * One output size along an axis: (in + pa + pb − extent) / stride + 1, refused when the
 * kernel does not fit or the quotient is not whole. `ctx` describes the whole geometry.
 */
function outDim(axis: "rows" | "cols", inDim: number, extent: number, pad: Quad, st: number, ctx: string): number {
  const [pa, pb] = axis === "rows" ? [pad[0], pad[2]] : [pad[1], pad[3]];
  const span = inDim + pa + pb - extent;
  if (span < 0)
    throw new ShapeError(
      `${ctx} → the kernel's extent ${extent} is larger than the padded input's ${axis} (${inDim + pa + pb})`,
      "use a smaller kernel or dilation, or pad the input",
    );
  if (span % st !== 0) {
    const rem = span % st;
    const unit = (k: number) => (k === 1 ? axis.slice(0, -1) : axis);
    const more = [...pad];
    more[axis === "rows" ? 2 : 3]! += st - rem;
    throw new ShapeError(
      `${ctx} → ${span / st + 1} output ${axis} ((${inDim} + ${pa + pb} − ${extent}) / ${st} + 1): not an integer`,
      `the padded ${axis} minus the kernel's extent (${span}) must be a multiple of the stride ${st}: ` +
        `pad ${st - rem} more ${unit(st - rem)} at the ${axis === "rows" ? "bottom" : "right"} (padding [${more.join(", ")}]), crop ${rem} ${unit(rem)}, or change the stride`,
    );
  }
  return span / st + 1;
}

const convCtx = (H: number, W: number, R: number, S_: number, a: ConvAttrs) =>
  `input ${H}×${W}, kernel ${R}×${S_}, stride ${a.stride[0] === a.stride[1] ? a.stride[0] : a.stride.join("×")}, padding ${fmtPad(a.pad)}` +
  (a.dilation[0] === 1 && a.dilation[1] === 1 ? "" : `, dilation ${a.dilation.join("×")}`);

/** Checks the channel counts of x [N, C, …] against a filter [K, Cg, …] under `groups`. */
function channels(C: number, K: number, Cg: number, groups: number): void {
  if (C % groups !== 0 || K % groups !== 0)
    throw new ShapeError(
      `groups ${groups} does not divide the ${C % groups !== 0 ? `${C} input` : `${K} output`} channels`,
      "groups must divide both the input and the output channels",
    );
  if (C / groups !== Cg)
    throw new ShapeError(
      `the filter holds ${Cg} input channel(s) per group, the input has ${C} channels in ${groups} group(s) (${C / groups} per group)`,
      "filters are [out channels, in channels / groups, rows, cols] (OIHW)",
    );
}

export function conv2dShape([x, w]: Shape[], attrs: Attrs): Shape {
  const a = convAttrs(attrs);
  rank4(x!, "the input", "[N, C, H, W]");
  rank4(w!, "the filter", "[K, C/groups, R, S]");
  const [N, C, H, W] = x! as Quad;
  const [K, Cg, R, S_] = w! as Quad;
  channels(C, K, Cg, a.groups);
  const ctx = convCtx(H, W, R, S_, a);
  const OH = outDim("rows", H, a.dilation[0] * (R - 1) + 1, a.pad, a.stride[0], ctx);
  const OW = outDim("cols", W, a.dilation[1] * (S_ - 1) + 1, a.pad, a.stride[1], ctx);
  return [N, K, OH, OW];
}

/** dx = conv2dBackInput(g, w): g [N, K, OH, OW], w [K, C/groups, R, S] -> [N, C, H, W], H from OH exactly. */
export function conv2dBackInputShape([g, w]: Shape[], attrs: Attrs): Shape {
  const a = convAttrs(attrs);
  rank4(g!, "the output gradient", "[N, K, OH, OW]");
  rank4(w!, "the filter", "[K, C/groups, R, S]");
  const [N, K, OH, OW] = g! as Quad;
  const [K2, Cg, R, S_] = w! as Quad;
  if (K !== K2) throw new ShapeError(`the output gradient has ${K} channels, the filter ${K2}`, "g is conv2d's output gradient [N, K, OH, OW]");
  if (K % a.groups !== 0) throw new ShapeError(`groups ${a.groups} does not divide the ${K} output channels`, "groups must divide the output channels");
  const H = (OH - 1) * a.stride[0] + a.dilation[0] * (R - 1) + 1 - a.pad[0] - a.pad[2];
  const W = (OW - 1) * a.stride[1] + a.dilation[1] * (S_ - 1) + 1 - a.pad[1] - a.pad[3];
  if (H < 1 || W < 1)
    throw new ShapeError(`output ${OH}×${OW} with kernel ${R}×${S_}, stride ${a.stride.join("×")}, padding ${fmtPad(a.pad)} comes from no input (${H}×${W})`, "the padding is larger than the input it pads");
  return [N, Cg * a.groups, H, W];
}

/** dw = conv2dBackFilter(x, g): x [N, C, H, W], g [N, K, OH, OW] -> [K, C/groups, R, S], R from H and OH exactly. */
export function conv2dBackFilterShape([x, g]: Shape[], attrs: Attrs): Shape {
  const a = convAttrs(attrs);
  rank4(x!, "the input", "[N, C, H, W]");
  rank4(g!, "the output gradient", "[N, K, OH, OW]");
  const [N, C, H, W] = x! as Quad;
  const [N2, K, OH, OW] = g! as Quad;
  if (N !== N2) throw new ShapeError(`the input has ${N} images, the output gradient ${N2}`, "g is conv2d's output gradient [N, K, OH, OW]");
  if (C % a.groups !== 0 || K % a.groups !== 0) throw new ShapeError(`groups ${a.groups} does not divide the channels (${C} in, ${K} out)`, "groups must divide both channel counts");
  const kernel = (axis: string, inDim: number, pa: number, pb: number, st: number, dil: number, out: number) => {
    const span = inDim + pa + pb - 1 - (out - 1) * st;
    if (span < 0 || span % dil !== 0)
      throw new ShapeError(`input ${axis} ${inDim} (padding ${pa}+${pb}) and output ${axis} ${out} at stride ${st}, dilation ${dil} fit no kernel size`, "g must be the gradient of a conv2d of this input with these attributes");
    return span / dil + 1;
  };
  const R = kernel("rows", H, a.pad[0], a.pad[2], a.stride[0], a.dilation[0], OH);
  const S_ = kernel("cols", W, a.pad[1], a.pad[3], a.stride[1], a.dilation[1], OW);
  return [K, C / a.groups, R, S_];
}

/** The shapes of x, w and y (conv2d's output) for any of the three conv ops. */
export function convRoles(n: Node): { x: Shape; w: Shape; y: Shape } {
  const [a, b] = n.inputs as [Node, Node];
  if (n.op === "conv2d") return { x: a.shape, w: b.shape, y: n.shape };
  if (n.op === "conv2dBackInput") return { x: n.shape, w: b.shape, y: a.shape };
  return { x: a.shape, w: n.shape, y: b.shape };
}

/** Multiply-adds of a conv op (the same for all three: one per tap). */
export const convWork = (n: Node): number => {
  const { w, y } = convRoles(n);
  return size(y) * w[1]! * w[2]! * w[3]!;
};

/**
 * Every tap of the convolution: f(xi, wi, yi) with the flat indices of the x, w and y
 * elements multiplied together. Loops n, k, c', r, s, oh, ow (out-of-image taps skipped).
 */
export function forEachTap(n: Node, f: (xi: number, wi: number, yi: number) => void): void {
  const { x, w, y } = convRoles(n);
  const a = convAttrs(n.attrs);
  const [N, C, H, W] = x as Quad;
  const [K, Cg, R, S_] = w as Quad;
  const [, , OH, OW] = y as Quad;
  const Kg = K / a.groups;
  for (let b = 0; b < N; b++)
    for (let k = 0; k < K; k++) {
      const c0 = Math.floor(k / Kg) * Cg;
      for (let c = 0; c < Cg; c++)
        for (let r = 0; r < R; r++)
          for (let s = 0; s < S_; s++) {
            const wi = ((k * Cg + c) * R + r) * S_ + s;
            for (let oh = 0; oh < OH; oh++) {
              const h = oh * a.stride[0] - a.pad[0] + r * a.dilation[0];
              if (h < 0 || h >= H) continue;
              for (let ow = 0; ow < OW; ow++) {
                const v = ow * a.stride[1] - a.pad[1] + s * a.dilation[1];
                if (v < 0 || v >= W) continue;
                f(((b * C + c0 + c) * H + h) * W + v, wi, ((b * K + k) * OH + oh) * OW + ow);
              }
            }
          }
    }
}

/** The float64 reference of a conv op: the taps summed into the output's role. */
export function convEval([p, q]: Float64Array[], n: Node): Float64Array {
  const out = new Float64Array(size(n.shape));
  if (n.op === "conv2d") forEachTap(n, (xi, wi, yi) => (out[yi] += p![xi]! * q![wi]!));
  else if (n.op === "conv2dBackInput") forEachTap(n, (xi, wi, yi) => (out[xi] += p![yi]! * q![wi]!));
  else forEachTap(n, (xi, wi, yi) => (out[wi] += p![xi]! * q![yi]!));
  return out;
}

/** Unrolled: each output element is the sum of its taps' products (0 where every tap is padding). */
export function convLower([p, q]: SExpr[][], n: Node): SExpr[] {
  const terms: SExpr[][] = Array.from({ length: size(n.shape) }, () => []);
  if (n.op === "conv2d") forEachTap(n, (xi, wi, yi) => terms[yi]!.push(S.mul(p![xi]!, q![wi]!)));
  else if (n.op === "conv2dBackInput") forEachTap(n, (xi, wi, yi) => terms[xi]!.push(S.mul(p![yi]!, q![wi]!)));
  else forEachTap(n, (xi, wi, yi) => terms[wi]!.push(S.mul(p![xi]!, q![yi]!)));
  return terms.map((t) => (t.length ? S.chain("+", t) : S.num(0)));
}

// ---------------------------------------------------------------------------
// Pooling

const poolCtx = (H: number, W: number, a: PoolAttrs) =>
  `input ${H}×${W}, window ${a.size.join("×")}, stride ${a.stride[0] === a.stride[1] ? a.stride[0] : a.stride.join("×")}, padding ${fmtPad(a.pad)}`;

/** The pooled shape of x [N, C, H, W]. */
export function poolShape(x: Shape, attrs: Attrs): Shape {
  const a = poolAttrs(attrs);
  rank4(x, "the input", "[N, C, H, W]");
  const [N, C, H, W] = x as Quad;
  const ctx = poolCtx(H, W, a);
  return [N, C, outDim("rows", H, a.size[0], a.pad, a.stride[0], ctx), outDim("cols", W, a.size[1], a.pad, a.stride[1], ctx)];
}

/** The input shape a pooled g [N, C, OH, OW] came from (exact: output sizes are whole). */
export function unpoolShape(g: Shape, attrs: Attrs): Shape {
  const a = poolAttrs(attrs);
  rank4(g, "the output gradient", "[N, C, OH, OW]");
  const [N, C, OH, OW] = g as Quad;
  const H = (OH - 1) * a.stride[0] + a.size[0] - a.pad[0] - a.pad[2];
  const W = (OW - 1) * a.stride[1] + a.size[1] - a.pad[1] - a.pad[3];
  if (H < 1 || W < 1) throw new ShapeError(`output ${OH}×${OW} comes from no input`, "the padding is larger than the input it pads");
  return [N, C, H, W];
}

/** Shape rule of an op reading x and a value of x's pooled shape (maxPool2dBack: the result is x-shaped). */
export function poolPairShape(x: Shape, y: Shape, attrs: Attrs, what: string): void {
  const want = poolShape(x, attrs);
  if (want.length !== y.length || want.some((d, i) => d !== y[i]))
    throw new ShapeError(`${what} is ${fmtShape(y)}; pooling ${fmtShape(x)} gives ${fmtShape(want)}`, "pass the pooled op's input and its output gradient");
}

/**
 * Every window of a pooling op over x [N, C, H, W]: f(yi, cells) with the flat index of
 * the output element and the flat x indices of the window's real (non-padding) cells.
 */
export function forEachWindow(x: Shape, attrs: Attrs, f: (yi: number, cells: number[]) => void): void {
  const a = poolAttrs(attrs);
  const [N, C, H, W] = x as Quad;
  const [, , OH, OW] = poolShape(x, attrs) as Quad;
  for (let p = 0; p < N * C; p++)
    for (let oh = 0; oh < OH; oh++)
      for (let ow = 0; ow < OW; ow++) {
        const cells: number[] = [];
        for (let r = 0; r < a.size[0]; r++) {
          const h = oh * a.stride[0] - a.pad[0] + r;
          if (h < 0 || h >= H) continue;
          for (let s = 0; s < a.size[1]; s++) {
            const v = ow * a.stride[1] - a.pad[1] + s;
            if (v >= 0 && v < W) cells.push((p * H + h) * W + v);
          }
        }
        f((p * OH + oh) * OW + ow, cells);
      }
}

/** The input shape of a pool op (its x, or the input g's unpooled shape for avgPool2dBack). */
export const poolInput = (n: Node): Shape => (n.op === "avgPool2dBack" ? n.shape : n.inputs[0]!.shape);

/** Window cells visited by a pool op: its work. */
export const poolWork = (n: Node): number => {
  const a = poolAttrs(n.attrs);
  return size(poolShape(poolInput(n), n.attrs)) * a.size[0] * a.size[1];
};

/** max over a window and how many of its cells reach it (0 when a NaN makes the max NaN). */
export function windowMax(x: ArrayLike<number>, cells: readonly number[]): { m: number; ties: number } {
  let m = -Infinity;
  for (const c of cells) m = Math.max(m, x[c]!);
  let ties = 0;
  for (const c of cells) if (x[c] === m) ties++;
  return { m, ties };
}

/**
 * The scalar template of a max window: its max m, and for each cell the share of the
 * window's gradient it takes — 1/t where x = m (t tied maxima share it equally), else 0.
 */
export function windowMaxExpr(x: readonly SExpr[], cells: readonly number[], temp: (e: SExpr) => SExpr) {
  const m = temp(S.M("max", ...cells.map((c) => x[c]!)));
  const hit = cells.map((c) => S.bin("===", x[c]!, m));
  const t = temp(S.chain("+", hit.map((h) => S.cond(h, S.num(1), S.num(0)))));
  return { m, hit, t };
}
