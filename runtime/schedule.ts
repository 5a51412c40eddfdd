/**
 * Learning-rate schedules. A schedule is a plain function of the step — the
 * number of parameter updates made before this one (0 for the first) — so
 * any `(step) => lr` works:
 *
 *   adam({ lr: cosine({ lr: 1e-3, steps: 15 * 125 }) })
 *   sgd({ lr: (t) => (t < 100 ? 0.01 : 0.1) })          // a hand-written warm-up
 *
 * An epoch over N examples in batches of B is ceil(N / B) steps; write a
 * per-epoch schedule in those units. The optimizer calls the schedule once
 * per update; it must return a finite lr >= 0 and must not allocate (none of
 * these do).
 *
 * A call that returns a double V8 does not inline hands back a heap number —
 * one small allocation per step. The schedules here also carry `writeRate`,
 * which stores the rate into a typed-array slot instead of returning it; the
 * optimizers call that when it is there, so a built-in schedule allocates
 * nothing. A hand-written `(step) => lr` works the same, at that one boxed
 * number per step.
 */
import { RuntimeError } from "./types.ts";

/** lr as a function of the step (0-based count of updates already made). */
export type Schedule = (step: number) => number;

/** A learning rate: a constant or a schedule. */
export type LearningRate = number | Schedule;

/** A schedule that can also store its rate into `out[at]` (nothing returned, so nothing boxed). */
export interface SlotSchedule extends Schedule {
  readonly writeRate: (step: number, out: Float32Array | Float64Array, at: number) => void;
}

/** `rate` as a Schedule that also has `writeRate` (the same formula, written twice so neither returns through the other). */
function slotted(rate: Schedule, write: (step: number, out: Float32Array | Float64Array, at: number) => void): Schedule {
  return Object.defineProperty(rate, "writeRate", { value: write, enumerable: false });
}

function positive(name: string, v: number, allowZero = false): number {
  if (!(Number.isFinite(v) && (allowZero ? v >= 0 : v > 0)))
    throw new RuntimeError("E_ARG", `${name} must be a ${allowZero ? "non-negative" : "positive"} finite number, got ${v}`);
  return v;
}

function steps(name: string, v: number): number {
  if (!(Number.isInteger(v) && v >= 1)) throw new RuntimeError("E_ARG", `${name} must be a whole number of steps >= 1, got ${v}`);
  return v;
}

/** lr(t) = lr. */
export function constant(lr: number): Schedule {
  positive("constant: lr", lr, true);
  return slotted(
    () => lr,
    (_t, out, at) => void (out[at] = lr),
  );
}

/** lr(t) = lr * factor^floor(t / every): multiplied by `factor` every `every` steps (default factor 0.5). */
export function stepDecay(opts: { lr: number; every: number; factor?: number }): Schedule {
  const lr = positive("stepDecay: lr", opts.lr, true);
  const every = steps("stepDecay: every", opts.every);
  const factor = positive("stepDecay: factor", opts.factor ?? 0.5);
  return slotted(
    (t) => lr * Math.pow(factor, Math.floor(t / every)),
    (t, out, at) => void (out[at] = lr * Math.pow(factor, Math.floor(t / every))),
  );
}

/**
 * lr(t) = lr * rate^(t / every) — smooth decay by `rate` per `every` steps
 * (default 1), or rate^floor(t / every) with `staircase`.
 */
export function exponentialDecay(opts: { lr: number; rate: number; every?: number; staircase?: boolean }): Schedule {
  const lr = positive("exponentialDecay: lr", opts.lr, true);
  const rate = positive("exponentialDecay: rate", opts.rate);
  const every = steps("exponentialDecay: every", opts.every ?? 1);
  return opts.staircase
    ? slotted(
        (t) => lr * Math.pow(rate, Math.floor(t / every)),
        (t, out, at) => void (out[at] = lr * Math.pow(rate, Math.floor(t / every))),
      )
    : slotted(
        (t) => lr * Math.pow(rate, t / every),
        (t, out, at) => void (out[at] = lr * Math.pow(rate, t / every)),
      );
}

/**
 * Cosine annealing (Loshchilov & Hutter 2017, one cycle) over `steps` updates:
 *
 *   lr(t) = minLr + (lr - minLr) (1 + cos(pi t / steps)) / 2,   t < steps;   minLr after.
 *
 * With `warmup` W > 0 the first W steps ramp linearly from lr / W up to lr and
 * the cosine runs over the remaining steps - W.
 */
export function cosine(opts: { lr: number; steps: number; minLr?: number; warmup?: number }): Schedule {
  const lr = positive("cosine: lr", opts.lr, true);
  const total = steps("cosine: steps", opts.steps);
  const minLr = positive("cosine: minLr", opts.minLr ?? 0, true);
  const warmup = opts.warmup ?? 0;
  if (!(Number.isInteger(warmup) && warmup >= 0 && warmup < total))
    throw new RuntimeError("E_ARG", `cosine: warmup must be a whole number of steps in [0, steps), got ${warmup}`);
  if (minLr > lr) throw new RuntimeError("E_ARG", `cosine: minLr (${minLr}) is above lr (${lr})`);
  const span = total - warmup;
  return slotted(
    (t) => {
      if (t < warmup) return (lr * (t + 1)) / warmup;
      const u = t - warmup;
      return u >= span ? minLr : minLr + ((lr - minLr) * (1 + Math.cos((Math.PI * u) / span))) / 2;
    },
    (t, out, at) => {
      const u = t - warmup;
      out[at] = t < warmup ? (lr * (t + 1)) / warmup : u >= span ? minLr : minLr + ((lr - minLr) * (1 + Math.cos((Math.PI * u) / span))) / 2;
    },
  );
}
