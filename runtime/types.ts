/**
 * The types the runtime shares with generated modules. The ABI itself —
 * `Layout`, `Slot`, `Init` — is defined once in ./abi.ts (imported by the
 * compiler too); this file adds what only the runtime needs.
 */
import type { Layout } from "./abi.ts";

export type { Init, Layout, Slot } from "./abi.ts";

export type Buf = Float32Array | Float64Array;

/**
 * A generated module (`generated/<name>.js`, or `importModule(compiled.js)`).
 * `A` is the array type it was compiled for: Float32Array by default,
 * Float64Array with `precision: "f64"`.
 */
export interface Module<A extends Buf = Float32Array> {
  readonly layout: Layout;
  /** Where the module's file is (its `createTrainer` passes `import.meta.url`): Node's training threads import it from there. */
  readonly url?: string;
  /**
   * Fresh buffers of the sizes the module needs. A module with wasm kernels
   * hands out views of its own WebAssembly.Memory and accepts only those, so
   * the runtime takes its buffers from here whenever a module has it
   * (hand-written modules may leave it out: plain arrays are allocated).
   */
  buffers?(shared?: WebAssembly.Memory): { params: Buf; inputs: Buf; arena: Buf; grads: Buf };
  /** Writes the outputs (at `layout.outputs[i].offset`) and the loss (at `layout.lossOffset`) into `arena`. */
  forward(params: A, inputs: A, arena: A, n?: number): void;
  /** Writes d loss / d params into `grads`; call after `forward` on the same buffers. Absent without a loss. */
  backward?(params: A, inputs: A, arena: A, grads: A, n?: number): void;
  /** `forward` then `backward` in one call, forward values kept in locals (generated for fully unrolled models). */
  step?(params: A, inputs: A, arena: A, grads: A, n?: number): void;
  /** Plain SGD in place, params -= lr * grads (generated modules: wasm SIMD when the module has wasm kernels). */
  sgd?(params: A, grads: A, lr: number): void;
  /** The optimizer updates as wasm SIMD loops over this module's memory (modules with wasm kernels; see runtime/optim.ts). */
  optimizerKernels?(params: A): OptimizerKernels;
}

/**
 * What compiler/emit/optimizers.ts builds; every update reads its scalars from memory (`SLOT`), so only an element
 * range [from, to) is passed (`from` a multiple of 4; the trainer passes (0, size), each thread of `threads` its own range).
 */
export interface OptimizerKernels {
  /** 1 when every gradient element in [from, to) is finite. */
  opt_check(from: number, to: number): number;
  /** grads[i] += λ params[i] for i in [from, to) (λ in slot l2). */
  opt_l2(from: number, to: number): void;
  /** params[i] *= keep for i in [from, to). */
  opt_decay(from: number, to: number): void;
  opt_sgd(from: number, to: number): void;
  opt_momentum(from: number, to: number): void;
  opt_nesterov(from: number, to: number): void;
  opt_adagrad(from: number, to: number): void;
  opt_rmsprop(from: number, to: number): void;
  opt_adam(from: number, to: number): void;
}

export type ArrayCtor<A extends Buf> = new (length: number) => A;

/**
 * The runtime's error codes; stable, so callers can branch on them.
 *
 *   E_ARG                 a bad argument or option
 *   E_NO_LOSS             the model has no loss, so it cannot be trained
 *   E_BATCH               a batch size the compiled module cannot take
 *   E_DATA                a data set that does not fit the model (missing input, labels for one-hot, wrong width, NaN), or unparsable CSV/JSON
 *   E_DIVERGED            a non-finite loss or gradient stopped training (see `DivergedError`)
 *   E_CHECKPOINT_MODEL    a checkpoint written for a model of another structure (parameter names or shapes differ)
 *   E_CHECKPOINT_CORRUPT  a checkpoint that is not valid JSON, is truncated, or fails its checksum
 *   E_IO                  a file that cannot be read or written
 *   E_THREAD              `threads`: a model that cannot be split across threads, or a training thread that failed to start or to step
 */
export type RuntimeErrorCode =
  | "E_ARG"
  | "E_NO_LOSS"
  | "E_BATCH"
  | "E_DATA"
  | "E_DIVERGED"
  | "E_CHECKPOINT_MODEL"
  | "E_CHECKPOINT_CORRUPT"
  | "E_IO"
  | "E_THREAD";

/** Errors the runtime raises; `code` is stable (see `RuntimeErrorCode`), the message says what to fix. */
export class RuntimeError extends Error {
  constructor(
    readonly code: RuntimeErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "RuntimeError";
  }
}

/** The module's own buffers (`mod.buffers()`), typed as its array type, or undefined when it has none. */
export function ownBuffers<A extends Buf>(mod: Module<A>): { params: A; inputs: A; arena: A; grads: A } | undefined {
  return mod.buffers?.() as { params: A; inputs: A; arena: A; grads: A } | undefined;
}

/** The name in `names` closest to `key` by edit distance, case-insensitive (for "did you mean"). */
export function nearest(key: string, names: readonly string[]): string {
  const distance = (a: string, b: string): number => {
    const d = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
      let prev = d[0]!;
      d[0] = i;
      for (let j = 1; j <= b.length; j++) {
        const keep = d[j]!;
        d[j] = Math.min(d[j]! + 1, d[j - 1]! + 1, prev + (a[i - 1]!.toLowerCase() === b[j - 1]!.toLowerCase() ? 0 : 1));
        prev = keep;
      }
    }
    return d[b.length]!;
  };
  return [...names].sort((a, b) => distance(key, a) - distance(key, b))[0]!;
}
