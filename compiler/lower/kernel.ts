/**
 * The contract between lowering and the wasm target (compiler/emit/wasm.ts):
 * a matmul kernel's shapes, byte addresses and fused epilogue, in a
 * target-neutral form the wasm target translates to SIMD instructions.
 */
import type { ConvGeometry } from "../plan/target.ts";

export interface MatmulKernel {
  /** Absent: the union `WasmKernel` tells kernels apart by `kind`. */
  readonly kind?: undefined;
  readonly name: string;
  /** Rows computed here (a multiple of 4); the caller does rows M4..M. */
  readonly M4: number;
  readonly N: number;
  readonly K: number;
  /** Byte addresses and A's strides (in elements). */
  readonly aBase: number;
  readonly sa0: number;
  readonly sa1: number;
  readonly bBase: number;
  readonly cBase: number;
  /**
   * B stored transposed (dX = dY·Wᵀ reads W as it is): element (p, j) at
   * bBase + (j·K + p)·4. A must then be contiguous along p (sa1 = 1), and K a
   * multiple of 4.
   */
  readonly bT?: boolean;
  /** An elementwise epilogue applied to each accumulated value before it is stored (bias, relu, a relu mask…). */
  readonly epilogue?: Epi;
  /** Id of the matmul IR node it computes (for `gradc summary`; the emitter does not read it). */
  readonly node?: number;
}

/**
 * An elementwise epilogue over C[i, j] (`acc`), with operands loaded from
 * memory at byte address `at + i·rowBytes + j·4` (`col`) or `at + i·rowBytes`
 * (one value per row). Only what a vector unit has instructions for:
 * lowering keeps any other epilogue (exp, tanh…) as a JS pass.
 */
export type Epi =
  | { readonly k: "acc" }
  | { readonly k: "num"; readonly v: number }
  | { readonly k: "load"; readonly at: number; readonly rowBytes: number; readonly col: boolean }
  | { readonly k: "neg" | "abs" | "sqrt"; readonly x: Epi }
  | { readonly k: "+" | "-" | "*" | "/" | "max" | "min"; readonly a: Epi; readonly b: Epi }
  | { readonly k: "sel"; readonly c: { readonly op: ">" | ">=" | "<" | "<="; readonly a: Epi; readonly b: Epi }; readonly a: Epi; readonly b: Epi };

/**
 * A convolution kernel (compiler/emit/wasm-conv.ts), always described by the
 * geometry of the forward conv2d it belongs to: x [N, C, H, W] (NCHW), w
 * [K, C, R, S] (OIHW, groups 1), y [N, K, OH, OW], with
 * y[n,k,oh,ow] = Σ_{c,r,s} x[n, c, oh·sh − pt + r·dh, ow·sw − pl + s·dw] · w[k,c,r,s].
 * `op` says which of the three tensors it writes: conv2d writes y (reads x,
 * w), conv2dBackInput writes x (reads y = the output gradient, and w),
 * conv2dBackFilter writes w (reads x and y = the output gradient; summed over
 * the batch). Addresses are bytes; `scratch` (16-byte aligned) holds
 * `scratchBytes` the kernel may overwrite (a zero-padded copy of its input).
 */
export interface ConvKernel extends Omit<ConvGeometry, "op" | "groups"> {
  readonly kind: "conv";
  readonly name: string;
  readonly op: "conv2d" | "conv2dBackInput" | "conv2dBackFilter";
  readonly x: number;
  readonly w: number;
  readonly y: number;
  readonly scratch: number;
  readonly scratchBytes: number;
  /**
   * conv2d only: applied to each output value before it is stored, with
   * `acc` the sum and per-channel loads (`load` with col false, the row being
   * the output channel k: bias at `at + k·rowBytes`); e.g. relu(acc + b[k]).
   */
  readonly epilogue?: Epi;
  /** Add into the destination instead of overwriting it. */
  readonly accumulate?: boolean;
  readonly node?: number;
}

/**
 * A pooling kernel over x [N, C, H, W] → y [N, C, OH, OW] with window R×S:
 * maxPool2d / avgPool2d write y from x; maxPool2dBack writes dx from x and g
 * (at `y`: the output gradient), tied maxima of a window sharing g equally;
 * avgPool2dBack writes dx from g. Padding cells take no part (avg: they are
 * not counted). Byte addresses.
 */
export interface PoolKernel extends Omit<ConvGeometry, "op" | "groups" | "K" | "dilation"> {
  readonly kind: "pool";
  readonly name: string;
  readonly op: "maxPool2d" | "avgPool2d" | "maxPool2dBack" | "avgPool2dBack";
  readonly x: number;
  readonly y: number;
  /** The back kernels' destination (x-shaped). */
  readonly dx: number;
  /**
   * The back kernels, when every cell of the image lies in exactly one window (no padding, stride = window):
   * applied to each cell's gradient before it is stored, `acc` the gradient and `load` with col true (rowBytes
   * 0) the element of an x-shaped tensor at `at` with the cell's index — e.g. relu's mask (x > 0 ? acc : 0).
   */
  readonly epilogue?: Epi;
  readonly accumulate?: boolean;
  /**
   * The max pools: x holds no NaN and no −0 (x is a relu's output: x > 0 ? x : +0), so that pmax — one
   * instruction where f32x4.max is eight — gives max's bits.
   */
  readonly ordered?: boolean;
  readonly node?: number;
}

/**
 * A sum over some axes of a float32 tensor stored contiguously (compiler/emit/wasm-sum.ts): the kept axes
 * are one run of adjacent axes, so the input is [A, B, Cc] (A the summed axes before the run, B the kept
 * elements, Cc the summed axes after it) and y[b] = Σ_{a,c} x[(a·B + b)·Cc + c] — a conv's bias gradient
 * sums [N, K, OH, OW] over all but the channels, a dense layer's [N, M] over the rows. Byte addresses.
 */
export interface SumKernel {
  readonly kind: "sum";
  readonly name: string;
  readonly A: number;
  readonly B: number;
  readonly Cc: number;
  readonly x: number;
  readonly y: number;
  readonly node?: number;
}

/** Every wasm kernel lowering can ask for; a matmul has no `kind`. */
export type WasmKernel = MatmulKernel | ConvKernel | PoolKernel | SumKernel;

export const isMatmul = (k: WasmKernel): k is MatmulKernel => k.kind === undefined;
