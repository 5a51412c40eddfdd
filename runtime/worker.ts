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
import { checkRange, type RangeUpdate, updateRange } from "./optim.ts";
import { Reducer } from "./reduce.ts";
import type { Buf, Layout, Module, OptimizerKernels } from "./types.ts";

/** The control array's slots (Int32 indices); the error message's UTF-8 bytes follow at MSG. */
export const CTL = {
  CMD: 0,
  OP: 1,
  N: 2,
  DONE: 3,
  STATUS: 4,
  READY: 5,
  LEN: 6,
  /** After OP.REDUCE: 1 when the thread's range of the gradient is finite, else 0. */
  FLAG: 7,
} as const;
export const CTL_INTS = 16;
export const MSG = CTL_INTS * 4;
export const MSG_BYTES = 4096;
/**
 * What the trainer asks of a thread: its chunk's forward and backward (STEP; with a split update it first copies
 * the trainer's parameters into its own memory), and with a split update (`ThreadInit.split`) its range's share of
 * the update in two halves: REDUCE (combine the chunks' gradients there, L2, the finiteness check) and, once every
 * range passed, UPDATE (the optimizer's rule there).
 */
export const OP = { STEP: 1, QUIT: 2, REDUCE: 3, UPDATE: 4 } as const;
/**
 * How long (ms) a thread spins on a control slot before it blocks in Atomics.wait, adaptively: a futex wake-up
 * costs tens of µs on an idle machine, and the next command of a step usually comes sooner, so spinning pays; on a
 * busy machine (more runnable threads than cores) the answer takes a time slice, and a spinning thread only burns
 * its share of the core the other side is waiting for (measured here at load 10: a 2 ms spin made a step 6× slower
 * than a 0.05 ms one). So each waiting side doubles its budget after a spin that caught the change and halves it
 * after one that did not, between these bounds.
 */
export const SPIN_MIN = 1 << 11;
export const SPIN_MAX = 1 << 15;

/**
 * Spins while ctl[slot] === value, at most `loads` loads (an optimized load costs ~5 ns here: 2,048 to 32,768 are
 * ~10 to ~165 µs); true when it changed. Counted in loads, not read off a clock: Node's performance.now() may
 * allocate, and a step allocates nothing.
 */
export function spinWhile(ctl: Int32Array, slot: number, value: number, loads: number): boolean {
  for (let i = 0; i < loads; i++) if (Atomics.load(ctl, slot) !== value) return true;
  return false;
}

/** The next spin budget after a spin of `loads` that caught the change or not. */
export const nextSpin = (loads: number, caught: boolean): number =>
  caught ? Math.min(loads * 2, SPIN_MAX) : Math.max(loads >> 1, SPIN_MIN);

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
  /**
   * A split update (float32 modules with optimizer kernels): every thread's memory (index 0 the trainer's, which
   * holds the parameters, the summed gradient and the optimizer's state), this thread's index, the update's kernel
   * calls, and whether the loss is a batch mean (chunks weighted nᵢ / n) or a sum.
   */
  readonly split?: {
    readonly memories: readonly WebAssembly.Memory[];
    readonly thread: number;
    readonly update: RangeUpdate;
    readonly mean: boolean;
  };
}

/** Rows of chunk j when n rows are cut into k chunks (the first n % k one row longer). */
export function chunkRows(n: number, k: number, j: number): number {
  return Math.floor(n / k) + (j < n % k ? 1 : 0);
}

/**
 * One thread's share of a split update: the range [from, to) of the parameters it owns (whole vectors of four, the
 * ranges of the k threads cut evenly), views of every thread's gradient over that range, and kernels over the
 * trainer's memory. The arithmetic is the trainer's serial reduction restricted to the range, element by element
 * (runtime/reduce.ts), so the bits do not depend on which thread computes an element.
 */
export class SplitPart {
  readonly from: number;
  readonly to: number;
  /** Thread i's gradient over the range; [0] is the trainer's, where the combination goes. */
  private readonly g: Float32Array[];
  private readonly red: Reducer;

  constructor(
    memories: readonly WebAssembly.Memory[],
    layout: Layout,
    thread: number,
    private readonly kernels: OptimizerKernels,
    private readonly update: RangeUpdate,
    private readonly mean: boolean,
  ) {
    const k = memories.length;
    const vecs = Math.ceil(layout.paramSize / 4);
    this.from = 4 * Math.floor((thread * vecs) / k);
    this.to = thread === k - 1 ? layout.paramSize : 4 * Math.floor(((thread + 1) * vecs) / k);
    const at = layout.memory!.grads + this.from * 4;
    this.g = memories.map((m) => new Float32Array(m.buffer, at, this.to - this.from));
    this.red = new Reducer(this.to - this.from, false);
  }

  /** The range of the summed gradient of n rows (G = g₀, or fl(fl(w₀g₀) + fl(w₁g₁)), then fl(G + fl(wⱼgⱼ))), L2, the check. */
  reduce(n: number): boolean {
    const g = this.g;
    const k = g.length;
    if (chunkRows(n, k, 1) > 0) {
      const red = this.red;
      red.a.set(g[0]!);
      for (let j = 1; j < k; j++) {
        const nj = chunkRows(n, k, j);
        if (nj === 0) break; // the chunks with rows come first
        red.b.set(g[j]!);
        red.w[0] = j === 1 ? (this.mean ? chunkRows(n, k, 0) / n : 1) : 1;
        red.w[1] = this.mean ? nj / n : 1;
        red.axpby();
      }
      g[0]!.set(red.a);
    }
    return checkRange(this.kernels, this.update, this.from, this.to);
  }

  /** The optimizer's rule over the range (every range's check passed; the trainer wrote the step's scalars). */
  apply(): void {
    updateRange(this.kernels, this.update, this.from, this.to);
  }
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

/** DONE's value once a thread has died (it never counts commands below 0). */
export const DEAD = -1;

/**
 * Marks the thread dead (its script is exiting: `process.exit` in the module, an uncaught error) with `why`, and
 * wakes a trainer waiting for it, which then throws E_THREAD at once instead of at its timeout. A thread that exits
 * after the trainer told it to quit is not waited for, so the mark is harmless then.
 */
export function reportThreadDeath(ctlBuffer: SharedArrayBuffer, why: string): void {
  const ctl = new Int32Array(ctlBuffer, 0, CTL_INTS);
  const ready = Atomics.load(ctl, CTL.READY);
  // told to quit, or it already said why it could not start (and ends for that reason): nothing to add
  if (Atomics.load(ctl, CTL.OP) === OP.QUIT || ready === 2) return;
  if (Atomics.load(ctl, CTL.STATUS) !== 1) {
    const bytes = new TextEncoder().encode(why).subarray(0, MSG_BYTES);
    new Uint8Array(ctlBuffer, MSG, MSG_BYTES).set(bytes);
    Atomics.store(ctl, CTL.LEN, bytes.length);
    Atomics.store(ctl, CTL.STATUS, 1);
  }
  if (ready === 0) Atomics.store(ctl, CTL.READY, 2);
  Atomics.store(ctl, CTL.DONE, DEAD);
  Atomics.notify(ctl, CTL.READY);
  Atomics.notify(ctl, CTL.DONE);
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
  let part: SplitPart | undefined;
  let trainerParams: Buf | undefined;
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
    const split = init.split;
    if (split) {
      // a second instance of the kernels, over the trainer's memory: this thread's range of the update runs there
      const main = (mod.buffers as (shared: WebAssembly.Memory) => typeof bufs)(split.memories[0]!);
      if (!mod.optimizerKernels) throw new Error(`model '${mod.layout.name}' has no optimizer kernels`);
      part = new SplitPart(split.memories, mod.layout, split.thread, mod.optimizerKernels(main.params), split.update, split.mean);
      trainerParams = main.params;
    }
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
  let spin = SPIN_MAX;
  for (;;) {
    // spin a little first: the next command usually comes within tens of µs, sooner than a futex wakes
    const caught = spinWhile(ctl, CTL.CMD, seen, spin);
    spin = nextSpin(spin, caught);
    if (!caught) Atomics.wait(ctl, CTL.CMD, seen);
    seen = Atomics.load(ctl, CTL.CMD);
    const op = Atomics.load(ctl, CTL.OP);
    if (op === OP.QUIT) break;
    try {
      const n = Atomics.load(ctl, CTL.N);
      if (op === OP.REDUCE) Atomics.store(ctl, CTL.FLAG, part!.reduce(n) ? 1 : 0);
      else if (op === OP.UPDATE) part!.apply();
      else {
        if (trainerParams !== undefined) params.set(trainerParams); // the parameters the last update left
        if (step) step(params as never, inputs as never, arena as never, grads as never, n);
        else {
          forward(params as never, inputs as never, arena as never, n);
          backward(params as never, inputs as never, arena as never, grads as never, n);
        }
      }
    } catch (e) {
      reportThreadError(init.ctl, e, "STATUS");
    }
    Atomics.store(ctl, CTL.DONE, seen);
    Atomics.notify(ctl, CTL.DONE);
  }
  (globalThis as { close?: () => void }).close?.(); // a browser Worker ends; Node's ends with its script
}
