// Newton-CG and gradient descent over a compiled model (float64 builds), used by
// train.ts and test/examples/newton.test.ts. Newton's step solves H d = −g by
// conjugate gradients, where each H v is one forward + backward of the model that
// hvpModel builds (the gradient differentiated again): H itself is never formed.
import type { GeneratedModule } from "../../compiler/emit/load.ts";

export interface Problem {
  /** The model compiled with precision "f64". */
  readonly grad: GeneratedModule;
  /** hvpModel(model) compiled with precision "f64". */
  readonly hv: GeneratedModule;
  /** The model's inputs, in its layout. */
  readonly inputs: Float64Array;
  readonly n: number;
}

export interface Trace {
  /** Updates made. */
  readonly steps: number;
  /** ‖∇L‖ before each step (and after the last). */
  readonly gradNorms: number[];
  readonly losses: number[];
  readonly params: Float64Array;
}

const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
};

/** Loss and gradient at `params`, in one set of the model's buffers made once per run. */
function lossAndGradOf(p: Problem): (params: Float64Array, g: Float64Array) => number {
  const b = p.grad.buffers();
  b.inputs.set(p.inputs);
  return (params, g) => {
    b.params.set(params);
    p.grad.forward(b.params, b.inputs, b.arena, p.n);
    p.grad.backward!(b.params, b.inputs, b.arena, b.grads, p.n);
    g.set(b.grads);
    return b.arena[p.grad.layout.lossOffset!]!;
  };
}

/** From θ = 0, `update(params, g)` after each gradient, until ‖g‖ ≤ tol or `maxSteps` updates. */
function descend(p: Problem, update: (params: Float64Array, g: Float64Array) => void, tol: number, maxSteps: number): Trace {
  const P = p.grad.layout.paramSize;
  const params = new Float64Array(P);
  const g = new Float64Array(P);
  const lossAndGrad = lossAndGradOf(p);
  const gradNorms: number[] = [];
  const losses: number[] = [];
  for (let step = 0; ; step++) {
    losses.push(lossAndGrad(params, g));
    gradNorms.push(Math.sqrt(dot(g, g)));
    if (gradNorms.at(-1)! <= tol || step === maxSteps) return { steps: step, gradNorms, losses, params };
    update(params, g);
  }
}

/** A closure computing H v at fixed params: the model's inputs plus the direction v_<param>. */
function hessianAt(p: Problem, params: Float64Array): (v: Float64Array, out: Float64Array) => void {
  const b = p.hv.buffers();
  b.params.set(params);
  for (const s of p.grad.layout.inputs) b.inputs.set(p.inputs.subarray(s.offset, s.offset + s.size), p.hv.layout.inputs.find((q) => q.name === s.name)!.offset);
  const dirs = p.grad.layout.params.map((s) => ({ s, at: p.hv.layout.inputs.find((q) => q.name === `v_${s.name}`)!.offset }));
  return (v, out) => {
    for (const { s, at } of dirs) b.inputs.set(v.subarray(s.offset, s.offset + s.size), at);
    p.hv.forward(b.params, b.inputs, b.arena, p.n);
    p.hv.backward!(b.params, b.inputs, b.arena, b.grads, p.n);
    out.set(b.grads);
  };
}

/** Newton's method with CG inner solves, from θ = 0, until ‖g‖ ≤ tol. */
export function newtonCg(p: Problem, { tol = 1e-10, maxSteps = 20 } = {}): Trace {
  const P = p.grad.layout.paramSize;
  return descend(
    p,
    (params, g) => {
      // CG on H d = −g (H is positive definite here: the BCE Hessian plus 2λ on w).
      const Hv = hessianAt(p, params);
      const d = new Float64Array(P);
      const r = g.map((x) => -x);
      const q = Float64Array.from(r);
      const Hq = new Float64Array(P);
      let rr = dot(r, r);
      for (let it = 0; it < P && Math.sqrt(rr) > 1e-3 * tol; it++) {
        Hv(q, Hq);
        const alpha = rr / dot(q, Hq);
        for (let i = 0; i < P; i++) {
          d[i]! += alpha * q[i]!;
          r[i]! -= alpha * Hq[i]!;
        }
        const rr2 = dot(r, r);
        for (let i = 0; i < P; i++) q[i] = r[i]! + (rr2 / rr) * q[i]!;
        rr = rr2;
      }
      for (let i = 0; i < P; i++) params[i]! += d[i]!;
    },
    tol,
    maxSteps,
  );
}

/** Full-batch gradient descent from θ = 0 until ‖g‖ ≤ tol (or maxSteps). */
export function gradientDescent(p: Problem, lr: number, { tol = 1e-6, maxSteps = 100_000 } = {}): Trace {
  return descend(
    p,
    (params, g) => {
      for (let i = 0; i < params.length; i++) params[i]! -= lr * g[i]!;
    },
    tol,
    maxSteps,
  );
}
