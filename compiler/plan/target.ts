import type { Node } from "../ir/graph.ts";

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

/**
 * The one JS-or-wasm rule for a loop conv or pool node (conv2d, its backward ops, the pools):
 * compiler/lower/conv.ts asks it, and calls the wasm kernel (compiler/lower/wasm-conv.ts) when
 * it says yes. No conv goes to wasm yet: every conv and pool runs as JS loops.
 */
export function convOnWasm(_t: Target, _n: Node): boolean {
  return false; // no wasm conv kernels yet (issue #16: the wasm kernels plug in here)
}
