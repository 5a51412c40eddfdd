/**
 * The ABI between the compiler and the runtime, defined once: the compiler
 * builds a `Layout` (compiler/lower/layout.ts) and prints it into every
 * generated module as `layout … as const`; the runtime reads it. This file
 * imports nothing, so the compiler may import it and the runtime never
 * imports the compiler. Everything is `readonly`, so a generated module's
 * `as const` literal is assignable to it.
 */

/** The buffers every generated function takes, by their parameter names, in this order. */
export const BUFFERS = ["params", "inputs", "arena", "grads"] as const;

/** How a parameter starts (the trainer's init, runtime/init.ts). */
export type Init =
  | "zeros"
  | "ones"
  | "xavier" // Glorot uniform: U(-a, a), a = sqrt(6 / (fan_in + fan_out))
  | "xavierNormal" // Glorot normal: N(0, 2 / (fan_in + fan_out))
  | "he" // He normal: N(0, 2 / fan_in)
  | "heUniform" // He uniform: U(-a, a), a = sqrt(6 / fan_in)
  | { readonly uniform: readonly [number, number] } // lo, hi
  | { readonly normal: readonly [number, number] } // mean, std
  | { readonly value: readonly number[] }; // explicit values, row-major (hand-set weights)

/** A named tensor in one of the flat buffers: `size` floats from `offset`, row-major. */
export interface Slot {
  readonly name: string;
  readonly shape: readonly number[];
  readonly offset: number;
  readonly size: number;
}

/** Where every parameter, input and output lives in the flat buffers. */
export interface Layout {
  readonly name: string;
  /** The spec file the module was compiled from. */
  readonly source: string;
  readonly params: readonly (Slot & { readonly init: Init })[];
  readonly paramSize: number;
  /**
   * `batched`: the leading axis is the batch axis. `dropout`: a dropout-mask
   * input (see runtime/trainer.ts): the trainer fills it with a fresh
   * inverted-dropout mask of this drop rate every training step and with ones
   * for evaluation and prediction.
   */
  readonly inputs: readonly (Slot & {
    readonly range?: readonly [number, number];
    readonly batched?: true;
    readonly dropout?: number;
    /** The loss's cross-entropy targets: softmax cross-entropy rows are distributions, binary cross-entropy values probabilities (the trainer checks the data). */
    readonly target?: "distribution" | "probability";
  })[];
  readonly inputSize: number;
  /** Outputs live at the start of the arena. */
  readonly outputs: readonly Slot[];
  /** Outputs, then every planned intermediate, then the loss, then (wasm) kernel scratch. */
  readonly arenaSize: number;
  /** Where `forward` writes the loss (a slot, not a return value: returning a double would allocate). */
  readonly lossOffset?: number;
  /** The compiled batch size B: functions take n <= B real examples (rows n..B-1 of batched inputs must be finite, e.g. zero). */
  readonly batch?: number;
  readonly hasLoss: boolean;
  /**
   * How the loss over n rows combines from the losses of row chunks (compiler/lower/batch-split.ts): "mean" —
   * L = Σ (nᵢ/n) Lᵢ (a batch mean), "sum" — L = Σ Lᵢ (a batch sum). Absent when rows mix (a batch statistic)
   * or the loss is not linear in its batch reductions: such a model cannot train on several threads.
   */
  readonly split?: "mean" | "sum";
  /** Modules with wasm kernels: byte offsets of the four buffers in the module's one WebAssembly.Memory, and its size in pages. */
  readonly memory?: {
    readonly params: number;
    readonly grads: number;
    readonly inputs: number;
    readonly arena: number;
    /** The optimizer kernels' region (compiler/lower/optimizer-state.ts): scalar slots, then two state vectors of paramSize floats (16-byte aligned). */
    readonly state?: number;
    readonly pages: number;
  };
  /** Every named value (spec names; `d_<name>` adjoints), in the order the functions compute them (`gradc summary`). */
  readonly values?: readonly { readonly name: string; readonly shape: readonly number[]; readonly pass: "forward" | "backward" }[];
  /** Arena floats with no liveness reuse (every stored value its own slot), for comparison with `arenaSize`. */
  readonly arenaNoReuse?: number;
  /** The matmuls that run as WebAssembly SIMD kernels: C[m×n] = A[m×k]·B[k×n], and the value it computes (`x·W1`, `d_h`). */
  readonly wasmKernels?: readonly { readonly name: string; readonly m: number; readonly k: number; readonly n: number; readonly computes?: string }[];
}
