/**
 * The contract between lowering and the wasm target (compiler/emit/wasm.ts):
 * a matmul kernel's shapes, byte addresses and fused epilogue, in a
 * target-neutral form the wasm target translates to SIMD instructions.
 */

export interface MatmulKernel {
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
