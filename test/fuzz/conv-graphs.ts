/**
 * The fuzzer's conv and pool instructions (test/fuzz/graphs.ts calls `convStep`):
 * an operand of the pool reshaped to an image [N, C, H, W] (or a new one), and
 * random geometry — kernel 1-3, stride 1-2, padding 0-1 on each side, dilation
 * 1-2, groups among the divisors of the channels — simplified step by step
 * until the shape rule accepts it (a 1×1 kernel at stride 1 always fits).
 *
 * Max-pool inputs keep every window's two largest values at least MARGIN
 * apart (a central difference must not straddle a change of argmax): an
 * input with near-ties gets a spaced input added (ReLU zeros become distinct),
 * or is replaced by a new leaf of distinct values. `poolTies` re-checks this.
 */
import { conv2dBackInputShape, conv2dShape, forEachWindow, poolShape, unpoolShape } from "../../compiler/ir/conv.ts";
import type { Attrs, B, Node } from "../../compiler/ir/graph.ts";
import { type Shape, size } from "../../compiler/ir/shape.ts";

/** What convStep needs of the graph being built (graphs.ts's closures). */
export interface ConvCtx {
  readonly b: B;
  readonly next: () => number;
  readonly maxSize: number;
  readonly margin: number;
  pick(a: number): Node;
  val(x: Node): Float64Array;
  bound(x: Node): Node;
  leaf(kind: "param" | "input", shape: Shape, v?: Float64Array): Node;
  /** A batch of images (4-8) for new and reshaped images (Recipe.images); else N is 1-2. */
  readonly images?: number;
}

export const CONV_CHOICES = [
  "conv2d", "conv2d", "conv2d", "conv2dBackInput", "conv2dBackFilter",
  "maxPool2d", "maxPool2d", "maxPool2dBack", "maxPool2dPick", "avgPool2d", "avgPool2dBack",
] as const;

const digitsOf = (k: number) => {
  let x = k;
  return (n: number) => {
    const d = x % n;
    x = Math.floor(x / n);
    return d;
  };
};

const divisors = (n: number) => Array.from({ length: n }, (_, i) => i + 1).filter((i) => n % i === 0);

/** `n` as [N, C, H, W], the factors chosen by `d` (spatial axes of 2+ where possible). */
function imageShape(n: number, d: (m: number) => number, images?: number): [number, number, number, number] {
  const pickDiv = (m: number, prefer: (q: number) => boolean) => {
    const ds = divisors(m);
    const good = ds.filter(prefer);
    const from = good.length ? good : ds;
    return from[d(from.length)]!;
  };
  const N = images ? pickDiv(n, (q) => q >= 3 && q <= images) : pickDiv(n, (q) => q <= 2 && n / q >= 4);
  const C = pickDiv(n / N, (q) => q <= 3 && n / N / q >= 4);
  const H = pickDiv(n / N / C, (q) => q >= 2 && n / N / C / q >= 2);
  return [N, C, H, n / N / C / H];
}

/** Tries geometries from the random one towards the plainest; the first the shape rule accepts. */
function firstFit<A>(cands: A[], ok: (a: A) => boolean): A | undefined {
  for (const a of cands)
    try {
      if (ok(a)) return a;
    } catch {
      // the shape rule refused it: simplify
    }
  return undefined;
}

interface ConvGeom {
  readonly attrs: Attrs;
  readonly R: number;
  readonly S: number;
}
function convCands(d: (m: number) => number, C: number, H: number, W: number, batch = false): ConvGeom[] {
  // with a batch of images, kernels of 2-3 (the image-vector paths want K·R·S ≥ 16)
  const R = Math.min(batch ? 2 + d(2) : 1 + d(3), H + 1);
  const S = Math.min(batch ? 2 + d(2) : 1 + d(3), W + 1);
  const stride = [1 + d(2), 1 + d(2)];
  const pad = [0, 0, 0, 0].map(() => (d(3) === 0 ? 1 : 0));
  const dilation = d(4) === 0 ? [2, 1 + d(2)] : [1, 1];
  const gs = divisors(C);
  const groups = d(3) === 0 ? gs[d(gs.length)]! : 1;
  const mk = (o: { stride?: number[]; pad?: number[]; dilation?: number[]; R?: number; S?: number }): ConvGeom => ({
    attrs: { stride: o.stride ?? stride, pad: o.pad ?? pad, dilation: o.dilation ?? dilation, groups },
    R: o.R ?? R,
    S: o.S ?? S,
  });
  return [
    mk({}),
    mk({ stride: [1, 1] }),
    mk({ stride: [1, 1], dilation: [1, 1] }),
    mk({ stride: [1, 1], dilation: [1, 1], pad: [0, 0, 0, 0] }),
    mk({ stride: [1, 1], dilation: [1, 1], pad: [0, 0, 0, 0], R: 1, S: 1 }),
  ];
}

function poolCands(d: (m: number) => number, H: number, W: number): Attrs[] {
  const r = Math.min(1 + d(3), H);
  const s = Math.min(1 + d(3), W);
  const stride = d(2) ? [r, s] : [1 + d(2), 1 + d(2)];
  const pad = [r, s, r, s].map((w) => (w > 1 && d(3) === 0 ? 1 : 0));
  return [
    { size: [r, s], stride, pad },
    { size: [r, s], stride: [1, 1], pad },
    { size: [r, s], stride: [1, 1], pad: [0, 0, 0, 0] },
    { size: [1, 1], stride: [1, 1], pad: [0, 0, 0, 0] },
  ];
}

/** The smallest gap between a window's two largest values (Infinity for one-cell windows), over every window. */
export function poolTies(x: Shape, attrs: Attrs, v: ArrayLike<number>): number {
  let gap = Infinity;
  forEachWindow(x, attrs, (_, cells) => {
    const vs = cells.map((c) => v[c]!).sort((p, q) => q - p);
    if (vs.length > 1) gap = Math.min(gap, vs[0]! - vs[1]!);
  });
  return gap;
}

/** `n` distinct values `step` apart, in a random order. */
function spaced(next: () => number, n: number, step: number): Float64Array {
  const v = Float64Array.from({ length: n }, (_, i) => Math.fround((i - (n - 1) / 2) * step));
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [v[i], v[j]] = [v[j]!, v[i]!];
  }
  return v;
}

/** One conv/pool instruction; undefined when nothing fits (then the instruction adds nothing). */
export function convStep(cx: ConvCtx, op: string, a: number, k: number): Node | undefined {
  const { b } = cx;
  const d = digitsOf(k);
  /** An operand as an image: a pool node reshaped (fitted to [-4, 4]), or a new param. */
  const image = (): Node => {
    const x = cx.pick(a);
    if (cx.images) {
      // a batch: a pool node whose size has a divisor 3..images, reshaped, or a new [images, C, H, W]
      if (divisors(size(x.shape)).some((q) => q >= 3 && q <= cx.images!) && d(3) !== 0) return cx.bound(b.reshape(x, imageShape(size(x.shape), d, cx.images)));
      const chw = [9, 12, 16][d(3)]!;
      return cx.leaf("param", imageShape(cx.images * chw, d, cx.images));
    }
    if (size(x.shape) >= 2 && d(3) !== 0) return cx.bound(b.reshape(x, imageShape(size(x.shape), d)));
    const n = [4, 6, 8, 9, 12, 16, 18, 24][d(8)]!;
    return cx.leaf("param", imageShape(n, d));
  };
  /** x with no near-tie in any window: x + a spaced input, or a new leaf of distinct values. */
  const untied = (x: Node, attrs: Attrs): Node => {
    const ok = (y: Node) => poolTies(y.shape, attrs, cx.val(y)) >= cx.margin;
    if (ok(x)) return x;
    const y = b.add(x, cx.leaf("input", x.shape, spaced(cx.next, size(x.shape), 4 * cx.margin)));
    if (ok(y)) return y;
    return cx.leaf(d(2) ? "param" : "input", x.shape, spaced(cx.next, size(x.shape), 2 * cx.margin));
  };
  const small = (s: Shape) => size(s) <= cx.maxSize;
  const x = image();
  const [, C, H, W] = x.shape as [number, number, number, number];
  switch (op) {
    case "conv2d": {
      // with a batch of images, 2-4 output channels: the input gradient's image-vector path needs K·R·S ≥ 16
      const K = cx.images ? 2 + d(3) : 1 + d(3);
      const gm = firstFit(convCands(d, C, H, W, !!cx.images), (g) => small(conv2dShape([x.shape, [K * (g.attrs.groups as number), C / (g.attrs.groups as number), g.R, g.S]], g.attrs)));
      if (!gm) return undefined;
      const G = gm.attrs.groups as number;
      const w = [K * G, C / G, gm.R, gm.S];
      return small(w) ? b.g.mk("conv2d", [x, cx.leaf("param", w)], gm.attrs) : undefined;
    }
    case "conv2dBackInput": {
      // x plays g [N, K, OH, OW]; the filter w [K, Cg, R, S]
      const Cg = cx.images ? 1 + d(3) : 1 + d(2);
      const gm = firstFit(convCands(d, C, 99, 99, !!cx.images), (g) => small([C, Cg, g.R, g.S]) && small(conv2dBackInputShape([x.shape, [C, Cg, g.R, g.S]], g.attrs)));
      if (!gm) return undefined;
      return b.g.mk("conv2dBackInput", [x, cx.leaf("param", [C, Cg, gm.R, gm.S])], gm.attrs);
    }
    case "conv2dBackFilter": {
      // x [N, C, H, W] and a g of conv2d's output shape
      const K = 1 + d(2);
      const gm = firstFit(convCands(d, C, H, W), (g) => {
        const G = g.attrs.groups as number;
        return small([K * G, C / G, g.R, g.S]) && small(conv2dShape([x.shape, [K * G, C / G, g.R, g.S]], g.attrs));
      });
      if (!gm) return undefined;
      const G = gm.attrs.groups as number;
      const y = conv2dShape([x.shape, [K * G, C / G, gm.R, gm.S]], gm.attrs);
      return b.g.mk("conv2dBackFilter", [x, cx.bound(cx.leaf("param", y))], gm.attrs);
    }
    case "maxPool2d":
    case "avgPool2d":
    case "maxPool2dPick":
    case "maxPool2dBack": {
      const at = firstFit(poolCands(d, H, W), (p) => small(poolShape(x.shape, p)));
      if (!at) return undefined;
      if (op === "avgPool2d") return b.g.mk(op, [x], at);
      const xu = untied(x, at);
      if (op === "maxPool2d") return b.g.mk(op, [xu], at);
      const other = op === "maxPool2dPick" ? x.shape : poolShape(x.shape, at);
      return b.g.mk(op, [xu, cx.leaf("param", other)], at);
    }
    case "avgPool2dBack": {
      const at = firstFit(poolCands(d, 99, 99), (p) => small(unpoolShape(x.shape, p)));
      return at ? b.g.mk(op, [x], at) : undefined;
    }
    default:
      return undefined;
  }
}
