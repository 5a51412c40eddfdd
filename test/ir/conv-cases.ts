/**
 * Op-table cases for the conv and pool ops (test/ir/ops.test.ts runs them through the same
 * machinery as every other op: float64 central differences of the interpreter, and the
 * generated code against the interpreter in both precisions, unrolled and in loops).
 *
 * Every geometry the ops support is in the mix: stride 2, asymmetric padding, padding wider
 * than the kernel (outputs that read only padding), dilation, groups (depthwise too), and
 * the backward ops on their own, whose rules are the second-order ones (hvp through convs).
 * Max-pool inputs are distinct values 0.1 apart (no near-ties a central difference would
 * straddle), except in the cases built to have exact two-way ties, where the central
 * difference is 1/2 for each tied cell: the rule's equal share.
 */
import type { Attrs, B, Node } from "../../compiler/ir/graph.ts";
import { type Shape, size } from "../../compiler/ir/shape.ts";
import type { Leaves } from "../helpers.ts";

export interface ConvCase {
  readonly op: string;
  readonly label: string;
  build(b: B, L: Leaves): Node;
}

const fmt = (s: Shape) => `[${s.join(",")}]`;
const show = (a: Attrs) =>
  Object.entries(a)
    .filter(([k, v]) => !(k === "groups" && v === 1) && !(k === "dilation" && String(v) === "1,1") && !(k === "pad" && String(v) === "0,0,0,0"))
    .map(([k, v]) => `${k} ${String(v)}`)
    .join(" ");

export const convAttrs = (o: { stride?: number[]; pad?: number[]; dilation?: number[]; groups?: number } = {}): Attrs => ({
  stride: o.stride ?? [1, 1],
  pad: o.pad ?? [0, 0, 0, 0],
  dilation: o.dilation ?? [1, 1],
  groups: o.groups ?? 1,
});
export const poolAttrs = (size: number[], o: { stride?: number[]; pad?: number[] } = {}): Attrs => ({
  size,
  stride: o.stride ?? size,
  pad: o.pad ?? [0, 0, 0, 0],
});

/** `n` distinct values 0.1 apart in a random order (float32-exact), around 0. */
export function distinct(next: () => number, n: number): Float64Array {
  const v = Float64Array.from({ length: n }, (_, i) => Math.fround((i - n / 2) * 0.1));
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [v[i], v[j]] = [v[j]!, v[i]!];
  }
  return v;
}

/** x [N, C, H, W] with non-overlapping 2×2 windows whose maximum is tied exactly between two cells (0.05 above the rest). */
function tied(next: () => number, shape: Shape): Float64Array {
  const v = distinct(next, size(shape));
  const [, , H, W] = shape as [number, number, number, number];
  for (let p = 0; p < v.length / (H * W); p++)
    for (let oh = 0; oh < H / 2; oh++)
      for (let ow = 0; ow < W / 2; ow++) {
        const cells = [0, 1, W, W + 1].map((d) => p * H * W + 2 * oh * W + 2 * ow + d);
        const m = Math.fround(Math.max(...cells.map((c) => v[c]!)) + 0.05);
        const a = Math.floor(next() * 4);
        const b = (a + 1 + Math.floor(next() * 3)) % 4;
        v[cells[a]!] = m;
        v[cells[b]!] = m;
      }
  return v;
}

const conv = (op: string, shapes: [Shape, Shape], a: Attrs): ConvCase => ({
  op,
  label: `${op} ${fmt(shapes[0])} ${fmt(shapes[1])} ${show(a)}`.trim(),
  build: (b, L) => b.g.mk(op, [L.param(shapes[0]), L.param(shapes[1])], a),
});

const maxPool = (x: Shape, a: Attrs, ties = false): ConvCase => ({
  op: "maxPool2d",
  label: `maxPool2d ${fmt(x)} ${show(a)}${ties ? " with two-way ties" : ""}`,
  build: (b, L) => b.g.mk("maxPool2d", [L.param(x, ties ? tied(L.next, x) : distinct(L.next, size(x)))], a),
});

/** maxPool2dBack(x, g) and maxPool2dPick(x, G): x an input (a tie is a jump in x), or a param (distinct values: the rule's 0). */
const maxPair = (op: "maxPool2dBack" | "maxPool2dPick", x: Shape, other: Shape, a: Attrs, ties = false): ConvCase => ({
  op,
  label: `${op} ${fmt(x)} ${fmt(other)} ${show(a)}${ties ? " with two-way ties" : ""}`,
  build: (b, L) => {
    const xn = ties ? L.input(x, tied(L.next, x)) : L.param(x, distinct(L.next, size(x)));
    return b.g.mk(op, [xn, L.param(other)], a);
  },
});

const one = (op: string, x: Shape, a: Attrs): ConvCase => ({
  op,
  label: `${op} ${fmt(x)} ${show(a)}`,
  build: (b, L) => b.g.mk(op, [L.param(x)], a),
});

export const CONV_CASES: ConvCase[] = [
  // conv2d: small enough to unroll (work <= 16) and loop-sized ones
  conv("conv2d", [[1, 1, 2, 2], [1, 1, 2, 2]], convAttrs()),
  conv("conv2d", [[1, 1, 3, 3], [1, 1, 2, 2]], convAttrs()),
  conv("conv2d", [[2, 2, 5, 5], [3, 2, 3, 3]], convAttrs({ stride: [2, 2], pad: [1, 1, 1, 1] })),
  conv("conv2d", [[1, 2, 6, 5], [2, 2, 2, 3]], convAttrs({ pad: [1, 0, 0, 2], dilation: [2, 1] })),
  conv("conv2d", [[1, 4, 4, 4], [6, 2, 3, 3]], convAttrs({ pad: [1, 1, 1, 1], groups: 2 })),
  conv("conv2d", [[2, 3, 3, 4], [3, 1, 2, 2]], convAttrs({ stride: [1, 2], groups: 3 })),
  conv("conv2d", [[1, 1, 2, 2], [2, 1, 1, 1]], convAttrs({ pad: [1, 1, 1, 1] })), // a border of outputs that read only padding
  conv("conv2d", [[1, 2, 7, 7], [2, 2, 3, 3]], convAttrs({ stride: [2, 2], dilation: [2, 2], pad: [1, 2, 1, 2] })),
  // rows wide enough for the kernels' blocks of 4 interior columns (and their border columns)
  conv("conv2d", [[1, 2, 3, 12], [2, 2, 2, 3]], convAttrs({ pad: [0, 1, 1, 1] })),
  conv("conv2d", [[1, 1, 4, 13], [1, 1, 2, 3]], convAttrs({ stride: [1, 2], pad: [0, 1, 1, 1] })),
  conv("conv2d", [[1, 1, 3, 14], [2, 1, 2, 3]], convAttrs({ dilation: [1, 2], pad: [0, 2, 0, 2] })),
  conv("conv2dBackInput", [[1, 2, 3, 12], [2, 2, 2, 3]], convAttrs({ pad: [0, 1, 1, 1] })),
  conv("conv2dBackFilter", [[1, 2, 3, 12], [1, 6, 3, 12]], convAttrs({ pad: [0, 1, 1, 1] })),
  conv("conv2dBackFilter", [[2, 2, 3, 5], [2, 8, 3, 5]], convAttrs({ pad: [0, 1, 0, 1], groups: 2 })),
  // the backward ops on their own: their rules are conv2d's second-order rules
  conv("conv2dBackInput", [[2, 3, 3, 3], [3, 2, 3, 3]], convAttrs({ stride: [2, 2], pad: [1, 1, 1, 1] })),
  conv("conv2dBackInput", [[1, 2, 5, 5], [2, 2, 2, 3]], convAttrs({ pad: [1, 0, 0, 2], dilation: [2, 1] })),
  conv("conv2dBackInput", [[1, 6, 4, 4], [6, 2, 3, 3]], convAttrs({ pad: [1, 1, 1, 1], groups: 2 })),
  conv("conv2dBackInput", [[1, 1, 1, 1], [1, 1, 2, 2]], convAttrs()),
  conv("conv2dBackFilter", [[2, 2, 5, 5], [2, 3, 3, 3]], convAttrs({ stride: [2, 2], pad: [1, 1, 1, 1] })),
  conv("conv2dBackFilter", [[1, 2, 6, 5], [1, 2, 5, 5]], convAttrs({ pad: [1, 0, 0, 2], dilation: [2, 1] })),
  conv("conv2dBackFilter", [[2, 3, 3, 4], [2, 3, 2, 2]], convAttrs({ stride: [1, 2], groups: 3 })),
  conv("conv2dBackFilter", [[1, 1, 2, 2], [1, 1, 1, 1]], convAttrs()),
  // max pooling
  maxPool([1, 1, 4, 4], poolAttrs([2, 2])),
  maxPool([2, 2, 5, 5], poolAttrs([3, 3], { stride: [2, 2], pad: [1, 1, 1, 1] })),
  maxPool([1, 2, 4, 5], poolAttrs([2, 3], { stride: [1, 1] })),
  maxPool([1, 1, 2, 2], poolAttrs([2, 2])),
  maxPool([2, 1, 4, 4], poolAttrs([2, 2]), true),
  maxPair("maxPool2dBack", [2, 2, 5, 5], [2, 2, 3, 3], poolAttrs([3, 3], { stride: [2, 2], pad: [1, 1, 1, 1] })),
  maxPair("maxPool2dBack", [1, 2, 4, 5], [1, 2, 3, 3], poolAttrs([2, 3], { stride: [1, 1] })),
  maxPair("maxPool2dBack", [2, 1, 4, 4], [2, 1, 2, 2], poolAttrs([2, 2]), true),
  maxPair("maxPool2dPick", [2, 2, 5, 5], [2, 2, 5, 5], poolAttrs([3, 3], { stride: [2, 2], pad: [1, 1, 1, 1] })),
  maxPair("maxPool2dPick", [2, 1, 4, 4], [2, 1, 4, 4], poolAttrs([2, 2]), true),
  // average pooling: padding cells are not counted
  one("avgPool2d", [2, 1, 5, 5], poolAttrs([3, 3], { stride: [2, 2], pad: [1, 1, 1, 1] })),
  one("avgPool2d", [1, 2, 4, 4], poolAttrs([2, 2])),
  one("avgPool2d", [1, 2, 4, 5], poolAttrs([2, 3], { stride: [1, 2], pad: [0, 1, 0, 1] })),
  one("avgPool2dBack", [2, 1, 3, 3], poolAttrs([3, 3], { stride: [2, 2], pad: [1, 1, 1, 1] })),
  one("avgPool2dBack", [1, 2, 3, 3], poolAttrs([2, 3], { stride: [1, 2], pad: [0, 1, 0, 1] })),
];
