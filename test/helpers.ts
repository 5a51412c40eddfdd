/**
 * Test helpers shared by every test directory (op-table tests, autodiff,
 * fuzzing, numerics): a seeded PRNG, leaf makers that record values by name,
 * a float64 gradient checker (symbolic gradient through the reference
 * interpreter vs central differences of the same interpreter), reporting like
 * PyTensor: position, both values, abs/rel error and the tolerances, and a
 * runner for generated modules.
 */
import { type Rules, gradients } from "../compiler/autodiff/reverse.ts";
import type { GeneratedModule } from "../compiler/emit/load.ts";
import { B, Graph, type Node } from "../compiler/ir/graph.ts";
import { evaluate } from "../compiler/ir/interp.ts";
import type { Leaf, Model } from "../compiler/ir/model.ts";
import { OPS } from "../compiler/ir/ops.ts";
import { type Shape, size } from "../compiler/ir/shape.ts";

/** PyTorch gradcheck defaults: central differences with eps 1e-6, pass if |a - n| <= atol + rtol |n|. */
export const TOL = { eps: 1e-6, atol: 1e-5, rtol: 1e-3 } as const;

/** mulberry32: a small deterministic PRNG, uniform in [0, 1). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A stable 32-bit seed from a string (FNV-1a), so every case samples the same points on every run. */
export function seedOf(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/**
 * `n` values uniform in [lo, hi], rounded to float32 so that the float32 and
 * float64 builds of generated code see exactly the same inputs. Rounding can
 * only move a value by one float32 ulp, so it stays inside the closed domain
 * for the domains the op table uses.
 */
export function uniform(next: () => number, [lo, hi]: readonly [number, number], n: number): Float64Array {
  return Float64Array.from({ length: n }, () => Math.fround(lo + (hi - lo) * next()));
}

/** Leaves of one test graph, with their values by name. */
export class Leaves {
  readonly params: Leaf[] = [];
  readonly inputs: Leaf[] = [];
  readonly values: Record<string, Float64Array> = {};
  private k = 0;
  constructor(
    readonly g: Graph,
    readonly next: () => number,
    readonly prefix = "",
  ) {}

  private fresh(kind: string) {
    return `${this.prefix}${kind}${this.k++}`;
  }
  /** A param (differentiated) holding `values`, or values sampled uniformly from a domain. */
  param(shape: Shape, values: Float64Array | readonly [number, number] = [-2, 2]): Node {
    const name = this.fresh("p");
    const v = values instanceof Float64Array ? values : uniform(this.next, values, size(shape));
    const node = this.g.mk("param", [], { name, shape: [...shape] });
    this.params.push({ name, node, shape, init: "zeros" });
    this.values[name] = v;
    return node;
  }
  /** An input (not differentiated). */
  input(shape: Shape, values: Float64Array | readonly [number, number] = [-1, 1]): Node {
    const name = this.fresh("i");
    const v = values instanceof Float64Array ? values : uniform(this.next, values, size(shape));
    const node = this.g.mk("input", [], { name, shape: [...shape] });
    this.inputs.push({ name, node, shape });
    this.values[name] = v;
    return node;
  }
}

export interface Mismatch {
  /** What was compared; defaults to `d/d<wrt>`. */
  readonly quantity?: string;
  readonly wrt: string;
  readonly index: number;
  readonly analytic: number;
  readonly numeric: number;
}

export const fmtMismatch = (m: Mismatch): string => {
  const abs = Math.abs(m.analytic - m.numeric);
  return (
    `${m.quantity ?? `d/d${m.wrt}`}[${m.index}]: analytic ${m.analytic}, numeric ${m.numeric}, ` +
    `abs err ${abs.toExponential(2)}, rel err ${(abs / Math.abs(m.numeric)).toExponential(2)} ` +
    `(tolerance ${TOL.atol} + ${TOL.rtol}·|numeric|, eps ${TOL.eps})`
  );
};

export const withinTol = (a: number, n: number): boolean => Math.abs(a - n) <= TOL.atol + TOL.rtol * Math.abs(n);

/** Central difference of a scalar function of `values[name][i]`, restoring the value afterwards. */
export function centralDiff(f: () => number, arr: Float64Array, i: number, eps: number = TOL.eps): number {
  const x0 = arr[i]!;
  arr[i] = x0 + eps;
  const fp = f();
  arr[i] = x0 - eps;
  const fm = f();
  arr[i] = x0;
  return (fp - fm) / (2 * eps);
}

/**
 * Checks the symbolic gradient of the scalar `y` with respect to the param
 * leaves `wrt`, evaluated by the float64 interpreter, against float64 central
 * differences of the interpreter. Returns every element that is off.
 */
export function checkGradients(
  b: B,
  y: Node,
  wrt: readonly Leaf[],
  values: Record<string, Float64Array>,
  rules: Rules = OPS,
  /** Real examples in a batched step (default: the full compiled batch). */
  batch?: number,
): { mismatches: Mismatch[]; grads: Float64Array[]; numeric: Float64Array[] } {
  const { grads } = gradients(
    b,
    y,
    wrt.map((l) => l.node),
    rules,
  );
  const vals = evaluate(grads, values, undefined, batch);
  const analytic = grads.map((gn) => vals.get(gn.id)!);
  const numeric = numericGradients(y, wrt, values, batch);
  const f = () => evaluate([y], values, undefined, batch).get(y.id)![0]!;
  const mismatches: Mismatch[] = [];
  wrt.forEach((l, k) => {
    for (let i = 0; i < numeric[k]!.length; i++) {
      const a = analytic[k]![i]!;
      let n = numeric[k]![i]!;
      if (!withinTol(a, n)) {
        // Where the function curves hard (near a pole of acoth, atanh, csch …, or down a chain of exp) the O(eps²)
        // error of the central difference alone can exceed the tolerance. Only then, Richardson's extrapolation
        // from eps and eps/2 (error O(eps⁴)) is the reference. Whether halving eps moves the difference past the
        // tolerance is not the test: D(eps) is off by about 4/3 of that move, so a move of 0.8 tolerance hid an
        // error of 1.07 (fuzz seed 20261202, batch 1857: a correct 81.1262 against D(1e-6) = 81.2128).
        const half = centralDiff(f, values[l.name]!, i, TOL.eps / 2);
        n = numeric[k]![i] = (4 * half - n) / 3;
      }
      if (!withinTol(a, n)) mismatches.push({ wrt: l.name, index: i, analytic: a, numeric: n });
    }
  });
  return { mismatches, grads: analytic, numeric };
}

/** Float64 central differences of the interpreted scalar `y` with respect to every element of the leaves `wrt`. */
export function numericGradients(
  y: Node,
  wrt: readonly Leaf[],
  values: Record<string, Float64Array>,
  batch?: number,
): Float64Array[] {
  const f = () => evaluate([y], values, undefined, batch).get(y.id)![0]!;
  return wrt.map((l) => {
    const arr = values[l.name]!;
    return Float64Array.from(arr, (_, i) => centralDiff(f, arr, i));
  });
}

/** y = sum(out * r) for a fixed random r (an input leaf, not differentiated): a scalar that weighs every output element differently. */
export function weighted(b: B, L: Leaves, out: Node): Node {
  const r = L.input(out.shape, [-1, 1]);
  return b.sum(b.mul(out, r));
}

/** A Model over a hand-built graph, for `compile`. `batch` is the compiled batch size when the graph uses batchSize/batchMask. */
export function modelOf(
  name: string,
  g: Graph,
  L: Leaves,
  outputs: readonly { name: string; node: Node }[],
  loss: Node | undefined,
  batch?: number,
): Model {
  return {
    name,
    source: "test",
    graph: g,
    inputs: L.inputs,
    params: L.params,
    outputs,
    loss,
    ...(batch !== undefined ? { batch } : {}),
    names: new Map(),
    where: new Map(),
  };
}

export interface Run {
  readonly outputs: Float64Array[];
  readonly loss: number;
  /** One per param, in layout order. */
  readonly grads: Float64Array[];
}

/** Runs a generated module's forward and backward on fresh buffers filled from `values` (by leaf name). */
export function runModule(
  mod: GeneratedModule,
  values: Record<string, Float64Array>,
  Arr: Float32ArrayConstructor | Float64ArrayConstructor,
  /** Real examples in a batched step (default: the full compiled batch). */
  n?: number,
): Run {
  // The module's own buffers (with wasm kernels, views of its memory); `Arr` names the precision it was built for.
  const buf = mod.buffers();
  if (!(buf.params instanceof Arr)) throw new Error(`runModule: module computes in ${buf.params.constructor.name}, expected ${Arr.name}`);
  for (const s of mod.layout.params) buf.params.set(values[s.name]!, s.offset);
  for (const s of mod.layout.inputs) buf.inputs.set(values[s.name]!, s.offset);
  const ret: unknown = n === undefined ? mod.forward(buf.params, buf.inputs, buf.arena) : mod.forward(buf.params, buf.inputs, buf.arena, n);
  // The loss is returned, or written to the arena at `layout.lossOffset`.
  const lossOffset = (mod.layout as { lossOffset?: number }).lossOffset;
  const loss = typeof ret === "number" ? ret : lossOffset !== undefined ? buf.arena[lossOffset]! : NaN;
  const outputs = mod.layout.outputs.map((s) => Float64Array.from(buf.arena.subarray(s.offset, s.offset + s.size)));
  if (n === undefined) mod.backward?.(buf.params, buf.inputs, buf.arena, buf.grads);
  else mod.backward?.(buf.params, buf.inputs, buf.arena, buf.grads, n);
  const grads = mod.layout.params.map((s) => Float64Array.from(buf.grads.subarray(s.offset, s.offset + s.size)));
  return { outputs, loss, grads };
}

export { B, Graph };
