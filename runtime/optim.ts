/**
 * Optimizers. `adam({ lr: 1e-3 })` returns a spec — the options, checked —
 * and the trainer binds it to the model's parameter count once, which
 * preallocates the state (one array of paramSize per moment). `update` then
 * changes the parameters in place without allocating; `lr` may be a number
 * or a schedule of the step (runtime/schedule.ts). The rules, per element,
 * with g the gradient, η = lr(t) and t the updates made before this one:
 *
 *   sgd        p -= η g
 *   momentum   v = μ v + g;  p -= η v                     (heavy ball, PyTorch's form)
 *     nesterov v = μ v + g;  p -= η (g + μ v)             (Sutskever et al. 2013, as PyTorch writes it)
 *   adagrad    s += g²;  p -= η g / (√s + ε)              (Duchi et al. 2011)
 *   rmsprop    s = ρ s + (1-ρ) g²;  p -= η g / (√s + ε)    (Hinton, lecture 6e)
 *   adam       m = β1 m + (1-β1) g;  v = β2 v + (1-β2) g²;
 *              p -= η m̂ / (√v̂ + ε),  m̂ = m / (1-β1^(t+1)),  v̂ = v / (1-β2^(t+1))   (Kingma & Ba 2015)
 *   adamw      p -= η λ p on the weights (decoupled decay), then adam (Loshchilov & Hutter 2019)
 *
 * Precision. For float32 parameters every operation rounds to float32 (the
 * loops write Math.fround where a Float32Array store does not already round):
 * an update is float32 arithmetic, as in PyTorch and TF.js, the rate and
 * hyperparameters rounded to float32 once. That makes these loops the exact
 * reference of a module's wasm kernels (compiler/emit/optimizers.ts), which
 * compute the same operations in f32x4 lanes: the trainer gives bit-identical
 * results with or without them. For float64 parameters the loops compute in
 * float64.
 *
 * With a constant lr, momentum's form equals Rumelhart, Hinton & Williams'
 * Δw(t) = -ε ∂E/∂w + α Δw(t-1) (there v = -Δw / ε).
 *
 * Coupled L2 (adding λ w to the gradient) is the trainer's `l2` option and
 * works with every optimizer; AdamW's `weightDecay` is the decoupled kind,
 * which for Adam is not the same thing (the adaptive scaling would shrink it).
 */
import type { LearningRate, Schedule, SlotSchedule } from "./schedule.ts";
import { type ArrayCtor, type Buf, type OptimizerKernels, nearest, RuntimeError } from "./types.ts";
export type { OptimizerKernels } from "./types.ts";

export type OptimizerKind = "sgd" | "momentum" | "adagrad" | "rmsprop" | "adam" | "adamw";

/** An optimizer bound to one parameter vector. */
export interface Optimizer<A extends Buf = Float32Array> {
  readonly kind: OptimizerKind;
  /** The options it was made with (numbers; lr as "schedule" when it is a function). */
  readonly options: Readonly<Record<string, number | boolean | string>>;
  /** Parameters it updates. */
  readonly size: number;
  /** Updates made so far: the schedule's argument for the next update. Saved in checkpoints. */
  step: number;
  /** State arrays by name (none for sgd): each `size` long, preallocated. Saved in checkpoints. */
  readonly state: Readonly<Record<string, A>>;
  /** The learning rate the next update uses: `lrAt(step)`. */
  lr(): number;
  /** The learning rate at update `step` (0-based). */
  lrAt(step: number): number;
  /**
   * One update of `params` in place from `grads`; allocates nothing. First the
   * coupled L2 term when bound with `l2` (grads += λ params over the `decay`
   * ranges), then the finiteness check: when an element of `grads` is
   * ±Infinity or NaN it returns false and changes nothing else (no update, no
   * step); otherwise it updates and returns true.
   */
  update(params: A, grads: A): boolean;
  /** Zeroes the state and the step. */
  reset(): void;
  /**
   * On the module's kernels: the kernel calls of an update, which threads make over ranges of the parameters
   * (runtime/threads.ts: `prepare()`, then `checkRange` on every range, then `updateRange` on every range, then
   * `advance()` — the same bits as `update`). Undefined for the JS loops (and optional, with `prepare` and
   * `advance`, for an optimizer written elsewhere: without them the trainer's thread makes the whole update).
   */
  readonly ranged?: RangeUpdate | undefined;
  /** Writes the coming update's rate and scalars (what `update` does first); throws for a bad scheduled rate. */
  prepare?(): void;
  /** Counts an update made through `updateRange` (what `update` does last). */
  advance?(): void;
}

/** A rule's kernel in a module's `OptimizerKernels`. */
export type RuleKernel = "opt_sgd" | "opt_momentum" | "opt_nesterov" | "opt_adagrad" | "opt_rmsprop" | "opt_adam";

/** The kernel calls of one update, as data a training thread can make over its own range. */
export interface RangeUpdate {
  readonly rule: RuleKernel;
  /** [start, end) element ranges of the coupled L2 term (empty without `l2`). */
  readonly l2: Int32Array;
  /** [start, end) element ranges of AdamW's decoupled decay (empty otherwise). */
  readonly decay: Int32Array;
  /**
   * The decay runs inside the rule (`opt_adamw` over the decay ranges, the rule elsewhere): every range boundary is
   * a multiple of 4 or the end, so the pieces start on vectors. Otherwise opt_decay runs first. The same bits either way.
   */
  readonly fused: boolean;
}

/** Calls `f(a, b)` for each of `ranges` clipped to [from, to). */
function clipped(ranges: Int32Array, from: number, to: number, f: (a: number, b: number) => void): void {
  for (let r = 0; r < ranges.length; r += 2) {
    const a = Math.max(ranges[r]!, from);
    const b = Math.min(ranges[r + 1]!, to);
    if (a < b) f(a, b);
  }
}

/** An update's first half over [from, to) (from a multiple of 4): the L2 term into the gradient, then its finiteness check. */
export function checkRange(k: OptimizerKernels, u: RangeUpdate, from: number, to: number): boolean {
  if (u.l2.length > 0) clipped(u.l2, from, to, k.opt_l2);
  return k.opt_check(from, to) === 1;
}

/** An update's second half over [from, to), once every range's check passed: the decoupled decay, then the rule. */
export function updateRange(k: OptimizerKernels, u: RangeUpdate, from: number, to: number): void {
  const d = u.decay;
  if (d.length === 0) return k[u.rule](from, to);
  if (!u.fused) {
    clipped(d, from, to, k.opt_decay);
    return k[u.rule](from, to);
  }
  // the pieces of [from, to) between the (sorted, disjoint) decay ranges with the rule, the ranges with opt_adamw
  let at = from;
  for (let r = 0; r < d.length && at < to; r += 2) {
    const a = Math.max(d[r]!, at);
    const b = Math.min(d[r + 1]!, to);
    if (a >= b) continue;
    if (at < a) k[u.rule](at, a);
    k.opt_adamw!(a, b);
    at = b;
  }
  if (at < to) k[u.rule](at, to);
}

/** Can the decay run inside the rule (`RangeUpdate.fused`)? Sorted, disjoint ranges on vector boundaries (or the end). */
function fusable(k: OptimizerKernels, decay: Int32Array, size: number): boolean {
  if (typeof k.opt_adamw !== "function") return false; // a module from a gradc without it
  for (let r = 0; r < decay.length; r++) {
    const x = decay[r]!;
    if ((x % 4 !== 0 && x !== size) || (r > 0 && x < decay[r - 1]!)) return false;
  }
  return true;
}

/**
 * A module's optimizer kernels (a generated module's `optimizerKernels(params)`:
 * wasm SIMD loops over its memory, bit-for-bit the JS loops here) with the views
 * they read: the float64 scalars and the two state vectors at `layout.memory.state`.
 */
export interface WasmUpdate {
  readonly kernels: OptimizerKernels;
  readonly scalars: Float32Array;
  readonly state: readonly [Float32Array, Float32Array];
}

/** The kernels' scalar slots (compiler/lower/optimizer-state.ts has the same table; test/emit/optimizers.test.ts holds them together). */
const SLOT = { lr: 0, mu: 1, oneMinusMu: 2, beta2: 3, oneMinusBeta2: 4, eps: 5, a: 6, c: 7, keep: 8, l2: 9 } as const;

/** The views of a module's optimizer region, or undefined for a module without one (JS modules: the JS loops run). */
export function wasmUpdate(layout: { readonly paramSize: number; readonly memory?: { readonly state?: number } }, kernels: OptimizerKernels | undefined, buffer: ArrayBufferLike): WasmUpdate | undefined {
  const at = layout.memory?.state;
  if (at === undefined || kernels === undefined) return undefined;
  const s1 = at + 128;
  const s2 = s1 + Math.ceil((layout.paramSize * 4) / 16) * 16;
  return {
    kernels,
    scalars: new Float32Array(buffer, at, 32),
    state: [new Float32Array(buffer, s1, layout.paramSize), new Float32Array(buffer, s2, layout.paramSize)],
  };
}

/** How the trainer binds an optimizer to a model. */
export interface CreateOptions<A extends Buf> {
  /** The [start, end) element ranges that `l2` and AdamW's weight decay apply to (default: all). */
  decay?: Int32Array;
  /** Coupled L2 λ: every update first adds λ p to the gradient over the `decay` ranges. Default 0. */
  l2?: number;
  Array?: ArrayCtor<A>;
  /**
   * The module's wasm kernels over its memory (float32 modules with wasm kernels): the update, L2 and the
   * check run there, with the state in the module's memory; results are bit-for-bit those of the JS loops.
   */
  wasm?: WasmUpdate;
}

/** What `sgd(...)`, `adam(...)` … return: checked options, bound to a model by the trainer. */
export interface OptimizerSpec {
  readonly kind: OptimizerKind;
  readonly options: Readonly<Record<string, number | boolean | string>>;
  /** Binds to `size` parameters (see `CreateOptions`). */
  create<A extends Buf = Float32Array>(size: number, opts?: CreateOptions<A>): Optimizer<A>;
}

export interface SgdOptions {
  lr: LearningRate;
}
export interface MomentumOptions {
  lr: LearningRate;
  /** μ in [0, 1). Default 0.9. */
  momentum?: number;
  /** Nesterov's look-ahead form. Default false. */
  nesterov?: boolean;
}
export interface AdagradOptions {
  lr: LearningRate;
  /** Default 1e-10. */
  eps?: number;
}
export interface RmspropOptions {
  lr: LearningRate;
  /** ρ, the decay of the squared-gradient average, in [0, 1). Default 0.9. */
  rho?: number;
  /** Default 1e-8. */
  eps?: number;
}
export interface AdamOptions {
  lr: LearningRate;
  /** Default 0.9. */
  beta1?: number;
  /** Default 0.999. */
  beta2?: number;
  /** Default 1e-8. */
  eps?: number;
}
export interface AdamWOptions extends AdamOptions {
  /** λ, decoupled weight decay per unit lr. Default 0.01. */
  weightDecay?: number;
}

// ---- option checks ------------------------------------------------------------------


/** The options object of `kind`: an object whose every key is one of `known` (a misspelling names the nearest). */
function known(kind: string, opts: unknown, names: readonly string[]): void {
  if (typeof opts !== "object" || opts === null) throw new RuntimeError("E_ARG", `${kind}: pass the options as an object, e.g. ${kind}({ lr: 0.01 })`);
  for (const key of Object.keys(opts))
    if (!names.includes(key)) {
      const near = nearest(key, names);
      throw new RuntimeError("E_ARG", `${kind}: unknown option '${key}' — did you mean '${near}'? (options: ${names.join(", ")})`);
    }
}

function lrOption(kind: string, lr: unknown): LearningRate {
  if (typeof lr === "function") return lr as Schedule;
  if (typeof lr === "number" && Number.isFinite(lr) && lr >= 0) return lr;
  throw new RuntimeError("E_ARG", `${kind}: lr must be a finite number >= 0 or a schedule (step) => lr, got ${String(lr)}`);
}
function unit(kind: string, name: string, v: number): number {
  if (!(Number.isFinite(v) && v >= 0 && v < 1)) throw new RuntimeError("E_ARG", `${kind}: ${name} must be in [0, 1), got ${v}`);
  return v;
}
function pos(kind: string, name: string, v: number, zero = false): number {
  if (!(Number.isFinite(v) && (zero ? v >= 0 : v > 0)))
    throw new RuntimeError("E_ARG", `${kind}: ${name} must be a ${zero ? "non-negative" : "positive"} finite number, got ${v}`);
  return v;
}
function sizeOf(kind: string, size: number): number {
  if (!(Number.isInteger(size) && size >= 0)) throw new RuntimeError("E_ARG", `${kind}: size must be a whole number, got ${size}`);
  return size;
}

// ---- the optimizers -----------------------------------------------------------------

function badRate(kind: string, lr: number, step: number): never {
  throw new RuntimeError("E_ARG", `${kind}: the lr schedule returned ${lr} at step ${step}; it must be a finite number >= 0`);
}

/** What every optimizer is bound with: its size, options, rate, and the common create options resolved. */
interface Bound<A extends Buf> {
  readonly size: number;
  readonly options: Readonly<Record<string, number | boolean | string>>;
  readonly rate: LearningRate;
  readonly decay: Int32Array;
  readonly l2: number;
  readonly Arr: ArrayCtor<A>;
  readonly wasm: WasmUpdate | undefined;
}

abstract class Base<A extends Buf> implements Optimizer<A> {
  step = 0;
  abstract readonly kind: OptimizerKind;
  abstract readonly state: Readonly<Record<string, A>>;
  readonly size: number;
  readonly options: Readonly<Record<string, number | boolean | string>>;
  /** The constant rate (NaN with a schedule). */
  private readonly fixed: number;
  private readonly schedule: Schedule | undefined;
  /** The schedule's `writeRate` when it has one (the built-ins): the rate stored, not returned. */
  private readonly writeRate: SlotSchedule["writeRate"] | undefined;
  protected readonly decay: Int32Array;
  private readonly l2: number;
  protected readonly wasm: WasmUpdate | undefined;
  /**
   * The rate and hyperparameters by `SLOT`: the kernels' scalars in the module's memory, else an array of
   * the parameters' precision (float32 optimizers compute in float32: see the file comment).
   */
  protected readonly S: Float32Array | Float64Array;
  /** Float32 parameters: every operation of the JS loops rounds to float32, as the kernels' lanes do. */
  protected readonly f32: boolean;
  abstract readonly rule: RuleKernel;
  private rangedUpdate: RangeUpdate | undefined;
  constructor(b: Bound<A>) {
    this.size = b.size;
    this.options = b.options;
    // Kept apart, not as one `number | function` field: a value that may be either is held
    // boxed, and a schedule's result would then be boxed — one heap number per step.
    this.fixed = typeof b.rate === "number" ? b.rate : NaN;
    this.schedule = typeof b.rate === "number" ? undefined : b.rate;
    const w = (this.schedule as Partial<SlotSchedule> | undefined)?.writeRate;
    this.writeRate = typeof w === "function" ? w : undefined;
    this.decay = b.decay;
    this.l2 = b.l2;
    this.wasm = b.wasm;
    this.f32 = (b.Arr as unknown) === Float32Array;
    this.S = b.wasm?.scalars ?? (this.f32 ? new Float32Array(32) : new Float64Array(32));
    this.S[SLOT.l2] = b.l2;
  }
  /** State vector k: a view of the module's memory with kernels, else a fresh array. */
  protected vector(b: Bound<A>, k: 0 | 1): A {
    if (b.wasm) {
      b.wasm.state[k].fill(0);
      return b.wasm.state[k] as unknown as A;
    }
    return new b.Arr(b.size);
  }
  lr(): number {
    return this.lrAt(this.step);
  }
  /** Puts the rate of the coming update into S[lr] (a slot, not a return value: a returned double may be boxed). */
  private prepareRate(): void {
    const schedule = this.schedule;
    const S = this.S;
    if (schedule === undefined) {
      S[SLOT.lr] = this.fixed;
      return;
    }
    const write = this.writeRate;
    if (write !== undefined) write(this.step, S, SLOT.lr);
    else S[SLOT.lr] = schedule(this.step);
    const lr = S[SLOT.lr]!;
    if (!(lr >= 0 && lr < Infinity)) badRate(this.kind, schedule(this.step), this.step);
  }
  lrAt(step: number): number {
    const schedule = this.schedule;
    if (schedule === undefined) return this.fixed;
    const lr = schedule(step);
    if (!(lr >= 0 && lr < Infinity)) badRate(this.kind, lr, step);
    return lr;
  }
  get ranged(): RangeUpdate | undefined {
    if (this.wasm === undefined) return undefined;
    // made once: this getter runs every step
    if (this.rangedUpdate === undefined) {
      const decay = this.decoupled() ? this.decay : new Int32Array(0);
      this.rangedUpdate = {
        rule: this.rule,
        l2: this.l2 > 0 ? this.decay : new Int32Array(0),
        decay,
        fused: decay.length > 0 && this.rule === "opt_adam" && fusable(this.wasm.kernels, decay, this.size),
      };
    }
    return this.rangedUpdate;
  }
  /** AdamW: the decoupled decay runs before the rule. */
  protected decoupled(): boolean {
    return false;
  }
  prepare(): void {
    this.prepareRate();
    this.scalars();
  }
  /** The rule's per-step scalars beyond the rate (Adam's bias corrections), into S. */
  protected scalars(): void {}
  advance(): void {
    this.step++;
  }
  update(p: A, g: A): boolean {
    this.prepare();
    const d = this.decay;
    const l2 = this.l2;
    const wasm = this.wasm;
    if (wasm !== undefined) {
      const u = this.ranged!;
      if (!checkRange(wasm.kernels, u, 0, this.size)) return false;
      updateRange(wasm.kernels, u, 0, this.size);
    } else {
      if (l2 > 0) {
        const l = this.S[SLOT.l2]!; // λ in the parameters' precision
        if (this.f32) for (let r = 0; r < d.length; r += 2) for (let i = d[r]!, end = d[r + 1]!; i < end; i++) g[i] += fr(l * p[i]!);
        else for (let r = 0; r < d.length; r += 2) for (let i = d[r]!, end = d[r + 1]!; i < end; i++) g[i] += l * p[i]!;
      }
      // x * 0 is 0 for finite x and NaN for ±Infinity and NaN: one sum finds any non-finite element.
      let bad = 0;
      const n = this.size;
      for (let i = 0; i < n; i++) bad += g[i]! * 0;
      if (bad !== 0) return false;
      this.js(p, g);
    }
    this.step++;
    return true;
  }
  /** The update as a JS loop (the reference), the rate and scalars in S. */
  protected abstract js(p: A, g: A): void;
  reset(): void {
    this.step = 0;
    for (const k in this.state) this.state[k]!.fill(0);
  }
}

class Sgd<A extends Buf> extends Base<A> {
  readonly kind = "sgd";
  readonly rule = "opt_sgd";
  readonly state: Readonly<Record<string, A>> = {};
  protected js(p: A, g: A): void {
    const lr = this.S[SLOT.lr]!;
    const n = this.size;
    if (this.f32) for (let i = 0; i < n; i++) p[i] -= fr(lr * g[i]!);
    else for (let i = 0; i < n; i++) p[i] -= lr * g[i]!;
  }
}

class Momentum<A extends Buf> extends Base<A> {
  readonly kind = "momentum";
  readonly state: { readonly velocity: A };
  constructor(
    b: Bound<A>,
    mu: number,
    private readonly nesterov: boolean,
  ) {
    super(b);
    this.state = { velocity: this.vector(b, 0) };
    this.S[SLOT.mu] = mu;
  }
  protected js(p: A, g: A): void {
    const lr = this.S[SLOT.lr]!;
    const mu = this.S[SLOT.mu]!;
    const v = this.state.velocity;
    const n = this.size;
    if (this.f32) {
      if (this.nesterov)
        for (let i = 0; i < n; i++) {
          const gi = g[i]!;
          v[i] = fr(mu * v[i]!) + gi;
          p[i] -= fr(lr * fr(gi + fr(mu * v[i]!)));
        }
      else
        for (let i = 0; i < n; i++) {
          v[i] = fr(mu * v[i]!) + g[i]!;
          p[i] -= fr(lr * v[i]!);
        }
    } else if (this.nesterov) {
      for (let i = 0; i < n; i++) {
        const gi = g[i]!;
        v[i] = mu * v[i]! + gi;
        p[i] -= lr * (gi + mu * v[i]!);
      }
    } else {
      for (let i = 0; i < n; i++) {
        v[i] = mu * v[i]! + g[i]!;
        p[i] -= lr * v[i]!;
      }
    }
  }
  get rule(): RuleKernel {
    return this.nesterov ? "opt_nesterov" : "opt_momentum";
  }
}

class Adagrad<A extends Buf> extends Base<A> {
  readonly kind = "adagrad";
  readonly rule = "opt_adagrad";
  readonly state: { readonly sumSquares: A };
  constructor(b: Bound<A>, eps: number) {
    super(b);
    this.state = { sumSquares: this.vector(b, 0) };
    this.S[SLOT.eps] = eps;
  }
  protected js(p: A, g: A): void {
    const lr = this.S[SLOT.lr]!;
    const eps = this.S[SLOT.eps]!;
    const s = this.state.sumSquares;
    const n = this.size;
    if (this.f32)
      for (let i = 0; i < n; i++) {
        const gi = g[i]!;
        s[i] += fr(gi * gi);
        p[i] -= fr(fr(lr * gi) / fr(fr(Math.sqrt(s[i]!)) + eps));
      }
    else
      for (let i = 0; i < n; i++) {
        const gi = g[i]!;
        s[i] += gi * gi;
        p[i] -= (lr * gi) / (Math.sqrt(s[i]!) + eps);
      }
  }
}

class Rmsprop<A extends Buf> extends Base<A> {
  readonly kind = "rmsprop";
  readonly rule = "opt_rmsprop";
  readonly state: { readonly meanSquare: A };
  constructor(b: Bound<A>, rho: number, eps: number) {
    super(b);
    this.state = { meanSquare: this.vector(b, 0) };
    this.S[SLOT.mu] = rho;
    this.S[SLOT.oneMinusMu] = 1 - rho;
    this.S[SLOT.eps] = eps;
  }
  protected js(p: A, g: A): void {
    const S = this.S;
    const lr = S[SLOT.lr]!;
    const rho = S[SLOT.mu]!;
    const rest = S[SLOT.oneMinusMu]!; // 1 - ρ
    const eps = S[SLOT.eps]!;
    const s = this.state.meanSquare;
    const n = this.size;
    if (this.f32)
      for (let i = 0; i < n; i++) {
        const gi = g[i]!;
        s[i] = fr(rho * s[i]!) + fr(fr(rest * gi) * gi);
        p[i] -= fr(fr(lr * gi) / fr(fr(Math.sqrt(s[i]!)) + eps));
      }
    else
      for (let i = 0; i < n; i++) {
        const gi = g[i]!;
        s[i] = rho * s[i]! + rest * gi * gi;
        p[i] -= (lr * gi) / (Math.sqrt(s[i]!) + eps);
      }
  }
}

class Adam<A extends Buf> extends Base<A> {
  readonly kind: "adam" | "adamw";
  readonly rule = "opt_adam";
  readonly state: { readonly m: A; readonly v: A };
  constructor(
    b: Bound<A>,
    beta1: number,
    beta2: number,
    eps: number,
    /** λ > 0: AdamW over the `decay` ranges. */
    private readonly weightDecay: number,
  ) {
    super(b);
    this.kind = weightDecay > 0 || b.options.weightDecay !== undefined ? "adamw" : "adam";
    this.state = { m: this.vector(b, 0), v: this.vector(b, 1) };
    const S = this.S;
    S[SLOT.mu] = beta1;
    S[SLOT.oneMinusMu] = 1 - beta1;
    S[SLOT.beta2] = beta2;
    S[SLOT.oneMinusBeta2] = 1 - beta2;
    S[SLOT.eps] = eps;
  }
  protected decoupled(): boolean {
    return this.weightDecay > 0;
  }
  /** The step's bias corrections and decay factor into S (the rate is in S[lr]). */
  protected scalars(): void {
    const S = this.S;
    const lr = S[SLOT.lr]!;
    const t = this.step + 1;
    S[SLOT.a] = lr / (1 - Math.pow(S[SLOT.mu]!, t)); // η / (1 - β1^t): m̂ = m / (1 - β1^t)
    S[SLOT.c] = 1 / (1 - Math.pow(S[SLOT.beta2]!, t)); // v̂ = v c
    S[SLOT.keep] = 1 - lr * this.weightDecay;
  }
  protected js(p: A, g: A): void {
    const S = this.S;
    if (this.weightDecay > 0) {
      // Decoupled decay first, as PyTorch's AdamW does: the Adam step below does not read p.
      const keep = S[SLOT.keep]!;
      const d = this.decay;
      for (let r = 0; r < d.length; r += 2) for (let i = d[r]!, end = d[r + 1]!; i < end; i++) p[i] *= keep;
    }
    const b1 = S[SLOT.mu]!;
    const rest1 = S[SLOT.oneMinusMu]!; // 1 - β1
    const b2 = S[SLOT.beta2]!;
    const rest2 = S[SLOT.oneMinusBeta2]!; // 1 - β2
    const a = S[SLOT.a]!;
    const c = S[SLOT.c]!;
    const eps = S[SLOT.eps]!;
    const m = this.state.m;
    const v = this.state.v;
    const n = this.size;
    if (this.f32)
      for (let i = 0; i < n; i++) {
        const gi = g[i]!;
        m[i] = fr(b1 * m[i]!) + fr(rest1 * gi);
        v[i] = fr(b2 * v[i]!) + fr(fr(rest2 * gi) * gi);
        p[i] -= fr(fr(a * m[i]!) / fr(fr(Math.sqrt(fr(v[i]! * c))) + eps));
      }
    else
      for (let i = 0; i < n; i++) {
        const gi = g[i]!;
        m[i] = b1 * m[i]! + rest1 * gi;
        v[i] = b2 * v[i]! + rest2 * gi * gi;
        p[i] -= (a * m[i]!) / (Math.sqrt(v[i]! * c) + eps);
      }
  }
}

const F32 = Float32Array as unknown as ArrayCtor<Float32Array>;
const fr = Math.fround;
const lrLabel = (lr: LearningRate) => (typeof lr === "number" ? lr : "schedule");
const allOf = (size: number) => Int32Array.of(0, size);

function checkDecay(kind: string, size: number, decay: Int32Array | undefined): Int32Array {
  if (!decay) return allOf(size);
  if (decay.length % 2 !== 0) throw new RuntimeError("E_ARG", `${kind}: decay must hold [start, end) pairs`);
  for (let r = 0; r < decay.length; r += 2)
    if (!(decay[r]! >= 0 && decay[r]! <= decay[r + 1]! && decay[r + 1]! <= size))
      throw new RuntimeError("E_ARG", `${kind}: decay range [${decay[r]}, ${decay[r + 1]}) is outside [0, ${size})`);
  return decay;
}

/** The create options resolved and checked. */
function bind<A extends Buf>(kind: string, size: number, options: Readonly<Record<string, number | boolean | string>>, rate: LearningRate, o: CreateOptions<A> = {}): Bound<A> {
  const n = sizeOf(kind, size);
  const l2 = o.l2 ?? 0;
  if (!(Number.isFinite(l2) && l2 >= 0)) throw new RuntimeError("E_ARG", `${kind}: l2 must be a finite number >= 0, got ${l2}`);
  if (o.wasm && (o.Array ?? F32) !== F32) throw new RuntimeError("E_ARG", `${kind}: the module's kernels update float32 parameters`);
  if (o.wasm && (o.wasm.state[0].length !== n || o.wasm.state[1].length !== n || o.wasm.scalars.length !== 32))
    throw new RuntimeError("E_ARG", `${kind}: the module's optimizer region does not hold ${n} parameters`);
  return { size: n, options, rate, decay: checkDecay(kind, n, o.decay), l2, Arr: o.Array ?? (F32 as unknown as ArrayCtor<A>), wasm: o.wasm };
}

/** Plain gradient descent: p -= lr g. */
export function sgd(opts: SgdOptions): OptimizerSpec {
  known("sgd", opts, ["lr"]);
  const lr = lrOption("sgd", opts?.lr);
  const options = { lr: lrLabel(lr) };
  return { kind: "sgd", options, create: <A extends Buf>(size: number, o?: CreateOptions<A>) => new Sgd<A>(bind("sgd", size, options, lr, o)) };
}

/** Heavy-ball momentum (default μ = 0.9), or Nesterov's with `nesterov: true`. */
export function momentum(opts: MomentumOptions): OptimizerSpec {
  known("momentum", opts, ["lr", "momentum", "nesterov"]);
  const lr = lrOption("momentum", opts?.lr);
  const mu = unit("momentum", "momentum", opts.momentum ?? 0.9);
  const nesterov = opts.nesterov ?? false;
  const options = { lr: lrLabel(lr), momentum: mu, nesterov };
  return {
    kind: "momentum",
    options,
    create: <A extends Buf>(size: number, o?: CreateOptions<A>) => new Momentum<A>(bind("momentum", size, options, lr, o), mu, nesterov),
  };
}

/** Nesterov momentum: `momentum({ ...opts, nesterov: true })`. */
export const nesterov = (opts: Omit<MomentumOptions, "nesterov">): OptimizerSpec => momentum({ ...opts, nesterov: true });

/** AdaGrad: per-parameter rates shrinking with the summed squared gradients. */
export function adagrad(opts: AdagradOptions): OptimizerSpec {
  known("adagrad", opts, ["lr", "eps"]);
  const lr = lrOption("adagrad", opts?.lr);
  const eps = pos("adagrad", "eps", opts.eps ?? 1e-10);
  const options = { lr: lrLabel(lr), eps };
  return { kind: "adagrad", options, create: <A extends Buf>(size: number, o?: CreateOptions<A>) => new Adagrad<A>(bind("adagrad", size, options, lr, o), eps) };
}

/** RMSprop: per-parameter rates from a running mean of squared gradients. */
export function rmsprop(opts: RmspropOptions): OptimizerSpec {
  known("rmsprop", opts, ["lr", "rho", "eps"]);
  const lr = lrOption("rmsprop", opts?.lr);
  const rho = unit("rmsprop", "rho", opts.rho ?? 0.9);
  const eps = pos("rmsprop", "eps", opts.eps ?? 1e-8);
  const options = { lr: lrLabel(lr), rho, eps };
  return {
    kind: "rmsprop",
    options,
    create: <A extends Buf>(size: number, o?: CreateOptions<A>) => new Rmsprop<A>(bind("rmsprop", size, options, lr, o), rho, eps),
  };
}

function adamSpec(kind: "adam" | "adamw", opts: AdamWOptions): OptimizerSpec {
  known(kind, opts, ["lr", "beta1", "beta2", "eps", ...(kind === "adamw" ? ["weightDecay"] : [])]);
  const lr = lrOption(kind, opts?.lr);
  const beta1 = unit(kind, "beta1", opts.beta1 ?? 0.9);
  const beta2 = unit(kind, "beta2", opts.beta2 ?? 0.999);
  const eps = pos(kind, "eps", opts.eps ?? 1e-8);
  const weightDecay = kind === "adamw" ? pos(kind, "weightDecay", opts.weightDecay ?? 0.01, true) : 0;
  const options = { lr: lrLabel(lr), beta1, beta2, eps, ...(kind === "adamw" ? { weightDecay } : {}) };
  return {
    kind,
    options,
    create: <A extends Buf>(size: number, o?: CreateOptions<A>) => new Adam<A>(bind(kind, size, options, lr, o), beta1, beta2, eps, weightDecay),
  };
}

/** Adam with bias correction (defaults β1 0.9, β2 0.999, ε 1e-8). */
export const adam = (opts: AdamOptions): OptimizerSpec => adamSpec("adam", opts);

/** AdamW: Adam plus decoupled weight decay λ (default 0.01) on the weights (the trainer's weight rule, or `l2Params`). */
export const adamw = (opts: AdamWOptions): OptimizerSpec => adamSpec("adamw", opts);
