/**
 * A training thread's side of `createTrainer({ threads: n })` (runtime/threads.ts
 * has the trainer's side). A thread holds its own instance of the module over
 * its own shared memory (the kernels address their buffers at constants, so every
 * thread needs its own params, inputs, arena and grads); the trainer writes the
 * parameters and this thread's rows of the batch into it, wakes it, and reads its
 * loss and gradient back when it is done. Nothing is posted per step: the two
 * sides meet through `Atomics` on a small control array.
 *
 * In a browser, a thread is a module Worker running a script of the app's:
 *
 *   // train-thread.js
 *   import * as mnist from "./generated/mnist.js";
 *   import { serveThread } from "gradc/runtime";
 *   serveThread(mnist);
 *
 * In Node the trainer starts gradc's own thread script (runtime/worker-node.ts),
 * which imports the generated module by its URL.
 *
 * Browser-safe: no `node:` import.
 */
import type { Buf, Module } from "./types.ts";

/** The control array's slots (Int32 indices); the error message's UTF-8 bytes follow at MSG. */
export const CTL = {
  CMD: 0,
  OP: 1,
  N: 2,
  DONE: 3,
  STATUS: 4,
  READY: 5,
  LEN: 6,
} as const;
export const CTL_INTS = 16;
export const MSG = CTL_INTS * 4;
export const MSG_BYTES = 4096;
export const OP = { STEP: 1, QUIT: 2 } as const;
/** Loads of a control slot before a thread blocks in Atomics.wait (tens of µs). */
export const SPIN = 20_000;

/** What the trainer hands a thread once (structured-cloneable: shared memories and buffers are shared, not copied). */
export interface ThreadInit {
  readonly kind: "gradc-thread";
  /** The model's name and parameter count: the thread checks that it loaded the same module. */
  readonly model: string;
  readonly paramSize: number;
  /** Modules with wasm kernels: the thread's shared WebAssembly.Memory (the module's `buffers(shared)`). */
  readonly memory?: WebAssembly.Memory;
  /** JS modules: one SharedArrayBuffer holding params, inputs, arena, grads in this order, of `f64` floats or not. */
  readonly buffer?: SharedArrayBuffer;
  readonly f64?: boolean;
  readonly sizes: readonly [params: number, inputs: number, arena: number];
  /** The control array (runtime/threads.ts). */
  readonly ctl: SharedArrayBuffer;
}

/** The four buffers of a JS module's thread, as views of one SharedArrayBuffer (both sides make the same views). */
export function sharedViews(
  buffer: SharedArrayBuffer,
  f64: boolean,
  [p, i, a]: readonly [number, number, number],
): { params: Buf; inputs: Buf; arena: Buf; grads: Buf } {
  const view = (at: number, len: number): Buf =>
    f64
      ? new Float64Array(buffer, at * 8, len)
      : new Float32Array(buffer, at * 4, len);
  return {
    params: view(0, p),
    inputs: view(p, i),
    arena: view(p + i, a),
    grads: view(p + i + a, p),
  };
}

/** Writes `e`'s message into the control array for the trainer to throw (it cannot see this thread's exceptions). */
export function reportThreadError(
  ctlBuffer: SharedArrayBuffer,
  e: unknown,
  slot: "READY" | "STATUS",
): void {
  const ctl = new Int32Array(ctlBuffer, 0, CTL_INTS);
  const text = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  const bytes = new TextEncoder().encode(text).subarray(0, MSG_BYTES);
  new Uint8Array(ctlBuffer, MSG, MSG_BYTES).set(bytes);
  Atomics.store(ctl, CTL.LEN, bytes.length);
  Atomics.store(ctl, CTL[slot], slot === "READY" ? 2 : 1);
  Atomics.notify(ctl, CTL[slot]);
}

const isInit = (v: unknown): v is ThreadInit =>
  typeof v === "object" &&
  v !== null &&
  (v as ThreadInit).kind === "gradc-thread";

/**
 * Serves one training thread for `mod` until the trainer closes it. With `init`
 * (Node's thread script passes its workerData) it starts at once; without, it
 * waits for the trainer's first message (a browser Worker).
 */
export function serveThread(mod: Module<Buf>, init?: ThreadInit): void {
  if (init === undefined) {
    const scope = globalThis as unknown as {
      addEventListener(
        type: "message",
        f: (e: { data: unknown }) => void,
      ): void;
    };
    const once = (e: { data: unknown }) => {
      if (isInit(e.data)) serveThread(mod, e.data);
    };
    scope.addEventListener("message", once);
    return;
  }
  const ctl = new Int32Array(init.ctl, 0, CTL_INTS);
  let bufs: { params: Buf; inputs: Buf; arena: Buf; grads: Buf };
  try {
    if (
      mod.layout.name !== init.model ||
      mod.layout.paramSize !== init.paramSize
    )
      throw new Error(
        `this thread loaded model '${mod.layout.name}' (${mod.layout.paramSize} parameters), the trainer trains '${init.model}' (${init.paramSize})`,
      );
    if (!mod.backward)
      throw new Error(`model '${mod.layout.name}' has no backward`);
    if (init.memory) {
      if (!mod.buffers) throw new Error("the module has no buffers()");
      bufs = (mod.buffers as (shared: WebAssembly.Memory) => typeof bufs)(
        init.memory,
      );
    } else bufs = sharedViews(init.buffer!, init.f64 === true, init.sizes);
  } catch (e) {
    reportThreadError(init.ctl, e, "READY");
    return;
  }
  Atomics.store(ctl, CTL.READY, 1);
  Atomics.notify(ctl, CTL.READY);
  const { params, inputs, arena, grads } = bufs;
  const step = mod.step;
  const forward = mod.forward;
  const backward = mod.backward!;
  let seen = 0;
  for (;;) {
    // spin a little first: the next step usually comes within tens of µs, sooner than a futex wakes
    for (
      let spin = 0;
      spin < SPIN && Atomics.load(ctl, CTL.CMD) === seen;
      spin++
    );
    Atomics.wait(ctl, CTL.CMD, seen);
    seen = Atomics.load(ctl, CTL.CMD);
    const op = Atomics.load(ctl, CTL.OP);
    if (op === OP.QUIT) break;
    try {
      const n = Atomics.load(ctl, CTL.N);
      if (step)
        step(
          params as never,
          inputs as never,
          arena as never,
          grads as never,
          n,
        );
      else {
        forward(params as never, inputs as never, arena as never, n);
        backward(
          params as never,
          inputs as never,
          arena as never,
          grads as never,
          n,
        );
      }
    } catch (e) {
      reportThreadError(init.ctl, e, "STATUS");
    }
    Atomics.store(ctl, CTL.DONE, seen);
    Atomics.notify(ctl, CTL.DONE);
  }
  (globalThis as { close?: () => void }).close?.(); // a browser Worker ends; Node's ends with its script
}
