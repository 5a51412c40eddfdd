/**
 * Imports an emitted JS module in-process (for `gradc check`, `gradc grad` and
 * tests). The module text comes from the emitter alone — never from a spec —
 * and has no imports, so a data: URL is enough.
 */
import type { Layout } from "../../runtime/abi.ts";

export type Buf = Float32Array | Float64Array;

export interface GeneratedModule {
  readonly layout: Layout;
  /** Buffers of the sizes the module needs (with wasm kernels: views of its own memory — the only ones it accepts). */
  buffers(): { params: Buf; inputs: Buf; arena: Buf; grads: Buf };
  forward(params: Buf, inputs: Buf, arena: Buf, n?: number): void;
  backward?(params: Buf, inputs: Buf, arena: Buf, grads: Buf, n?: number): void;
  /** forward + backward fused (fully unrolled models). */
  step?(params: Buf, inputs: Buf, arena: Buf, grads: Buf, n?: number): void;
  /** Plain SGD in place, params -= lr * grads (wasm SIMD in modules with wasm kernels); absent without a loss. */
  sgd?(params: Buf, grads: Buf, lr: number): void;
}

export async function importModule(js: string): Promise<GeneratedModule> {
  return (await import(`data:text/javascript;base64,${Buffer.from(js).toString("base64")}`)) as GeneratedModule;
}
