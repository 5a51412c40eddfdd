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
 * With a constant lr, momentum's form equals Rumelhart, Hinton & Williams'
 * Δw(t) = -ε ∂E/∂w + α Δw(t-1) (there v = -Δw / ε).
 *
 * Coupled L2 (adding λ w to the gradient) is the trainer's `l2` option and
 * works with every optimizer; AdamW's `weightDecay` is the decoupled kind,
 * which for Adam is not the same thing (the adaptive scaling would shrink it).
 */
import type { LearningRate, Schedule } from "./schedule.ts";
import { type ArrayCtor, type Buf, RuntimeError } from "./types.ts";

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
  /** One update of `params` in place from `grads`; allocates nothing. */
  update(params: A, grads: A): void;
  /** Zeroes the state and the step. */
  reset(): void;
}

/** How the trainer binds an optimizer to a model. */
export interface CreateOptions<A extends Buf> {
  /** The [start, end) element ranges weight decay applies to (AdamW only; default: all). */
  decay?: Int32Array;
  Array?: ArrayCtor<A>;
  /**
   * The model's own plain-SGD update, p -= lr g (a generated module's `sgd`: a wasm SIMD loop in float32
   * when the module has wasm kernels). Plain SGD runs it instead of its JS loop; the others ignore it.
   */
  sgdKernel?: (params: A, grads: A, lr: number) => void;
}

/** What `sgd(...)`, `adam(...)` … return: checked options, bound to a model by the trainer. */
export interface OptimizerSpec {
  readonly kind: OptimizerKind;
  readonly options: Readonly<Record<string, number | boolean | string>>;
  /**
   * Binds to `size` parameters. `decay` lists the [start, end) element ranges
   * that weight decay applies to (AdamW only; default: all).
   */
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

abstract class Base<A extends Buf> implements Optimizer<A> {
  step = 0;
  abstract readonly kind: OptimizerKind;
  abstract readonly state: Readonly<Record<string, A>>;
  /** The constant rate (NaN with a schedule). */
  private readonly fixed: number;
  private readonly schedule: Schedule | undefined;
  constructor(
    readonly size: number,
    readonly options: Readonly<Record<string, number | boolean | string>>,
    rate: LearningRate,
  ) {
    // Kept apart, not as one `number | function` field: a value that may be either is held
    // boxed, and a schedule's result would then be boxed — one heap number per step.
    this.fixed = typeof rate === "number" ? rate : NaN;
    this.schedule = typeof rate === "number" ? undefined : rate;
  }
  /** The current step's rate, for `update` (a slot, not a return value: a returned double may be boxed). */
  protected readonly rateNow = new Float64Array(1);
  lr(): number {
    return this.lrAt(this.step);
  }
  /** Puts the rate of the coming update into `rateNow[0]`. */
  protected prepareRate(): void {
    const schedule = this.schedule;
    if (schedule === undefined) {
      this.rateNow[0] = this.fixed;
      return;
    }
    const lr = schedule(this.step);
    if (!(lr >= 0 && lr < Infinity)) badRate(this.kind, lr, this.step);
    this.rateNow[0] = lr;
  }
  lrAt(step: number): number {
    const schedule = this.schedule;
    if (schedule === undefined) return this.fixed;
    const lr = schedule(step);
    if (!(lr >= 0 && lr < Infinity)) badRate(this.kind, lr, step);
    return lr;
  }
  abstract update(params: A, grads: A): void;
  reset(): void {
    this.step = 0;
    for (const k in this.state) this.state[k]!.fill(0);
  }
}

class Sgd<A extends Buf> extends Base<A> {
  readonly kind = "sgd";
  readonly state: Readonly<Record<string, A>> = {};
  constructor(
    size: number,
    options: Record<string, number | boolean | string>,
    rate: LearningRate,
    private readonly kernel: ((params: A, grads: A, lr: number) => void) | undefined,
  ) {
    super(size, options, rate);
  }
  update(p: A, g: A): void {
    this.prepareRate();
    const lr = this.rateNow[0]!;
    const kernel = this.kernel;
    if (kernel !== undefined) kernel(p, g, lr);
    else {
      const n = this.size;
      for (let i = 0; i < n; i++) p[i] -= lr * g[i]!;
    }
    this.step++;
  }
}

class Momentum<A extends Buf> extends Base<A> {
  readonly kind = "momentum";
  readonly state: { readonly velocity: A };
  constructor(
    size: number,
    options: Record<string, number | boolean | string>,
    rate: LearningRate,
    private readonly mu: number,
    private readonly nesterov: boolean,
    Arr: ArrayCtor<A>,
  ) {
    super(size, options, rate);
    this.state = { velocity: new Arr(size) };
  }
  update(p: A, g: A): void {
    this.prepareRate();
    const lr = this.rateNow[0]!;
    const mu = this.mu;
    const v = this.state.velocity;
    const n = this.size;
    if (this.nesterov) {
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
    this.step++;
  }
}

class Adagrad<A extends Buf> extends Base<A> {
  readonly kind = "adagrad";
  readonly state: { readonly sumSquares: A };
  constructor(size: number, options: Record<string, number | boolean | string>, rate: LearningRate, private readonly eps: number, Arr: ArrayCtor<A>) {
    super(size, options, rate);
    this.state = { sumSquares: new Arr(size) };
  }
  update(p: A, g: A): void {
    this.prepareRate();
    const lr = this.rateNow[0]!;
    const eps = this.eps;
    const s = this.state.sumSquares;
    const n = this.size;
    for (let i = 0; i < n; i++) {
      const gi = g[i]!;
      s[i] += gi * gi;
      p[i] -= (lr * gi) / (Math.sqrt(s[i]!) + eps);
    }
    this.step++;
  }
}

class Rmsprop<A extends Buf> extends Base<A> {
  readonly kind = "rmsprop";
  readonly state: { readonly meanSquare: A };
  constructor(
    size: number,
    options: Record<string, number | boolean | string>,
    rate: LearningRate,
    private readonly rho: number,
    private readonly eps: number,
    Arr: ArrayCtor<A>,
  ) {
    super(size, options, rate);
    this.state = { meanSquare: new Arr(size) };
  }
  update(p: A, g: A): void {
    this.prepareRate();
    const lr = this.rateNow[0]!;
    const rho = this.rho;
    const eps = this.eps;
    const s = this.state.meanSquare;
    const n = this.size;
    for (let i = 0; i < n; i++) {
      const gi = g[i]!;
      s[i] = rho * s[i]! + (1 - rho) * gi * gi;
      p[i] -= (lr * gi) / (Math.sqrt(s[i]!) + eps);
    }
    this.step++;
  }
}

class Adam<A extends Buf> extends Base<A> {
  readonly kind: "adam" | "adamw";
  readonly state: { readonly m: A; readonly v: A };
  constructor(
    size: number,
    options: Record<string, number | boolean | string>,
    rate: LearningRate,
    private readonly beta1: number,
    private readonly beta2: number,
    private readonly eps: number,
    /** λ > 0: AdamW over the `decay` ranges. */
    private readonly weightDecay: number,
    private readonly decay: Int32Array,
    Arr: ArrayCtor<A>,
  ) {
    super(size, options, rate);
    this.kind = weightDecay > 0 || options.weightDecay !== undefined ? "adamw" : "adam";
    this.state = { m: new Arr(size), v: new Arr(size) };
  }
  update(p: A, g: A): void {
    this.prepareRate();
    const lr = this.rateNow[0]!;
    if (this.weightDecay > 0) {
      // Decoupled decay first, as PyTorch's AdamW does: the Adam step below does not read p.
      const keep = 1 - lr * this.weightDecay;
      const d = this.decay;
      for (let r = 0; r < d.length; r += 2) for (let i = d[r]!, end = d[r + 1]!; i < end; i++) p[i] *= keep;
    }
    const b1 = this.beta1;
    const b2 = this.beta2;
    const t = this.step + 1;
    const a = lr / (1 - Math.pow(b1, t)); // η / (1 - β1^t): m̂ = m / (1 - β1^t)
    const c = 1 / (1 - Math.pow(b2, t)); // v̂ = v c
    const eps = this.eps;
    const m = this.state.m;
    const v = this.state.v;
    const n = this.size;
    for (let i = 0; i < n; i++) {
      const gi = g[i]!;
      m[i] = b1 * m[i]! + (1 - b1) * gi;
      v[i] = b2 * v[i]! + (1 - b2) * gi * gi;
      p[i] -= (a * m[i]!) / (Math.sqrt(v[i]! * c) + eps);
    }
    this.step++;
  }
}

const F32 = Float32Array as unknown as ArrayCtor<Float32Array>;
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

/** Plain gradient descent: p -= lr g. */
export function sgd(opts: SgdOptions): OptimizerSpec {
  const lr = lrOption("sgd", opts?.lr);
  const options = { lr: lrLabel(lr) };
  return {
    kind: "sgd",
    options,
    create: <A extends Buf>(size: number, o: CreateOptions<A> = {}) => new Sgd<A>(sizeOf("sgd", size), options, lr, o.sgdKernel),
  };
}

/** Heavy-ball momentum (default μ = 0.9), or Nesterov's with `nesterov: true`. */
export function momentum(opts: MomentumOptions): OptimizerSpec {
  const lr = lrOption("momentum", opts?.lr);
  const mu = unit("momentum", "momentum", opts.momentum ?? 0.9);
  const nesterov = opts.nesterov ?? false;
  const options = { lr: lrLabel(lr), momentum: mu, nesterov };
  return {
    kind: "momentum",
    options,
    create: <A extends Buf>(size: number, o: { Array?: ArrayCtor<A> } = {}) =>
      new Momentum<A>(sizeOf("momentum", size), options, lr, mu, nesterov, o.Array ?? (F32 as unknown as ArrayCtor<A>)),
  };
}

/** Nesterov momentum: `momentum({ ...opts, nesterov: true })`. */
export const nesterov = (opts: Omit<MomentumOptions, "nesterov">): OptimizerSpec => momentum({ ...opts, nesterov: true });

/** AdaGrad: per-parameter rates shrinking with the summed squared gradients. */
export function adagrad(opts: AdagradOptions): OptimizerSpec {
  const lr = lrOption("adagrad", opts?.lr);
  const eps = pos("adagrad", "eps", opts.eps ?? 1e-10);
  const options = { lr: lrLabel(lr), eps };
  return {
    kind: "adagrad",
    options,
    create: <A extends Buf>(size: number, o: { Array?: ArrayCtor<A> } = {}) =>
      new Adagrad<A>(sizeOf("adagrad", size), options, lr, eps, o.Array ?? (F32 as unknown as ArrayCtor<A>)),
  };
}

/** RMSprop: per-parameter rates from a running mean of squared gradients. */
export function rmsprop(opts: RmspropOptions): OptimizerSpec {
  const lr = lrOption("rmsprop", opts?.lr);
  const rho = unit("rmsprop", "rho", opts.rho ?? 0.9);
  const eps = pos("rmsprop", "eps", opts.eps ?? 1e-8);
  const options = { lr: lrLabel(lr), rho, eps };
  return {
    kind: "rmsprop",
    options,
    create: <A extends Buf>(size: number, o: { Array?: ArrayCtor<A> } = {}) =>
      new Rmsprop<A>(sizeOf("rmsprop", size), options, lr, rho, eps, o.Array ?? (F32 as unknown as ArrayCtor<A>)),
  };
}

function adamSpec(kind: "adam" | "adamw", opts: AdamWOptions): OptimizerSpec {
  const lr = lrOption(kind, opts?.lr);
  const beta1 = unit(kind, "beta1", opts.beta1 ?? 0.9);
  const beta2 = unit(kind, "beta2", opts.beta2 ?? 0.999);
  const eps = pos(kind, "eps", opts.eps ?? 1e-8);
  const weightDecay = kind === "adamw" ? pos(kind, "weightDecay", opts.weightDecay ?? 0.01, true) : 0;
  const options = { lr: lrLabel(lr), beta1, beta2, eps, ...(kind === "adamw" ? { weightDecay } : {}) };
  return {
    kind,
    options,
    create: <A extends Buf>(size: number, o: { decay?: Int32Array; Array?: ArrayCtor<A> } = {}) => {
      const n = sizeOf(kind, size);
      return new Adam<A>(n, options, lr, beta1, beta2, eps, weightDecay, checkDecay(kind, n, o.decay), o.Array ?? (F32 as unknown as ArrayCtor<A>));
    },
  };
}

/** Adam with bias correction (defaults β1 0.9, β2 0.999, ε 1e-8). */
export const adam = (opts: AdamOptions): OptimizerSpec => adamSpec("adam", opts);

/** AdamW: Adam plus decoupled weight decay λ (default 0.01) on the weights (the trainer's weight rule, or `l2Params`). */
export const adamw = (opts: AdamWOptions): OptimizerSpec => adamSpec("adamw", opts);
