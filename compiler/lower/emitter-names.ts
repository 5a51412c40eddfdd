// The emitter's own identifiers, kept in lowering (which names values) so that lowering need not import the emitter.

/**
 * Every identifier the emitter itself puts in (or makes visible to) the body of
 * `forward`, `backward` and `step`, where spec names become locals: their
 * parameters, the local `k` (the kernel instance), and the module-level names
 * and globals a body reads. lower.ts gives a spec name equal to one of these a
 * suffix. test/emit/names.test.ts derives this set from emitted modules (every
 * parameter and free identifier of those bodies) and fails if one is missing.
 */
export const EMITTER_NAMES: readonly string[] = [
  "params",
  "inputs",
  "arena",
  "grads",
  "n",
  "k",
  "kernels",
  "Math",
  "nthRoot",
  "layout",
  "buffers",
  "forward",
  "backward",
  "step",
  "sgd",
  "Buf",
  "Kernels",
  "instances",
  "wasmModule",
  "createTrainer",
  "trainerFor",
  "TrainerOptions",
  "undefined",
];
