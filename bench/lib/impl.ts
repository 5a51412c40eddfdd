/** What run-one.ts drives: one implementation training one workload. */
export interface Impl {
  /** Puts the initial parameters back and restarts the batch cycle (batch 0 next). */
  reset(): void;
  /** Runs `steps` plain SGD steps, cycling through the batches. */
  run(steps: number): void;
  /** The loss computed by the last step's forward pass (waits for pending work). */
  lastLoss(): number;
  /** Facts worth printing (backend, threads, …). */
  readonly info: Record<string, string>;
}

export const IMPLS = ["gradc", "hand", "hand-naive", "tfjs-cpu", "tfjs-wasm", "jax-wasm", "gradc-adam", "gradc-fit", "tfjs-wasm-adam", "jax-wasm-adam", "gradc-step", "c-direct", "c-blas"] as const;
/** The rows that train with Adam (lib/workloads.ts ADAM): their losses are compared with gradc-adam's. */
export const ADAM_IMPLS: readonly ImplName[] = ["gradc-adam", "gradc-fit", "tfjs-wasm-adam", "jax-wasm-adam"];
export type ImplName = (typeof IMPLS)[number];

export const IMPL_LABEL: Record<ImplName, string> = {
  gradc: "gradc",
  hand: "hand-written JS",
  "hand-naive": "hand-written, naive i-k-j",
  "tfjs-cpu": "tfjs-core cpu",
  "tfjs-wasm": "tfjs wasm",
  "jax-wasm": "jax-js wasm jit",
  "gradc-adam": "gradc trainStep, Adam",
  "gradc-fit": "gradc fit, Adam (shuffled epochs)",
  "tfjs-wasm-adam": "tfjs wasm, tf.train.adam",
  "jax-wasm-adam": "jax-js wasm jit, Adam",
  "gradc-step": "gradc trainStep, SGD",
  "c-direct": "C, direct conv loops, gcc -O3 -march=native",
  "c-blas": "C, im2col + OpenBLAS sgemm, 1 thread",
};

/** Which rows a workload has: the C reference is lenet's only; the hand-written nets and the peers' Adam rows are the MLPs' only. */
export function implApplies(impl: ImplName, w: { readonly convs?: unknown; readonly loss: string }): boolean {
  if (impl === "c-direct" || impl === "c-blas" || impl === "gradc-step") return w.convs !== undefined;
  if (w.convs !== undefined) return !(impl === "hand" || impl === "hand-naive" || impl === "gradc-fit" || impl === "tfjs-wasm-adam" || impl === "jax-wasm-adam");
  return !(impl === "hand-naive" && w.loss !== "softmaxce");
}
