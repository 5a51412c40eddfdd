/**
 * Parameter initialization from a layout's `init` entries.
 *
 * Fan-in and fan-out (what xavier/he scale by):
 *   - a matrix [in, out] (x · W convention): fan_in = in, fan_out = out;
 *   - a vector [n] or a row [1, n] (biases): fan_in = fan_out = n;
 *   - a scalar []: fan_in = fan_out = 1;
 *   - a convolution weight, rank 4 in OIHW order [K, C/groups, R, S] (ONNX's, the conv ops'):
 *     fan_in = C/groups · R · S, fan_out = K · R · S (PyTorch's rule for conv weights);
 *   - rank 3 or >= 5 [..., out]: fan_out = last axis, fan_in = product of the others.
 * A weight matrix with one input row, [1, n], is therefore scaled as a bias.
 *
 * Each parameter draws from its own stream, seeded by (seed, parameter name),
 * so a parameter's initial values depend only on the seed, its name, shape and
 * init — adding or reordering other parameters does not change them.
 */
import { deriveSeed, Rng } from "./rng.ts";
import { type Buf, type Init, type Layout, RuntimeError } from "./types.ts";

export function fans(shape: readonly number[]): { fanIn: number; fanOut: number } {
  if (shape.length === 0) return { fanIn: 1, fanOut: 1 };
  if (shape.length === 1) return { fanIn: shape[0]!, fanOut: shape[0]! };
  if (shape.length === 2 && shape[0] === 1) return { fanIn: shape[1]!, fanOut: shape[1]! };
  if (shape.length === 4) {
    const [k, c, r, s] = shape as [number, number, number, number];
    return { fanIn: c * r * s, fanOut: k * r * s };
  }
  const fanOut = shape[shape.length - 1]!;
  let fanIn = 1;
  for (let i = 0; i < shape.length - 1; i++) fanIn *= shape[i]!;
  return { fanIn, fanOut };
}

const describe = (init: unknown) => (typeof init === "string" ? init : JSON.stringify(init));

/** Fills `out` (one parameter's elements) according to `init`. */
export function initTensor(out: Buf, shape: readonly number[], init: Init, rng: Rng, name = "param"): void {
  const { fanIn, fanOut } = fans(shape);
  const uniform = (lo: number, hi: number) => {
    for (let i = 0; i < out.length; i++) out[i] = rng.uniform(lo, hi);
  };
  const normal = (mean: number, std: number) => {
    for (let i = 0; i < out.length; i++) out[i] = rng.normal(mean, std);
  };
  if (typeof init === "string") {
    switch (init) {
      case "zeros":
        return void out.fill(0);
      case "ones":
        return void out.fill(1);
      case "xavier": {
        const a = Math.sqrt(6 / (fanIn + fanOut)); // Glorot & Bengio 2010, eq. 16
        return uniform(-a, a);
      }
      case "xavierNormal":
        return normal(0, Math.sqrt(2 / (fanIn + fanOut)));
      case "he":
        return normal(0, Math.sqrt(2 / fanIn)); // He et al. 2015: Var = 2 / fan_in
      case "heUniform": {
        const a = Math.sqrt(6 / fanIn); // same variance as "he": a^2 / 3 = 2 / fan_in
        return uniform(-a, a);
      }
    }
  } else if (init && typeof init === "object") {
    if ("value" in init) {
      const v = init.value;
      if (!Array.isArray(v) || v.length !== out.length)
        throw new RuntimeError(
          "E_ARG",
          `param '${name}': init value has ${Array.isArray(v) ? v.length : "no"} numbers, shape [${shape.join(",")}] needs ${out.length} (row-major)`,
        );
      for (let i = 0; i < v.length; i++) {
        if (typeof v[i] !== "number" || !Number.isFinite(v[i]))
          throw new RuntimeError("E_ARG", `param '${name}': init value[${i}] is not a finite number`);
        out[i] = v[i]!;
      }
      return;
    }
    if ("uniform" in init) {
      const [lo, hi] = init.uniform;
      if (!(Number.isFinite(lo) && Number.isFinite(hi) && lo <= hi))
        throw new RuntimeError("E_ARG", `param '${name}': uniform needs finite lo <= hi, got ${describe(init)}`);
      return uniform(lo, hi);
    }
    if ("normal" in init) {
      const [mean, std] = init.normal;
      if (!(Number.isFinite(mean) && Number.isFinite(std) && std >= 0))
        throw new RuntimeError("E_ARG", `param '${name}': normal needs a finite mean and std >= 0, got ${describe(init)}`);
      return normal(mean, std);
    }
  }
  throw new RuntimeError(
    "E_ARG",
    `param '${name}': unknown init ${describe(init)} (zeros, ones, xavier, xavierNormal, he, heUniform, {uniform:[lo,hi]}, {normal:[mean,std]}, {value:[...]})`,
  );
}

/**
 * Fills `params` (length `layout.paramSize`) from each parameter's `init`,
 * or from `override` for every parameter when given (e.g. "zeros" to show
 * the symmetry problem). Deterministic per seed.
 */
export function initParams<A extends Buf>(layout: Layout, params: A, seed: number, override?: Init): A {
  if (params.length !== layout.paramSize)
    throw new RuntimeError("E_ARG", `initParams: params has ${params.length} elements, layout '${layout.name}' needs ${layout.paramSize}`);
  for (const p of layout.params) {
    const rng = new Rng(deriveSeed(seed, "init", p.name));
    initTensor(params.subarray(p.offset, p.offset + p.size), p.shape, override ?? p.init, rng, p.name);
  }
  return params;
}
