/**
 * The types the runtime shares with generated modules. The runtime never
 * imports the compiler, so these are local copies, written with `readonly`
 * everywhere so that both the compiler's `Layout` (compiler/lower/lower.ts)
 * and a generated module's `layout … as const` are assignable to them
 * (test/runtime/types.test.ts checks this at typecheck time).
 */

export type Buf = Float32Array | Float64Array;

/** How a parameter starts; the same cases as `Init` in compiler/ir/model.ts. */
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

export interface Slot {
  readonly name: string;
  readonly shape: readonly number[];
  readonly offset: number;
  readonly size: number;
}

/** Where every parameter, input and output lives in the flat buffers. */
export interface Layout {
  readonly name: string;
  readonly source: string;
  readonly params: readonly (Slot & { readonly init: Init })[];
  readonly paramSize: number;
  readonly inputs: readonly (Slot & { readonly range?: readonly [number, number] })[];
  readonly inputSize: number;
  /** Outputs live at the start of the arena. */
  readonly outputs: readonly Slot[];
  readonly arenaSize: number;
  /** Where `forward` writes the loss (a slot, not a return value: returning a double would allocate). */
  readonly lossOffset?: number;
  /** The compiled batch size B, when inputs have a batch axis; steps may use n <= B rows. */
  readonly batch?: number;
  readonly hasLoss: boolean;
}

/**
 * A generated module (`generated/<name>.js`, or `importModule(compiled.js)`).
 * `A` is the array type it was compiled for: Float32Array by default,
 * Float64Array with `precision: "f64"`.
 */
export interface Module<A extends Buf = Float32Array> {
  readonly layout: Layout;
  /** Writes the outputs (at `layout.outputs[i].offset`) and the loss (at `layout.lossOffset`) into `arena`. */
  forward(params: A, inputs: A, arena: A, n?: number): void;
  /** Writes d loss / d params into `grads`; call after `forward` on the same buffers. Absent without a loss. */
  backward?(params: A, inputs: A, arena: A, grads: A, n?: number): void;
}

export type ArrayCtor<A extends Buf> = new (length: number) => A;

/** Errors the runtime raises for bad arguments; `code` matches the compiler's error codes. */
export class RuntimeError extends Error {
  constructor(
    readonly code: "E_ARG" | "E_NO_LOSS",
    message: string,
  ) {
    super(message);
    this.name = "RuntimeError";
  }
}
