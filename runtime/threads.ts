/**
 * Data-parallel training, the trainer's side (`createTrainer({ threads: n })`;
 * the thread's side is runtime/worker.ts). A step of n rows is cut into
 * `threads` contiguous chunks of nᵢ ≤ B rows (B the compiled batch: it is the
 * batch of one thread, so batchSize may reach threads × B). The trainer's own
 * thread computes chunk 0 on its module instance while thread i computes chunk
 * i on its own; then, in the fixed order 0, 1, …, the trainer combines
 *
 *   loss = Σᵢ wᵢ Lᵢ,  grads = Σᵢ wᵢ gᵢ,   wᵢ = nᵢ / n (a batch mean) or 1 (a batch sum)
 *
 * which is the math of the whole batch (the layout's `split` says the loss is
 * such a combination: compiler/lower/batch-split.ts). With a split update
 * (modules with wasm optimizer kernels) every thread then combines, checks and
 * updates its own range of the parameters in the trainer's shared memory
 * (`SplitPart`, runtime/worker.ts; trainer.ts `stepSplit`); otherwise the
 * trainer combines all of it and makes the one update itself. Either way the
 * arithmetic per element is the same: the result equals one thread's up to
 * float32 rounding of the sums' order, and is bit-identical run to run for the
 * same thread count.
 *
 * Why per-thread instances, each in its own shared memory: the kernels are
 * compiled against constant addresses, so two instances cannot share an arena,
 * inputs or grads, and those are most of the memory a step touches; only the
 * parameters could be shared, and each thread copies them into its memory at
 * the start of its chunk (mnist: 101,770 floats, a few µs, in parallel).
 *
 * Browser-safe: the Node side (worker_threads) comes in through the Platform.
 */
import {
  spinWhile,
  nextSpin,
  SPIN_MAX,
  CTL,
  CTL_INTS,
  DEAD,
  MSG,
  MSG_BYTES,
  OP,
  sharedViews,
  SplitPart,
  type ThreadInit,
} from "./worker.ts";
import type { RangeUpdate } from "./optim.ts";
import { type Buf, type Layout, type OptimizerKernels, RuntimeError } from "./types.ts";

/**
 * A split update: the trainer's buffers are views of a shared memory too (`memory`), holding the parameters, the
 * summed gradient and the optimizer's state; every thread (the trainer's included) reduces, checks and updates its
 * own range there with `kernels` (the trainer's instance; each thread makes its own over that memory).
 */
export interface SplitOptions {
  readonly memory: WebAssembly.Memory;
  readonly kernels: OptimizerKernels;
  readonly update: RangeUpdate;
  readonly mean: boolean;
}

/** A started thread, as the platform made it. */
export interface ThreadHandle {
  /** Ends the thread (it may be blocked waiting: this must not need its cooperation). */
  terminate(): void;
}

/** How a platform starts a thread running `serveThread(module, init)`. */
export type SpawnThread = (init: ThreadInit) => ThreadHandle;

/** How long the trainer waits for a thread to start (import the module) or to finish a step before E_THREAD. */
const START_MS = 60_000;
/** One Atomics.wait of a blocked trainer (ms); the timeouts above count these. */
const WAIT_MS = 100;

/** Can this thread block in Atomics.wait? (A browser's main thread cannot: it spins instead.) */
let canBlock: boolean | undefined;
function blocking(): boolean {
  if (canBlock === undefined) {
    try {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
      canBlock = true;
    } catch {
      canBlock = false;
    }
  }
  return canBlock;
}

/** Is shared memory usable here (Node; a cross-origin-isolated page)? */
export function sharedMemoryAvailable(): boolean {
  if (typeof SharedArrayBuffer !== "function" || typeof Atomics !== "object")
    return false;
  const g = globalThis as { crossOriginIsolated?: boolean };
  return g.crossOriginIsolated !== false;
}

export class ThreadPool<A extends Buf> {
  /** Buffers of thread i (index 0 is unused: thread 0 is the trainer's own). */
  readonly params: A[] = [];
  readonly inputs: A[] = [];
  readonly arena: A[] = [];
  readonly grads: A[] = [];
  private readonly ctl: Int32Array[] = [];
  private readonly ctlBuffers: SharedArrayBuffer[] = [];
  private readonly handles: ThreadHandle[] = [];
  private readonly seq: Int32Array;
  /** The trainer's spin budget (loads) waiting for thread i. */
  private readonly spin: Int32Array;
  private started = false;
  private closed = false;
  /** With a split update: the trainer's own share (range 0). */
  readonly part0: SplitPart | undefined;

  constructor(
    readonly layout: Layout,
    readonly threads: number,
    spawn: SpawnThread,
    f64: boolean,
    split?: SplitOptions,
  ) {
    this.seq = new Int32Array(threads);
    this.spin = new Int32Array(threads).fill(SPIN_MAX);
    this.params.length =
      this.inputs.length =
      this.arena.length =
      this.grads.length =
        1;
    const mem = layout.memory;
    const inits: ThreadInit[] = [];
    const memories: WebAssembly.Memory[] = split ? [split.memory] : [];
    try {
      for (let i = 1; i < threads; i++) {
        const ctlBuffer = new SharedArrayBuffer(MSG + MSG_BYTES);
        const sizes = [
          layout.paramSize,
          layout.inputSize,
          layout.arenaSize,
        ] as const;
        let init: ThreadInit;
        let bufs: { params: Buf; inputs: Buf; arena: Buf; grads: Buf };
        if (mem) {
          const memory = new WebAssembly.Memory({
            initial: mem.pages,
            maximum: mem.pages,
            shared: true,
          });
          if (split) memories.push(memory);
          const b = memory.buffer;
          bufs = {
            params: new Float32Array(b, mem.params, layout.paramSize),
            inputs: new Float32Array(b, mem.inputs, layout.inputSize),
            arena: new Float32Array(b, mem.arena, layout.arenaSize),
            grads: new Float32Array(b, mem.grads, layout.paramSize),
          };
          init = {
            kind: "gradc-thread",
            model: layout.name,
            paramSize: layout.paramSize,
            memory,
            sizes,
            ctl: ctlBuffer,
          };
        } else {
          const bytes =
            (2 * layout.paramSize + layout.inputSize + layout.arenaSize) *
            (f64 ? 8 : 4);
          const buffer = new SharedArrayBuffer(bytes);
          bufs = sharedViews(buffer, f64, sizes);
          init = {
            kind: "gradc-thread",
            model: layout.name,
            paramSize: layout.paramSize,
            buffer,
            f64,
            sizes,
            ctl: ctlBuffer,
          };
        }
        this.params.push(bufs.params as A);
        this.inputs.push(bufs.inputs as A);
        this.arena.push(bufs.arena as A);
        this.grads.push(bufs.grads as A);
        this.ctl.push(new Int32Array(ctlBuffer, 0, CTL_INTS));
        this.ctlBuffers.push(ctlBuffer);
        inits.push(init);
      }
      this.part0 = split
        ? new SplitPart(memories, layout, 0, split.kernels, split.update, split.mean)
        : undefined;
      inits.forEach((init, i) =>
        this.handles.push(
          spawn(
            split
              ? { ...init, split: { memories, thread: i + 1, update: split.update, mean: split.mean } }
              : init,
          ),
        ),
      );
    } catch (e) {
      this.close();
      if (e instanceof RuntimeError) throw e;
      throw new RuntimeError(
        "E_THREAD",
        `threads: cannot start ${threads - 1} training thread(s): ${(e as Error).message}`,
        { cause: e },
      );
    }
  }

  /** The message a thread wrote, as an E_THREAD error. */
  private failure(i: number, what: string): RuntimeError {
    const ctl = this.ctl[i - 1]!;
    const len = Math.min(Atomics.load(ctl, CTL.LEN), MSG_BYTES);
    const text = new TextDecoder().decode(
      new Uint8Array(this.ctlBuffers[i - 1]!, MSG, len).slice(),
    );
    return new RuntimeError(
      "E_THREAD",
      `training thread ${i} of ${this.threads} ${what}: ${text}`,
    );
  }

  /** Waits until ctl[slot] !== value, at most `ms`; false on timeout. */
  private waitWhile(
    ctl: Int32Array,
    slot: number,
    value: number,
    ms: number,
  ): boolean {
    if (blocking()) {
      // Smi timeouts and no clock: a double passed to Atomics.wait is boxed, and a step allocates nothing
      for (let waited = 0; Atomics.load(ctl, slot) === value; )
        if (Atomics.wait(ctl, slot, value, WAIT_MS) === "timed-out" && (waited += WAIT_MS) >= ms) return false;
      return true;
    }
    // a page's main thread cannot block: it spins, looking at the clock now and then
    const until = performance.now() + ms;
    let spins = 0;
    while (Atomics.load(ctl, slot) === value)
      if ((++spins & 0xffff) === 0 && performance.now() > until) return false;
    return true;
  }

  /** Have all threads started (loaded the module)? Throws E_THREAD for one that failed. */
  isReady(): boolean {
    if (this.started) return true;
    for (let i = 1; i < this.threads; i++) {
      const r = Atomics.load(this.ctl[i - 1]!, CTL.READY);
      if (r === 2) throw this.close(this.failure(i, "did not start"));
      if (r !== 1) return false;
    }
    this.started = true;
    return true;
  }

  /** Waits (blocking) until every thread has started. */
  private ensureStarted(): void {
    if (this.closed)
      throw new RuntimeError(
        "E_THREAD",
        "this trainer's threads are closed (trainer.close()); create a new trainer to train on threads again",
      );
    if (this.isReady()) return;
    for (let i = 1; i < this.threads; i++)
      if (!this.waitWhile(this.ctl[i - 1]!, CTL.READY, 0, START_MS))
        throw this.close(
          new RuntimeError(
            "E_THREAD",
            `training thread ${i} of ${this.threads} did not start within ${START_MS / 1000} s` +
              (blocking()
                ? ""
                : " (in a page, await trainer.ready() or use fitAsync: a blocked page cannot start its workers)"),
          ),
        );
    this.isReady();
  }

  /**
   * Starts thread i: on its chunk of n rows (OP.STEP; its inputs, and without a split update its params, already
   * written), or on its range of a split update of n rows (OP.REDUCE, OP.UPDATE).
   */
  start(i: number, n: number, op: number = OP.STEP): void {
    if (i === 1 && op === OP.STEP) this.ensureStarted();
    const ctl = this.ctl[i - 1]!;
    Atomics.store(ctl, CTL.N, n);
    Atomics.store(ctl, CTL.OP, op);
    this.seq[i] = Atomics.add(ctl, CTL.CMD, 1) + 1;
    Atomics.notify(ctl, CTL.CMD);
  }

  /** Waits for thread i's step; E_THREAD (and the threads closed) when it threw. */
  finish(i: number): void {
    const ctl = this.ctl[i - 1]!;
    const want = this.seq[i]!;
    // DONE goes from the last command's number to this one's; spin first, adaptively (runtime/worker.ts)
    const caught = spinWhile(ctl, CTL.DONE, want - 1, this.spin[i]!);
    this.spin[i] = nextSpin(this.spin[i]!, caught);
    for (;;) {
      const done = Atomics.load(ctl, CTL.DONE);
      if (done === want) break;
      if (done === DEAD) throw this.close(this.failure(i, "died"));
      if (!this.waitWhile(ctl, CTL.DONE, done, START_MS))
        throw this.close(
          new RuntimeError(
            "E_THREAD",
            `training thread ${i} of ${this.threads} did not finish its step within ${START_MS / 1000} s`,
          ),
        );
    }
    if (Atomics.load(ctl, CTL.STATUS) !== 0)
      throw this.close(this.failure(i, "failed its step"));
  }

  /** After OP.REDUCE: is thread i's range of the gradient finite? */
  finite(i: number): boolean {
    return Atomics.load(this.ctl[i - 1]!, CTL.FLAG) === 1;
  }

  /** Ends every thread; returns `err` for `throw pool.close(err)`. Safe to call twice. */
  close<E>(err?: E): E {
    if (!this.closed) {
      this.closed = true;
      for (const ctl of this.ctl) {
        Atomics.store(ctl, CTL.OP, OP.QUIT);
        Atomics.add(ctl, CTL.CMD, 1);
        Atomics.notify(ctl, CTL.CMD);
      }
      for (const h of this.handles) h.terminate();
    }
    return err as E;
  }

  get isClosed(): boolean {
    return this.closed;
  }
}
