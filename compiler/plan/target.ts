import type { Node } from "../ir/graph.ts";
import { convAttrs, convRoles, poolAttrs, poolInput } from "../ir/conv.ts";

/**
 * The code target, decided once (compiler/index.ts) and handed down: the memory
 * plan reserves kernel scratch by it, lowering writes wasm kernel calls or JS
 * loops by it, and the emitter builds what the lowered module asks for.
 */

export interface Target {
  /** Float32 buffers (float64 for the gradient checker's shadow build). */
  readonly f32: boolean;
  /** Large float32 matmuls as WebAssembly SIMD kernels (the JS loops otherwise). */
  readonly wasm: boolean;
  /** Multiply-adds from which a matmul goes to wasm. */
  readonly wasmMinWork: number;
}

/** Matmuls with at least this many multiply-adds (and 4+ rows) go to wasm when it is on. */
export const WASM_MIN_WORK = 1 << 14;

export interface TargetOptions {
  readonly precision?: "f32" | "f64";
  /** "wasm": every eligible matmul in wasm; "js": none; "auto": float32 matmuls big enough to pay. */
  readonly backend?: "js" | "wasm" | "auto";
}

export function chooseTarget(opts: TargetOptions = {}): Target {
  const f32 = opts.precision !== "f64";
  return { f32, wasm: f32 && (opts.backend ?? "auto") !== "js", wasmMinWork: opts.backend === "wasm" ? 0 : WASM_MIN_WORK };
}

/** The one JS-or-wasm rule for a matmul C[M×N] = A[M×K]·B[K×N]: the kernel does rows in blocks of 4. */
export function matmulOnWasm(t: Target, M: number, N: number, K: number, readsMask: boolean): boolean {
  return t.wasm && M >= 4 && M * N * K >= t.wasmMinWork && !readsMask;
}

/** A conv or pool node's geometry in the kernels' terms (compiler/lower/kernel.ts `ConvKernel`, `PoolKernel`). */
export interface ConvGeometry {
  readonly op: string;
  readonly N: number;
  readonly C: number;
  readonly H: number;
  readonly W: number;
  /** Out channels (conv ops; pools: C). */
  readonly K: number;
  /** Filter or window size. */
  readonly R: number;
  readonly S: number;
  readonly OH: number;
  readonly OW: number;
  readonly stride: readonly [number, number];
  readonly pad: readonly [number, number, number, number];
  readonly dilation: readonly [number, number];
  readonly groups: number;
}

const CONV_OPS = new Set(["conv2d", "conv2dBackInput", "conv2dBackFilter"]);
/** The pools with wasm kernels (maxPool2dPick, the max pool's second-order tangent map, stays in JS). */
const POOL_OPS = new Set(["maxPool2d", "maxPool2dBack", "avgPool2d", "avgPool2dBack"]);

export function convGeometry(n: Node): ConvGeometry {
  if (CONV_OPS.has(n.op)) {
    const { x, w, y } = convRoles(n);
    const a = convAttrs(n.attrs);
    return { op: n.op, N: x[0]!, C: x[1]!, H: x[2]!, W: x[3]!, K: w[0]!, R: w[2]!, S: w[3]!, OH: y[2]!, OW: y[3]!, stride: a.stride, pad: a.pad, dilation: a.dilation, groups: a.groups };
  }
  const x = poolInput(n);
  const a = poolAttrs(n.attrs);
  const y = n.op === "maxPool2dBack" ? n.inputs[1]!.shape : n.op === "avgPool2dBack" ? n.inputs[0]!.shape : n.shape;
  return { op: n.op, N: x[0]!, C: x[1]!, H: x[2]!, W: x[3]!, K: x[1]!, R: a.size[0], S: a.size[1], OH: y[2]!, OW: y[3]!, stride: a.stride, pad: a.pad, dilation: [1, 1], groups: 1 };
}

/** Multiply-adds (convs) or window cells (pools) from which a conv or pool node goes to wasm when the backend is "auto". */
export const WASM_CONV_MIN_WORK = 1 << 12;

/**
 * The one JS-or-wasm rule for a loop conv or pool node: compiler/lower/conv.ts asks it and calls the wasm
 * kernel (compiler/lower/wasm-conv.ts) when it says yes. Needs float32 wasm, groups 1, inputs stored
 * contiguously in NCHW/OIHW order (`contiguous`: the plan knows their storage) and none of them the batch mask.
 */
export function convOnWasm(t: Target, n: Node, contiguous: boolean): boolean {
  if (!t.wasm || !contiguous || !(CONV_OPS.has(n.op) || POOL_OPS.has(n.op))) return false;
  const g = convGeometry(n);
  if (g.groups !== 1) return false; // grouped convs run as JS loops
  const work = CONV_OPS.has(n.op) ? g.N * g.K * g.OH * g.OW * g.C * g.R * g.S : g.N * g.C * g.OH * g.OW * g.R * g.S;
  return work >= Math.min(t.wasmMinWork, WASM_CONV_MIN_WORK);
}

/**
 * How conv2dBackInput's kernel runs (compiler/emit/wasm-conv.ts):
 * - "lanes": the images in the vector lanes. g is first transposed to [K, OH, OW, N'] (N' = N rounded up to a
 *   multiple of 4, the extra lanes zero) and each output pixel sums exactly its valid taps, rows clipped at run
 *   time and columns per border column at compile time, so no multiply-add lands on padding. Needs row and
 *   column stride 1 and row dilation 1.
 * - "rows": output columns in the lanes, g dilated by the column stride and padded in columns (those
 *   multiply-adds partly land on zeros), the rows clipped to the taps that land on g. Needs row stride and
 *   dilation 1.
 * - "padded": g dilated by the stride and zero-padded in both axes, then a plain correlation.
 * "lanes" is chosen by a cost model of the two's wasted lanes and measured speeds (LeNet's conv2: 12 output columns
 * from 8 of g with 5 taps: 40 of "rows"' 60 column taps land on g; all 32 images fill lanes).
 */
export type BackInputPath = "lanes" | "rows" | "padded";

type BackInputGeometry = Pick<ConvGeometry, "N" | "K" | "W" | "S" | "OW" | "R" | "stride" | "pad" | "dilation">;

export function backInputPath(g: BackInputGeometry): BackInputPath {
  if (!backInputRowClip(g)) return "padded";
  if (g.stride[1] !== 1) return "rows";
  // "rows": the share of its column taps (W output columns × S taps) that land on g, and its columns past the last
  // multiple of four, each a scalar tile as slow as a vector of four
  let hits = 0;
  for (let w = 0; w < g.W; w++) hits += backInputTaps(g, w).length;
  const cols = hits / (g.W * g.S);
  const colVec = g.W >= 4 ? (Math.floor(g.W / 4) + (g.W % 4)) / (g.W / 4) : 4;
  // "lanes": four images a vector; a tile of one vector (a batch of 4 or less, or the last N % 4 images) runs its
  // multiply-adds 1.35× slower than tiles of two or more vectors, and empty lanes cost like full ones
  const NF = Math.floor(g.N / 4);
  const vectorCost = (NF >= 2 ? NF : 1.35 * NF) + (g.N % 4 ? 1.35 : 0);
  // Per multiply-add that lands on g, measured on 6 shapes at batch 1, 2, 4, 6, 8 and 32 (after "rows" got its tap
  // loop; load 1.5-3): "rows" runs 0.95× the time of "lanes"' full tiles (LeNet's conv2, batch 32: 257 vs 170 µs
  // with 40 of 60 column taps on g; 3×3 'same' 16×16: 634 vs 645; 5×5 'same' 28×28, C 1: 199 vs 186); W = 10 with
  // two scalar columns: 44 vs 23; batch 6 (two one-vector tiles): LeNet's 48 vs 65. Per element of dx the lanes path
  // adds a scalar store and its share of g's transpose: it needs work per element.
  const lanesCost = vectorCost / (g.N / 4), rowsCost = (0.95 * colVec) / cols;
  return g.K * g.R * g.S >= 16 && lanesCost < rowsCost ? "lanes" : "rows";
}

/** The filter columns s whose tap lands on g for input column w (column stride 1): 0 ≤ w + pl − s·dw < OW. */
export function backInputTaps(g: Pick<ConvGeometry, "S" | "OW" | "pad" | "dilation">, w: number): number[] {
  const out: number[] = [];
  for (let s = 0; s < g.S; s++) {
    const ow = w + g.pad[1] - s * g.dilation[1];
    if (ow >= 0 && ow < g.OW) out.push(s);
  }
  return out;
}

/**
 * Arena scratch (floats) a wasm conv kernel needs: a zero-padded copy of its input when the conv pads
 * (conv2d, conv2dBackFilter); for conv2dBackInput (by its path, `backInputPath`) g transposed with the images
 * last ("lanes"), or g dilated by the stride and padded (in columns: "rows"; in both axes: "padded") unless
 * that is g itself.
 */
export function convScratchFloats(
  g: Pick<ConvGeometry, "op" | "N" | "C" | "H" | "W" | "K" | "R" | "S" | "OH" | "OW" | "stride" | "pad" | "dilation">,
  path: BackInputPath = backInputPath(g),
): number {
  if (!CONV_OPS.has(g.op)) return 0;
  const [pt, pl, pb, pr] = g.pad;
  if (g.op !== "conv2dBackInput") return pt || pl || pb || pr ? g.N * g.C * (g.H + pt + pb) * (g.W + pl + pr) : 0;
  if (path === "lanes") return 4 * Math.ceil(g.N / 4) * g.K * g.OH * g.OW;
  if (path === "rows") {
    // only columns padded (and dilated by the stride): rows are clipped to the taps that land on g
    const Wp = g.W + (g.S - 1) * g.dilation[1];
    return g.stride[1] === 1 && (g.S - 1) * g.dilation[1] === pl && Wp === g.OW ? 0 : g.N * g.K * g.OH * Wp;
  }
  const Hp = g.H + (g.R - 1) * g.dilation[0], Wp = g.W + (g.S - 1) * g.dilation[1];
  const same = g.stride[0] === 1 && g.stride[1] === 1 && (g.R - 1) * g.dilation[0] === pt && (g.S - 1) * g.dilation[1] === pl && Hp === g.OH && Wp === g.OW;
  return same ? 0 : g.N * g.K * Hp * Wp;
}

/** conv2dBackInput's kernel skips the zero rows of the transposed convolution when rows have stride and dilation 1. */
export const backInputRowClip = (g: Pick<ConvGeometry, "stride" | "dilation">): boolean => g.stride[0] === 1 && g.dilation[0] === 1;

/**
 * A sum's input as [A, B, Cc] (compiler/lower/kernel.ts `SumKernel`): the summed axes before the kept ones,
 * the kept ones, the summed ones after — or undefined when the kept axes are not one run of adjacent axes
 * (or nothing is kept: a sum to a scalar stays in JS, where later code reads its local).
 */
export function sumRuns(shape: readonly number[], axes: readonly number[]): { A: number; B: number; Cc: number } | undefined {
  const kept = shape.map((_, d) => !axes.includes(d));
  const lo = kept.indexOf(true), hi = kept.lastIndexOf(true);
  if (lo < 0 || kept.slice(lo, hi + 1).some((k) => !k)) return undefined;
  const prod = (from: number, to: number) => shape.slice(from, to).reduce((a, b) => a * b, 1);
  return { A: prod(0, lo), B: prod(lo, hi + 1), Cc: prod(hi + 1, shape.length) };
}

/** Input elements from which a sum goes to wasm when the backend is "auto". */
export const WASM_SUM_MIN = 1 << 12;

/**
 * The one JS-or-wasm rule for a loop sum: float32 wasm, the module's other kernels on wasm already (a sum
 * alone does not move a module's buffers into a WebAssembly.Memory), the input stored contiguously
 * (`contiguous`) and the kept axes one run (`sumRuns`).
 */
export function sumOnWasm(t: Target, input: readonly number[], axes: readonly number[], contiguous: boolean, moduleOnWasm: boolean): boolean {
  if (!t.wasm || !moduleOnWasm || !contiguous || !sumRuns(input, axes)) return false;
  return input.reduce((a, b) => a * b, 1) >= Math.min(t.wasmMinWork, WASM_SUM_MIN);
}
