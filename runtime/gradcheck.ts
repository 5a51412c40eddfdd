/**
 * Finite-difference gradient checking for apps: central differences
 *
 *   df/dp_i ≈ (f(p + eps e_i) - f(p - eps e_i)) / (2 eps)      (error O(eps^2))
 *
 * in float64, compared with an analytic gradient element by element. Use a
 * float64 build of the model (`precision: "f64"`): float32 rounding (~1e-7
 * relative) divided by 2 eps swamps the difference quotient.
 */
import type { Buf, Module } from "./types.ts";
import { ownBuffers, RuntimeError } from "./types.ts";

/**
 * The central-difference gradient of `f` at `params`. Each `params[i]` is
 * perturbed in place and restored exactly. Returns one entry per checked
 * index: all of them by default, else `out[k]` = df/dparams[indices[k]].
 */
export function numericGrad(
  f: (params: Float64Array) => number,
  params: Float64Array,
  eps = 1e-6,
  indices?: ArrayLike<number>,
): Float64Array {
  if (!(eps > 0)) throw new RuntimeError("E_ARG", `numericGrad: eps must be positive, got ${eps}`);
  const n = indices ? indices.length : params.length;
  const out = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    const i = indices ? indices[k]! : k;
    if (!(Number.isInteger(i) && i >= 0 && i < params.length))
      throw new RuntimeError("E_ARG", `numericGrad: index ${i} is outside params (length ${params.length})`);
    const saved = params[i]!;
    params[i] = saved + eps;
    const up = f(params);
    params[i] = saved - eps;
    const down = f(params);
    params[i] = saved;
    out[k] = (up - down) / (2 * eps);
  }
  return out;
}

export interface CompareOptions {
  /** Absolute tolerance. Default 1e-5. */
  atol?: number;
  /** Relative tolerance (to |numeric|). Default 1e-3. */
  rtol?: number;
  /** When `numeric` holds only these entries (as `numericGrad(…, indices)` returns): numeric[k] is checked against analytic[indices[k]]. */
  indices?: ArrayLike<number>;
}

export interface GradComparison {
  /** Every entry satisfies |a - n| <= atol + rtol |n| (numpy's allclose), and none is NaN. */
  readonly ok: boolean;
  /** max |a - n| */
  readonly maxAbs: number;
  /** max |a - n| / max(|a|, |n|) (0 where both are 0) */
  readonly maxRel: number;
  /** The parameter index that exceeds its tolerance the most (-1 if there are no entries). */
  readonly worst: number;
  /** The analytic and numeric values at `worst`. */
  readonly analytic: number;
  readonly numeric: number;
}

/** Compares an analytic gradient with a numeric one; see `GradComparison`. */
export function compareGrads(analytic: ArrayLike<number>, numeric: ArrayLike<number>, opts: CompareOptions = {}): GradComparison {
  const { atol = 1e-5, rtol = 1e-3, indices } = opts;
  const n = numeric.length;
  if (!indices && analytic.length !== n)
    throw new RuntimeError(
      "E_ARG",
      `compareGrads: analytic has ${analytic.length} entries, numeric ${n} (pass indices when checking a subset)`,
    );
  if (indices && indices.length !== n) throw new RuntimeError("E_ARG", `compareGrads: ${indices.length} indices for ${n} numeric entries`);
  let maxAbs = 0;
  let maxRel = 0;
  let worst = -1;
  let worstRatio = -1;
  let ok = true;
  let nan = false;
  for (let k = 0; k < n; k++) {
    const i = indices ? indices[k]! : k;
    const a = analytic[i]!;
    const num = numeric[k]!;
    const abs = Math.abs(a - num);
    const scale = Math.max(Math.abs(a), Math.abs(num));
    const rel = scale === 0 ? 0 : abs / scale;
    // NaN compares false everywhere: count it as an infinite violation.
    const ratio = Number.isNaN(abs) ? Infinity : abs / (atol + rtol * Math.abs(num));
    if (!(abs <= atol + rtol * Math.abs(num))) ok = false;
    if (Number.isNaN(abs)) nan = true;
    else {
      maxAbs = Math.max(maxAbs, abs);
      maxRel = Math.max(maxRel, rel);
    }
    if (ratio > worstRatio) {
      worstRatio = ratio;
      worst = i;
    }
  }
  const at = worst < 0 ? -1 : indices ? Array.prototype.indexOf.call(indices, worst) : worst;
  return {
    ok,
    maxAbs: nan ? NaN : maxAbs,
    maxRel: nan ? NaN : maxRel,
    worst,
    analytic: worst < 0 ? NaN : analytic[worst]!,
    numeric: worst < 0 ? NaN : numeric[at]!,
  };
}

/**
 * Checks a model's `backward` against central differences of its `forward`
 * at the given parameters and inputs (both float64; the module should be an
 * f64 build). Checks every parameter, or only `indices`.
 */
export function checkModule(
  mod: Module<Float64Array> | Module<Buf>,
  params: Float64Array,
  inputs: Float64Array,
  opts: CompareOptions & { eps?: number } = {},
): GradComparison {
  const m = mod as Module<Float64Array>;
  const { layout } = m;
  if (!layout.hasLoss || !m.backward) throw new RuntimeError("E_NO_LOSS", `model '${layout.name}' has no loss to check`);
  // The module's own buffers when it has them (a module with wasm kernels accepts only those).
  const own = ownBuffers(m);
  if (own) {
    own.params.set(params);
    own.inputs.set(inputs);
  }
  const p0 = own?.params ?? params;
  const inp = own?.inputs ?? inputs;
  const arena = own?.arena ?? new Float64Array(layout.arenaSize);
  const grads = own?.grads ?? new Float64Array(layout.paramSize);
  m.forward(p0, inp, arena);
  m.backward(p0, inp, arena, grads);
  const f = (p: Float64Array) => {
    m.forward(p, inp, arena);
    return arena[layout.lossOffset!]!;
  };
  const numeric = numericGrad(f, p0, opts.eps ?? 1e-6, opts.indices);
  return compareGrads(grads, numeric, opts);
}
