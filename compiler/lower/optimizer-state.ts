/**
 * Where a module's optimizer state lives: a region appended to the memory of a
 * module with wasm kernels (see compiler/emit/optimizers.ts for the kernels that
 * use it). Part of the layout lowering builds (layout.ts `withMemory`), so the
 * compiled layout and the emitted module's are the same object.
 */
import type { Layout } from "../../runtime/abi.ts";

/** The scalar slots (float32 index into the region); runtime/optim.ts writes them by the same numbers. */
export const SLOT = { lr: 0, mu: 1, oneMinusMu: 2, beta2: 3, oneMinusBeta2: 4, eps: 5, a: 6, c: 7, keep: 8, l2: 9 } as const;
export const SCALAR_BYTES = 128;

export const pad16 = (bytes: number) => Math.ceil(bytes / 16) * 16;

/** The layout with the optimizer's region appended to its memory (after everything else, in pages of its own). */
export function withOptimizerState(layout: Layout): Layout {
  const mem = layout.memory;
  if (!mem || !layout.hasLoss) return layout;
  const state = mem.pages * 65536;
  const bytes = SCALAR_BYTES + 2 * pad16(layout.paramSize * 4);
  const { params, grads, inputs, arena } = mem;
  return { ...layout, memory: { params, grads, inputs, arena, state, pages: Math.ceil((state + bytes) / 65536) } };
}
