/**
 * What every fuzzed graph must satisfy. Shared by test/fuzz/fuzz.test.ts
 * (`npm test`), test/fuzz/run.ts (`npm run fuzz`) and the regression tests.
 *
 * A batch of recipes becomes ONE model (graph k's names are prefixed `g<k>_`,
 * loss = sum_k y_k, every sink an output): since the graphs share no leaves,
 * d loss / d θ_k = d y_k / d θ_k, so one compile checks every graph of the
 * batch. Per graph:
 *   1. the derivative rules: the symbolic gradient (IR, through the float64
 *      interpreter) vs float64 central differences of the interpreter;
 *   2. the generated code, every build (float64 and float32; unrolled at the
 *      default unroll limit, `unrollLimit: 0`: loop kernels everywhere, and
 *      float32 with every matmul of 4+ rows a wasm SIMD kernel):
 *      float64 forward = interpreter, float64 gradient vs the central
 *      differences (PyTorch tolerances) and vs the interpreted symbolic
 *      gradient, float32 vs float64 within the float32 tolerances below;
 *   3. (a subset) second order: H v = the gradient of sum(g · v), interpreted
 *      and compiled, vs central differences of the gradient along v.
 */
import { gradients, rulesFor } from "../../compiler/autodiff/reverse.ts";
import { type GeneratedModule, importModule } from "../../compiler/emit/load.ts";
import { compile } from "../../compiler/index.ts";
import { B, Graph, type Node, topo } from "../../compiler/ir/graph.ts";
import { evaluate } from "../../compiler/ir/interp.ts";
import type { CustomRule, Leaf, Model } from "../../compiler/ir/model.ts";
import { opDef } from "../../compiler/ir/ops.ts";
import { size } from "../../compiler/ir/shape.ts";
import { TOL, checkGradients, fmtMismatch, rng, runModule, withinTol, type Run } from "../helpers.ts";
import { BATCH, type BuiltGraph, type Recipe, buildRecipe, kinkFree } from "./graphs.ts";

/**
 * Tolerances of the compiled builds.
 * - float64 build vs interpreter (forward and symbolic gradient):
 *   |a - b| <= 1e-9 (1 + |b|). Same formulas, evaluated in another order
 *   (loops, fusion, reassociated sums): a few ulps, amplified by
 *   cancellation in a chain of ~40 ops at most.
 * - float32 build vs float64 build, both fed the same float32-representable
 *   leaves: |a - b| <= 1e-6 + 1e-3 (|b| + s) + 16 |e - b|, where s = the
 *   largest |value| of the output (forward), or of the whole gradient of the
 *   graph (backward: an element that cancels to ~0 keeps the rounding error
 *   of its terms), and e = the same value from the reference interpreter
 *   with every intermediate rounded to float32. Stored values are rounded to
 *   float32 (relative 6e-8) and the rounding is amplified by the condition
 *   numbers of up to ~40 ops; the last term admits what float32 itself costs
 *   on an ill-conditioned graph (a small result of a large cancellation),
 *   where no fixed relative tolerance is fair. `npm run fuzz` reports the
 *   worst error seen as a fraction of this tolerance.
 */
export const F64_TOL = 1e-9;
export const F32_TOL = 1e-3;
export const F32_ATOL = 1e-6;
export const F32_EMUL = 16;

/** The reference interpreter with every value rounded to float32: how far float32 rounding alone moves these graphs. */
function evaluate32(roots: readonly Node[], values: Record<string, Float64Array>, n: number): Map<number, Float64Array> {
  const vals = new Map<number, Float64Array>();
  for (const x of topo(roots)) {
    let v: Float64Array;
    if (x.op === "param" || x.op === "input") v = values[x.attrs.name as string]!;
    else if (x.op === "batchSize") v = Float64Array.of(n);
    else if (x.op === "batchMask") v = Float64Array.from({ length: x.attrs.max as number }, (_, i) => (i < n ? 1 : 0));
    else v = opDef(x.op).eval!(x.inputs.map((i) => vals.get(i.id)!), x).map(Math.fround);
    vals.set(x.id, v);
  }
  return vals;
}

export type BuildName = "f64" | "f64 loops" | "f32" | "f32 loops" | "f32 wasm";
/** Each float32 build is compared with its float64 twin (same plan). "f32 wasm": every matmul (all loops) with 4+ rows a wasm SIMD kernel. */
export const BUILDS: Record<BuildName, { precision: "f32" | "f64"; unrollLimit?: number; backend?: "wasm"; twin?: BuildName }> = {
  f64: { precision: "f64" },
  "f64 loops": { precision: "f64", unrollLimit: 0 },
  f32: { precision: "f32", twin: "f64" },
  "f32 loops": { precision: "f32", unrollLimit: 0, twin: "f64 loops" },
  "f32 wasm": { precision: "f32", unrollLimit: 0, backend: "wasm", twin: "f64 loops" },
};

export interface CheckOptions {
  /** Builds to compile (default: all four). */
  readonly builds?: readonly BuildName[];
  /** Check H v on every `hvpEvery`-th graph (0: never). */
  readonly hvpEvery?: number;
  /** Rows of a batched step (1..BATCH), for graphs that read the batch leaves. */
  readonly n?: number;
  /** Replaces each custom box's rule before anything is checked (the harness's own test: a wrong rule must fail). */
  readonly customRule?: (rule: CustomRule, b: B) => CustomRule;
}

export interface CheckResult {
  readonly problems: string[];
  readonly graphs: number;
  /** Ops seen in the checked graphs (forward), for coverage. */
  readonly ops: Set<string>;
  /** Ops seen in the gradient graphs. */
  readonly gradOps: Set<string>;
  /** Largest float32-vs-float64 error seen, relative to the tolerance (<= 1 passes). */
  readonly f32Worst: number;
}

const close64 = (a: number, b: number) => Object.is(a, b) || Math.abs(a - b) <= F64_TOL * (1 + Math.abs(b));
const maxAbs = (v: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < v.length; i++) m = Math.max(m, Math.abs(v[i]!));
  return m;
};

function modelOf(name: string, g: Graph, params: Leaf[], inputs: Leaf[], outputs: { name: string; node: Node }[], loss: Node, batched: boolean, customs: ReadonlyMap<number, CustomRule>): Model {
  return {
    ...(customs.size ? { customs } : {}),
    name,
    source: "fuzz",
    graph: g,
    inputs,
    params,
    outputs,
    loss,
    ...(batched ? { batch: BATCH } : {}),
    names: new Map(),
    where: new Map(),
  };
}

/** Runs a compiled build; a compile or run failure is returned as a problem instead. */
async function build(model: Model, name: BuildName, values: Record<string, Float64Array>, n: number | undefined): Promise<Run | string> {
  const { precision, unrollLimit, backend } = BUILDS[name];
  try {
    const { js } = await compile(model, { precision, ...(unrollLimit === undefined ? {} : { unrollLimit }), ...(backend ? { backend } : {}) });
    const mod = await loadModule(js);
    return runModule(mod, values, precision === "f64" ? Float64Array : Float32Array, n);
  } catch (e) {
    return `${name} build: ${(e as Error).stack?.split("\n").slice(0, 4).join(" | ") ?? String(e)}`;
  }
}

/**
 * `importModule` without the ES module loader: the emitted module has no
 * imports and ends in one `export { … }` list, so its text runs as a strict
 * function body returning that list. (Thousands of data: URL imports cost
 * the loader's per-module work — source-map scans, hook round trips — and
 * leak module records.) Anything else goes through `importModule`.
 */
export async function loadModule(js: string): Promise<GeneratedModule> {
  const m = /\nexport\s*\{([^}]*)\};?\s*$/.exec(js);
  if (!m || /^\s*(import|export)\b/m.test(js.slice(0, m.index))) return importModule(js);
  return new Function(`"use strict";\n${js.slice(0, m.index)}\nreturn {${m[1]}};`)() as GeneratedModule;
}

export async function checkRecipes(recipes: readonly Recipe[], opts: CheckOptions = {}): Promise<CheckResult> {
  const builds = opts.builds ?? (["f64", "f64 loops", "f32", "f32 loops"] as BuildName[]);
  const g = new Graph();
  const b = new B(g);
  const n = opts.n ?? BATCH;
  const graphs: BuiltGraph[] = recipes.map((r, k) => buildRecipe(b, r, `g${k}_`, n));
  // the custom boxes' rules, bound as autodiff binds a spec's (compiler/autodiff/reverse.ts rulesFor)
  const customs = new Map(graphs.flatMap((x) => [...x.customs].map(([id, r]) => [id, opts.customRule ? opts.customRule(r, b) : r] as const)));
  const rules = rulesFor({ customs } as Pick<Model, "customs"> as Model);
  const batched = graphs.some((x) => x.batched);
  const rows = batched ? n : undefined;
  const values: Record<string, Float64Array> = Object.assign({}, ...graphs.map((x) => x.values));
  const problems: string[] = [];
  const ops = new Set<string>();
  const gradOps = new Set<string>();
  let f32Worst = 0;

  // 1. Derivative rules, graph by graph, in the interpreter.
  const numeric: Float64Array[][] = [];
  const symbolic: Float64Array[][] = [];
  graphs.forEach((x, k) => {
    for (const op of x.ops) ops.add(op);
    const vals = evaluate([x.y], values, undefined, n);
    const kink = kinkFree(x.y, vals);
    if (kink) problems.push(`graph ${k}: generator: ${kink}`);
    const y = vals.get(x.y.id)![0]!;
    if (!Number.isFinite(y)) problems.push(`graph ${k}: y = ${y} is not finite`);
    const r = checkGradients(b, x.y, x.params, values, rules, n);
    numeric.push(r.numeric);
    symbolic.push(r.grads);
    for (const m of r.mismatches) problems.push(`graph ${k}: interpreter ${fmtMismatch(m)}`);
    for (const gr of gradients(b, x.y, x.params.map((p) => p.node), rules).grads) for (const nn of topoOps(gr)) gradOps.add(nn);
  });

  // 2. The generated code, all graphs in one model.
  const params = graphs.flatMap((x) => x.params);
  const inputs = graphs.flatMap((x) => x.inputs);
  const outputs = graphs.flatMap((x, k) =>
    x.sinks.filter((s) => s.op !== "param" && s.op !== "input").map((s, j) => ({ name: `g${k}_o${j}`, node: s, graph: k })),
  );
  const loss = graphs.map((x) => x.y).reduce((acc, y) => b.add(acc, y));
  const model = modelOf("fuzz", g, params, inputs, outputs, loss, batched, customs);
  const ref = evaluate([...outputs.map((o) => o.node), loss], values, undefined, n);
  const owner = new Map<string, number>();
  graphs.forEach((x, k) => x.params.forEach((p, i) => owner.set(p.name, k * 1e6 + i)));

  const runs = new Map<BuildName, Run>();
  for (const name of builds) {
    const r = await build(model, name, values, rows);
    if (typeof r === "string") {
      problems.push(r);
      continue;
    }
    runs.set(name, r);
    if (BUILDS[name].precision !== "f64") continue;
    outputs.forEach((o, j) => {
      const want = ref.get(o.node.id)!;
      const got = r.outputs[j]!;
      for (let i = 0; i < want.length; i++)
        if (!close64(got[i]!, want[i]!)) problems.push(`graph ${o.graph}: ${name} build: output ${o.name}[${i}] = ${got[i]}, interpreter ${want[i]}`);
    });
    const wantLoss = ref.get(loss.id)![0]!;
    if (!close64(r.loss, wantLoss)) problems.push(`${name} build: loss ${r.loss}, interpreter ${wantLoss}`);
    params.forEach((p, i) => {
      const o = owner.get(p.name)!;
      const [k, j] = [Math.floor(o / 1e6), o % 1e6];
      const got = r.grads[i]!;
      for (let e = 0; e < got.length; e++) {
        const num = numeric[k]![j]![e]!;
        const sym = symbolic[k]![j]![e]!;
        if (!withinTol(got[e]!, num))
          problems.push(`graph ${k}: ${name} build: ${fmtMismatch({ wrt: p.name, index: e, analytic: got[e]!, numeric: num })}`);
        else if (!close64(got[e]!, sym)) problems.push(`graph ${k}: ${name} build: d/d${p.name}[${e}] = ${got[e]}, interpreter (symbolic) ${sym}`);
      }
    });
  }
  // float32 vs float64, build by build. The reference error: the same graphs evaluated with every value rounded to float32.
  const need32 = builds.some((x) => BUILDS[x].precision === "f32");
  const gradNodes = need32 ? graphs.map((x) => gradients(b, x.y, x.params.map((p) => p.node), rules).grads) : [];
  const emul = need32 ? evaluate32([...outputs.map((o) => o.node), ...gradNodes.flat()], values, n) : new Map<number, Float64Array>();
  const emulGrads = new Map<string, Float64Array>();
  if (need32) graphs.forEach((x, k) => x.params.forEach((p, i) => emulGrads.set(p.name, emul.get(gradNodes[k]![i]!.id)!)));
  for (const b32 of builds.filter((x) => BUILDS[x].twin)) {
    const b64 = BUILDS[b32].twin!;
    const r32 = runs.get(b32);
    const r64 = runs.get(b64);
    if (!r32 || !r64) continue;
    const cmp = (what: string, got: ArrayLike<number>, want: ArrayLike<number>, s: number, e32: ArrayLike<number>) => {
      for (let i = 0; i < want.length; i++) {
        const ref = F32_EMUL * Math.abs(e32[i]! - want[i]!);
        const err = Math.abs(got[i]! - want[i]!) / (F32_ATOL + F32_TOL * (Math.abs(want[i]!) + s) + ref);
        if (!(err <= 1))
          problems.push(
            `${b32} vs ${b64}: ${what}[${i}] = ${got[i]}, float64 ${want[i]}, all-float32 interpreter ${e32[i]} ` +
              `(tolerance ${F32_ATOL} + ${F32_TOL}·(|float64| + ${s}) + ${F32_EMUL}·${Math.abs(e32[i]! - want[i]!)})`,
          );
        else f32Worst = Math.max(f32Worst, err);
      }
    };
    outputs.forEach((o, j) => cmp(`graph ${o.graph}: output ${o.name}`, r32.outputs[j]!, r64.outputs[j]!, maxAbs(r64.outputs[j]!), emul.get(o.node.id)!));
    // A gradient's scale is the largest gradient element of its graph: a gradient that cancels to ~0 keeps the error of its terms.
    const gradScale = graphs.map((_, k) => Math.max(0, ...params.map((p, i) => (Math.floor(owner.get(p.name)! / 1e6) === k ? maxAbs(r64.grads[i]!) : 0))));
    params.forEach((p, i) => {
      const k = Math.floor(owner.get(p.name)! / 1e6);
      cmp(`graph ${k}: d/d${p.name}`, r32.grads[i]!, r64.grads[i]!, gradScale[k]!, emulGrads.get(p.name)!);
    });
  }

  // 3. Second order on a subset: H v, interpreted and compiled (f64 builds).
  const every = opts.hvpEvery ?? 0;
  if (every > 0) {
    const hv = graphs.map((x, k) => (k % every === 0 && x.params.length && !x.ties ? hvp(b, x, values, k) : undefined));
    for (const h of hv) if (h) problems.push(...h.problems);
    const chosen = hv.flatMap((h, k) => (h ? [{ h, k }] : []));
    if (chosen.length) {
      const hvLoss = chosen.map(({ h }) => h.gv).reduce((acc, t) => b.add(acc, t));
      const hParams = chosen.flatMap(({ k }) => graphs[k]!.params);
      const hInputs = chosen.flatMap(({ k, h }) => [...graphs[k]!.inputs, ...h.v]);
      const m2 = modelOf("fuzz_hvp", g, hParams, hInputs, [], hvLoss, batched, customs);
      for (const name of builds.filter((x) => BUILDS[x].precision === "f64")) {
        const r = await build(m2, name, values, rows);
        if (typeof r === "string") {
          problems.push(`H v: ${r}`);
          continue;
        }
        let i = 0;
        for (const { h, k } of chosen)
          h.numeric.forEach((num, j) => {
            const got = r.grads[i++]!;
            for (let e = 0; e < got.length; e++) {
              if (!withinTol(got[e]!, num[e]!))
                problems.push(
                  `graph ${k}: ${name} build: ${fmtMismatch({ quantity: `(H v) for ${graphs[k]!.params[j]!.name}`, wrt: "", index: e, analytic: got[e]!, numeric: num[e]! })}`,
                );
              else if (!close64(got[e]!, h.symbolic[j]![e]!))
                problems.push(`graph ${k}: ${name} build: (H v)[${e}] = ${got[e]}, interpreter (symbolic) ${h.symbolic[j]![e]}`);
            }
          });
      }
    }
  }
  return { problems, graphs: graphs.length, ops, gradOps, f32Worst };

  /** H v for graph k: the gradient of gv = sum_i sum(g_i · v_i), vs central differences of the gradient along v. */
  function hvp(bb: B, x: BuiltGraph, vals: Record<string, Float64Array>, k: number) {
    const next = rng(0x4e55 + k);
    const wrt = x.params.map((p) => p.node);
    const { grads } = gradients(bb, x.y, wrt, rules);
    const v: Leaf[] = x.params.map((p, i) => {
      const name = `g${k}_v${i}`;
      vals[name] = Float64Array.from({ length: size(p.shape) }, () => Math.fround(2 * next() - 1));
      return { name, node: bb.g.mk("input", [], { name, shape: [...p.shape] }), shape: p.shape };
    });
    const gv = grads.map((gr, i) => bb.sum(bb.mul(gr, v[i]!.node))).reduce((acc, t) => bb.add(acc, t));
    const { grads: hvNodes } = gradients(bb, gv, wrt, rules);
    for (const h of hvNodes) for (const op of topoOps(h)) gradOps.add(op);
    const at = evaluate(hvNodes, vals, undefined, n);
    const symbolicHv = hvNodes.map((h) => at.get(h.id)!);
    const gradAt = (sign: number) => {
      const shift = (s: number) =>
        x.params.forEach((p, i) => {
          const arr = vals[p.name]!;
          const dir = vals[v[i]!.name]!;
          for (let j = 0; j < arr.length; j++) arr[j]! += s * TOL.eps * dir[j]!;
        });
      const saved = x.params.map((p) => Float64Array.from(vals[p.name]!));
      shift(sign);
      const r = evaluate(grads, vals, undefined, n);
      x.params.forEach((p, i) => vals[p.name]!.set(saved[i]!));
      return grads.map((gr) => Float64Array.from(r.get(gr.id)!));
    };
    const plus = gradAt(1);
    const minus = gradAt(-1);
    const num = plus.map((p, i) => p.map((e, j) => (e - minus[i]![j]!) / (2 * TOL.eps)));
    const probs: string[] = [];
    num.forEach((nv, i) =>
      nv.forEach((e, j) => {
        const a = symbolicHv[i]![j]!;
        if (!withinTol(a, e))
          probs.push(`graph ${k}: interpreter ${fmtMismatch({ quantity: `(H v) for ${x.params[i]!.name}`, wrt: "", index: j, analytic: a, numeric: e })}`);
      }),
    );
    return { gv, v, numeric: num, symbolic: symbolicHv, problems: probs };
  }
}

const topoOpsCache = new WeakMap<Node, string[]>();
function topoOps(n: Node): string[] {
  let hit = topoOpsCache.get(n);
  if (hit) return hit;
  const seen = new Set<number>();
  const out = new Set<string>();
  const stack = [n];
  while (stack.length) {
    const x = stack.pop()!;
    if (seen.has(x.id)) continue;
    seen.add(x.id);
    out.add(x.op);
    stack.push(...x.inputs);
  }
  hit = [...out];
  topoOpsCache.set(n, hit);
  return hit;
}
