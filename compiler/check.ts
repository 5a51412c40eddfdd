/**
 * `gradc check`: the generated derivatives against float64 central
 * differences of the reference interpreter (PyTorch gradcheck's defaults),
 * and the float32 build against the float64 build. When a gradient is wrong,
 * every derivative rule used is re-checked locally to name the op at fault.
 */
import { importModule, type GeneratedModule } from "./emit/load.ts";
import { type Node, topo } from "./ir/graph.ts";
import { evaluate } from "./ir/interp.ts";
import type { Model } from "./ir/model.ts";
import { opDef } from "./ir/ops.ts";
import { size, strides } from "./ir/shape.ts";
import { compile } from "./index.ts";
import type { Rules } from "./autodiff/reverse.ts";
import type { Program } from "./ir/program.ts";

export interface CheckOptions {
  seed?: number;
  /** How many random points to check at. */
  points?: number;
  eps?: number;
  atol?: number;
  rtol?: number;
  /** Params larger than this are checked at this many sampled indices. */
  maxPerParam?: number;
  rules?: Rules;
  /** Called as central differences progress (each costs two interpreter runs of the whole model). */
  onProgress?: (done: number, total: number) => void;
}

export interface Mismatch {
  readonly index: number[];
  readonly generated: number;
  readonly numeric: number;
}

export interface ParamReport {
  readonly name: string;
  readonly shape: readonly number[];
  readonly checked: number;
  readonly size: number;
  readonly maxAbs: number;
  readonly maxRel: number;
  readonly worst: number[];
  readonly ok: boolean;
  /** float32 build vs float64 build. */
  readonly f32MaxAbs: number;
  readonly f32Ok: boolean;
  readonly firstBad?: Mismatch;
  /** Elements where a kink sat within eps, checked against the matching one-sided difference instead. */
  readonly kinks: number;
  /** Elements where a domain edge sat within eps (a step left the domain): checked with steps inside it. */
  readonly edges: number;
  /** Elements where the central difference's own error missed the tolerance (near a pole): checked by Richardson's extrapolation. */
  readonly extrapolated: number;
  /** Elements whose generated or numeric derivative was not finite (never "ok"). */
  readonly nonFinite: number;
}

export interface Culprit {
  readonly op: string;
  /** The rule is the spec's own (`m.custom`): the box's name, and the spec line that defined it. */
  readonly custom?: { readonly name: string; readonly line?: number };
  readonly node: string;
  readonly input: number;
  readonly maxAbs: number;
}

/** A spec's custom box (`m.custom`): its written vjp against central differences of its forward, at every point. */
export interface BoxReport {
  readonly name: string;
  /** The spec line of its m.custom. */
  readonly line?: number;
  /** Elements of the box's inputs checked (a sample of at most maxPerParam per input and point). */
  readonly checked: number;
  readonly maxAbs: number;
  readonly ok: boolean;
  /** The first input (0-based, as vjp returns them) where it disagreed. */
  readonly badInput?: number;
}

export interface OutputReport {
  readonly name: string;
  readonly maxAbs: number;
  readonly f32MaxAbs: number;
  readonly ok: boolean;
}

/** A forward value that is NaN or infinite at a check point, and the node that first produced it. */
export interface ForwardProblem {
  readonly point: number;
  /** The node's spec name, or `op#id`. */
  readonly node: string;
  readonly op: string;
  readonly value: number;
  /** The spec line that built it, when known. */
  readonly line?: number;
  /** True when the node is a leaf (a param or input holding the value). */
  readonly leaf: boolean;
}

export interface CheckReport {
  readonly ok: boolean;
  /** The loss or an output was not finite at a point (its gradients are not compared there). */
  readonly forward?: ForwardProblem;
  readonly points: number;
  readonly eps: number;
  readonly atol: number;
  readonly rtol: number;
  readonly params: ParamReport[];
  readonly outputs: OutputReport[];
  readonly loss?: { readonly generated: number; readonly reference: number; readonly ok: boolean };
  readonly culprit?: Culprit;
  /** Every custom box whose rule the gradient used, verified on its own. */
  readonly boxes?: readonly BoxReport[];
}

/** Deterministic sampling for check points (mulberry32). */
function sampler(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return (lo: number, hi: number) => lo + (hi - lo) * next();
}

const unflat = (shape: readonly number[], i: number) => strides(shape).map((s, ax) => Math.floor(i / s) % shape[ax]!);

/** float32 vs float64 builds: errors relative to the largest magnitude (the f32 grid of that tensor). */
const F32_RTOL = 1e-4;
const F32_ATOL = 1e-6;

export async function checkModel(model: Model, opts: CheckOptions = {}): Promise<CheckReport> {
  const { seed = 1, points = 2, eps = 1e-6, atol = 1e-5, rtol = 1e-3, maxPerParam = 64 } = opts;
  const c64 = await compile(model, { precision: "f64", rules: opts.rules });
  const c32 = await compile(model, { precision: "f32", rules: opts.rules });
  const m64 = await importModule(c64.js);
  const m32 = await importModule(c32.js);
  const L = c64.lowered.layout;
  const rand = sampler(seed);

  const acc = model.params.map((p) => ({
    name: p.name, shape: p.shape, size: size(p.shape), checked: 0,
    maxAbs: 0, maxRel: 0, worst: [] as number[], ok: true, f32MaxAbs: 0, f32Ok: true, firstBad: undefined as Mismatch | undefined, kinks: 0,
    edges: 0, extrapolated: 0, nonFinite: 0,
  }));
  let forward: ForwardProblem | undefined;
  const outs = model.outputs.map((o) => ({ name: o.name, maxAbs: 0, f32MaxAbs: 0, ok: true }));
  let loss: CheckReport["loss"];
  let culprit: Culprit | undefined;
  const boxes = new Map<string, { name: string; line?: number; checked: number; maxAbs: number; ok: boolean; badInput?: number }>();
  const total = points * model.params.reduce((t, p) => t + Math.min(size(p.shape), maxPerParam), 0);
  let done = 0;

  for (let pt = 0; pt < points; pt++) {
    // A point: matrices uniform at Glorot scale (what training sees; U(-1,1) would saturate a
    // wide layer), other params uniform in [-1, 1], fixed values as given; inputs in their range.
    const env = new Map<string, Float64Array>();
    // The first point starts "zeros" and "ones" params where training starts them (that is where ties of
    // max/min and kinks of relu sit); the other points are random.
    for (const p of model.params) {
      const a = p.shape.length >= 2 ? Math.sqrt(6 / (p.shape[0]! + p.shape[p.shape.length - 1]!)) : 1;
      const fixed = typeof p.init === "object" && "value" in p.init ? p.init.value : pt === 0 && (p.init === "zeros" || p.init === "ones") ? new Array<number>(size(p.shape)).fill(p.init === "zeros" ? 0 : 1) : undefined;
      env.set(p.name, fixed ? Float64Array.from(fixed) : Float64Array.from({ length: size(p.shape) }, () => rand(-a, a)));
    }
    for (const x of model.inputs) {
      if (x.dropout !== undefined) {
        // a dropout mask as training fills it: 0 with probability p, else 1/(1-p)
        const keep = 1 / (1 - x.dropout);
        env.set(x.name, Float64Array.from({ length: size(x.shape) }, () => (rand(0, 1) < x.dropout! ? 0 : keep)));
        continue;
      }
      const [lo, hi] = x.range ?? [-1, 1];
      env.set(x.name, Float64Array.from({ length: size(x.shape) }, () => rand(lo, hi)));
    }
    // A batched model is checked with a full batch first, then with a partial one (n = B - 1).
    const n = model.batch !== undefined && pt % 2 === 1 ? Math.max(1, model.batch - 1) : model.batch;
    const r64 = run(m64, env, n);
    const r32 = run(m32, env, n);
    const ref = evaluate([...(model.loss ? [model.loss] : []), ...model.outputs.map((o) => o.node)], env, new Map(), n);

    model.outputs.forEach((o, k) => {
      const want = ref.get(o.node.id)!;
      const got = r64.outputs[k]!;
      const scale = Math.max(...Array.from(want, Math.abs), 1e-30);
      for (let i = 0; i < want.length; i++) {
        const e = Math.abs(got[i]! - want[i]!);
        const e32 = Math.abs(r32.outputs[k]![i]! - got[i]!);
        outs[k]!.maxAbs = Math.max(outs[k]!.maxAbs, e);
        outs[k]!.f32MaxAbs = Math.max(outs[k]!.f32MaxAbs, e32);
        if (!(e <= 1e-9 * (1 + Math.abs(want[i]!))) || !(e32 <= F32_ATOL + F32_RTOL * scale)) outs[k]!.ok = false;
      }
    });
    const bad = nonFiniteForward(model, ref, pt);
    if (bad) {
      // A NaN or infinite loss or output: there is no gradient to compare; say where it came from.
      forward ??= bad;
      continue;
    }
    if (!model.loss) continue;

    const refLoss = ref.get(model.loss.id)![0]!;
    const lossOk = Math.abs(r64.loss - refLoss) <= 1e-9 * (1 + Math.abs(refLoss));
    loss = { generated: r64.loss, reference: refLoss, ok: (loss?.ok ?? true) && lossOk };

    const lossAt = () => evaluate([model.loss!], env, new Map(), n).get(model.loss!.id)![0]!;
    model.params.forEach((p, k) => {
      const a = acc[k]!;
      const v = env.get(p.name)!;
      const off = L.params[k]!.offset;
      const all = v.length <= maxPerParam;
      const idx = all ? v.map((_, i) => i) : Array.from({ length: maxPerParam }, () => Math.floor(rand(0, v.length)));
      const scale = Math.max(...Array.from({ length: v.length }, (_, i) => Math.abs(r64.grads[off + i]!)), 1e-30);
      for (let i = 0; i < v.length; i++) {
        const e32 = Math.abs(r32.grads[off + i]! - r64.grads[off + i]!);
        a.f32MaxAbs = Math.max(a.f32MaxAbs, e32);
        if (!(e32 <= F32_ATOL + F32_RTOL * scale)) a.f32Ok = false;
      }
      for (const i of idx) {
        const x0 = v[i]!;
        const f = (h: number) => {
          v[i] = x0 + h;
          const y = lossAt();
          v[i] = x0;
          return y;
        };
        const up = f(eps);
        const down = f(-eps);
        let num = (up - down) / (2 * eps);
        opts.onProgress?.(++done, total);
        const gen = r64.grads[off + i]!;
        // Never "ok" on a non-finite comparison: |gen - num| <= atol + rtol·|num| is true for num = ±Infinity.
        const close = (x: number) => Number.isFinite(x) && Number.isFinite(gen) && Math.abs(gen - x) <= atol + rtol * Math.abs(x);
        if (!(Number.isFinite(up) && Number.isFinite(down))) {
          // A step left the function's domain (log, sqrt, acosh near their edge): step inside it instead.
          const inside = insideDifference(f, refLoss, eps);
          if (inside !== undefined) {
            num = inside;
            a.edges++;
          }
        } else if (!close(num)) {
          const rich = extrapolated(f, eps, num);
          // A kink (relu, abs, max…) inside [x - eps, x + eps] breaks the central difference; there
          // the derivative is one-sided, and a right rule matches one side. A wrong one matches neither.
          const base = refLoss;
          const right = (up - base) / eps;
          const left = (base - down) / eps;
          if (close(rich)) {
            a.extrapolated++;
            num = rich;
          } else if (close(right) || close(left)) {
            a.kinks++;
            num = close(right) ? right : left;
          }
        }
        const finite = Number.isFinite(gen) && Number.isFinite(num);
        const abs = finite ? Math.abs(gen - num) : Number.isNaN(gen) || Number.isNaN(num) ? NaN : Infinity;
        const rel = abs / Math.max(Math.abs(num), 1e-12);
        a.checked = pt === 0 ? a.checked + 1 : a.checked;
        if (!finite) a.nonFinite++;
        if (abs > a.maxAbs || Number.isNaN(abs)) {
          a.maxAbs = Number.isNaN(abs) ? NaN : abs;
          a.maxRel = rel;
          a.worst = unflat(p.shape, i);
        }
        if (!close(num)) {
          a.ok = false;
          a.firstBad ??= { index: unflat(p.shape, i), generated: gen, numeric: num };
        }
      }
    });
    if (!culprit && acc.some((a) => !a.ok)) culprit = localize(c64.program, env, eps, atol, rtol, n);
    // Each custom box's written rule, checked on its own at this point (a sample of its input elements).
    for (const r of ruleChecks(c64.program, env, eps, atol, rtol, n, (c) => c.op === "custom", maxPerParam, rand)) {
      const rule = c64.program.model.customs?.get(r.consumer.id);
      if (!rule) continue;
      const b = boxes.get(rule.name) ?? { name: rule.name, ...(rule.where?.line !== undefined ? { line: rule.where.line } : {}), checked: 0, maxAbs: 0, ok: true };
      b.checked += r.checked;
      b.maxAbs = Math.max(b.maxAbs, r.worst);
      if (r.bad && b.ok) {
        b.ok = false;
        b.badInput = r.index - 1;
      }
      boxes.set(rule.name, b);
    }
  }
  const params = acc.map((a) => ({ ...a }));
  const boxList = [...boxes.values()];
  const ok = !forward && params.every((p) => p.ok && p.f32Ok) && outs.every((o) => o.ok) && (loss?.ok ?? true) && boxList.every((b) => b.ok);
  return { ok, points, eps, atol, rtol, params, outputs: outs, loss, culprit, ...(boxList.length ? { boxes: boxList } : {}), ...(forward ? { forward } : {}) };
}

/**
 * Richardson's extrapolation (4·D(eps/2) − D(eps))/3 of central differences D, given D(eps) = `atEps` (error
 * O(eps⁴) where D's is O(eps²)): for where D(eps) misses, since near a pole its own error eps²·f‴/6 can pass
 * the tolerance by itself (1/w at w = 2e-5: 2.5e-3 relative at eps 1e-6). test/helpers.ts does the same.
 */
function extrapolated(f: (h: number) => number, eps: number, atEps: number): number {
  return (4 * ((f(eps / 2) - f(-eps / 2)) / eps) - atEps) / 3;
}

/**
 * The derivative at 0 of `f` (f(0) = `base`) from steps that stay inside its domain, when a step of
 * ±eps left it (f non-finite there): the largest h = eps/2^k with f(±h) both finite, then Richardson
 * extrapolation of central differences at h/4 and h/8 (error O(h^4): at x = 5e-7 from log's edge,
 * steps of 1/16 of the distance); at the edge itself, one-sided on the finite side (extrapolated too).
 * Undefined when no step on either side is finite.
 */
export function insideDifference(f: (h: number) => number, base: number, eps: number): number | undefined {
  if (!Number.isFinite(base)) return undefined;
  const ok = (h: number) => Number.isFinite(f(h));
  let h = eps;
  for (let k = 0; k < 60 && !(ok(h) && ok(-h)); k++) h /= 2;
  if (ok(h) && ok(-h)) {
    const d = (s: number) => (f(s) - f(-s)) / (2 * s);
    const [d1, d2] = [d(h / 4), d(h / 8)];
    return (4 * d2 - d1) / 3;
  }
  // x sits on the edge: one side only. Find a side with finite values, shrink until two steps are inside.
  for (const side of [1, -1]) {
    let s = eps;
    for (let k = 0; k < 60 && !(ok(side * s) && ok(side * 2 * s)); k++) s /= 2;
    if (!(ok(side * s) && ok(side * 2 * s))) continue;
    const d = (t: number) => (f(side * t) - base) / (side * t);
    return 2 * d(s / 8) - d(s / 4);
  }
  return undefined;
}

/** The first node (inputs before users) with a NaN or infinite value from finite inputs, when the loss or an output is not finite. */
function nonFiniteForward(model: Model, vals: Map<number, Float64Array>, point: number): ForwardProblem | undefined {
  const roots = [...(model.loss ? [model.loss] : []), ...model.outputs.map((o) => o.node)];
  const finite = (n: Node) => vals.get(n.id)!.every(Number.isFinite);
  if (roots.every(finite)) return undefined;
  for (const n of topo(roots)) {
    if (finite(n) || !n.inputs.every(finite)) continue;
    const value = vals.get(n.id)!.find((x) => !Number.isFinite(x))!;
    const leaf = n.op === "param" || n.op === "input";
    const name = leaf ? (n.attrs.name as string) : (model.names.get(n.id) ?? `${n.op}#${n.id}`);
    const line = model.where.get(n.id)?.line;
    return { point, node: name, op: n.op, value, leaf, ...(line !== undefined ? { line } : {}) };
  }
  return undefined;
}

function run(mod: GeneratedModule, env: Map<string, Float64Array>, n?: number) {
  const L = mod.layout;
  const b = mod.buffers(); // with wasm kernels, only the module's own memory will do
  for (const p of L.params) b.params.set(env.get(p.name)!, p.offset);
  for (const x of L.inputs) b.inputs.set(env.get(x.name)!, x.offset);
  mod.forward(b.params, b.inputs, b.arena, n);
  const loss = L.lossOffset !== undefined ? b.arena[L.lossOffset]! : NaN;
  const outputs = L.outputs.map((o) => Float64Array.from(b.arena.subarray(o.offset, o.offset + o.size)));
  mod.backward?.(b.params, b.inputs, b.arena, b.grads, n);
  return { loss, outputs, grads: Float64Array.from(b.grads) };
}

/**
 * Re-checks each derivative rule in isolation: for a contribution of op `c`
 * to its input i, the rule's value must equal the central difference of c's
 * own `eval` in that input, contracted with c's adjoint. The first rule (from
 * the loss backwards) that fails is the culprit.
 */
function localize(p: Program, env: Map<string, Float64Array>, eps: number, atol: number, rtol: number, n?: number): Culprit | undefined {
  const r = ruleChecks(p, env, eps, atol, rtol, n).find((x) => x.bad);
  if (!r) return undefined;
  const c = r.consumer;
  const rule = c.op === "custom" ? p.model.customs?.get(c.id) : undefined;
  const custom = rule ? { name: rule.name, ...(rule.where?.line !== undefined ? { line: rule.where.line } : {}) } : undefined;
  return { op: c.op, node: p.names.get(c.id) ?? (rule ? rule.name : `${c.op}#${c.id}`), input: r.index, maxAbs: r.worst, ...(custom ? { custom } : {}) };
}

/**
 * The local check of each contribution `which` selects (all by default), in autodiff's order (from the loss
 * backwards). A custom box's rule is checked against its forward expression, re-evaluated with the one input
 * moved (the box's other inputs pinned). With `sample`, at most that many elements of each input, drawn by `rand`.
 */
function ruleChecks(
  p: Program,
  env: Map<string, Float64Array>,
  eps: number,
  atol: number,
  rtol: number,
  n: number | undefined,
  which: (c: Node) => boolean = () => true,
  sample?: number,
  rand?: (lo: number, hi: number) => number,
): { consumer: Node; index: number; worst: number; bad: boolean; checked: number }[] {
  const picked = p.contributions.filter((c) => which(c.consumer));
  if (!picked.length) return [];
  const roots: Node[] = [...picked.flatMap((c) => [c.value, ...c.consumer.inputs]), ...picked.map((c) => p.adjoints.get(c.consumer.id)!)];
  const vals = evaluate(roots, env, new Map(), n);
  const out: { consumer: Node; index: number; worst: number; bad: boolean; checked: number }[] = [];
  for (const { consumer: c, index, value } of picked) {
    const g = vals.get(p.adjoints.get(c.id)!.id)!;
    const ins = c.inputs.map((x) => vals.get(x.id)!);
    const got = vals.get(value.id)!;
    const def = opDef(c.op);
    let worst = 0;
    let bad = false;
    const x = Float64Array.from(ins[index]!);
    const elems = sample !== undefined && rand && x.length > sample ? Array.from({ length: sample }, () => Math.floor(rand(0, x.length))) : x.map((_, j) => j);
    for (const j of elems) {
      const f = (d: number) => {
        const xs = ins.slice();
        const xj = Float64Array.from(x);
        xj[j] = x[j]! + d;
        xs[index] = xj;
        const y =
          c.op === "custom"
            ? evaluate([c.inputs[0]!], env, new Map(c.inputs.slice(1).map((xi, k) => [xi.id, k + 1 === index ? xj : ins[k + 1]!])), n).get(c.inputs[0]!.id)!
            : def.eval!(xs, c);
        return y.reduce((s, yk, k) => s + yk * g[k]!, 0);
      };
      const [up, down] = [f(eps), f(-eps)];
      const close = (v: number) => Number.isFinite(v) && Number.isFinite(got[j]!) && Math.abs(got[j]! - v) <= atol + rtol * Math.abs(v);
      const central = Number.isFinite(up) && Number.isFinite(down);
      let num = central ? (up - down) / (2 * eps) : (insideDifference(f, f(0), eps) ?? NaN);
      if (central && !close(num)) {
        const rich = extrapolated(f, eps, num);
        if (close(rich)) num = rich;
      }
      const abs = Math.abs(got[j]! - num);
      worst = Math.max(worst, Number.isNaN(abs) ? Infinity : abs);
      if (!close(num)) bad = true;
    }
    out.push({ consumer: c, index, worst, bad, checked: elems.length });
  }
  return out;
}

const fmt = (x: number) => (Number.isNaN(x) ? "NaN" : x === 0 ? "0" : x.toExponential(2));

/** The report as the CLI prints it. */
export function formatReport(source: string, r: CheckReport): string {
  const rows: string[][] = [["param", "shape", "checked", "max abs err", "max rel err", "worst index", "f32 vs f64", "status"]];
  for (const p of r.params)
    rows.push([
      p.name, `[${p.shape.join(",")}]`, `${p.checked}/${p.size}`, fmt(p.maxAbs), fmt(p.maxRel),
      `[${p.worst.join(",")}]`, fmt(p.f32MaxAbs),
      (p.checked === 0 && r.forward ? "NOT CHECKED" : p.ok && p.f32Ok ? "ok" : !p.ok ? (p.nonFinite ? "NOT FINITE" : "MISMATCH") : "F32 DRIFT") +
        (p.kinks ? ` (${p.kinks} at a kink: one-sided)` : "") +
        (p.edges ? ` (${p.edges} near a domain edge: steps inside)` : "") +
        (p.extrapolated ? ` (${p.extrapolated} near a pole: extrapolated)` : ""),
    ]);
  const w = rows[0]!.map((_, j) => Math.max(...rows.map((row) => row[j]!.length)));
  const lines = [
    `gradc check ${source}: ${r.points} point(s), central differences eps ${r.eps}, atol ${r.atol}, rtol ${r.rtol}`,
    "",
    ...(r.params.length ? rows.map((row) => row.map((c, j) => c.padEnd(w[j]!)).join("  ").trimEnd()) : ["(no params)"]),
  ];
  for (const o of r.outputs)
    lines.push(`output ${o.name}: generated vs reference max abs err ${fmt(o.maxAbs)}, f32 vs f64 ${fmt(o.f32MaxAbs)}  ${o.ok ? "ok" : "MISMATCH"}`);
  if (r.forward) {
    const f = r.forward;
    lines.push(
      `forward is ${f.value} at point ${f.point + 1}: ` +
        (f.leaf
          ? `${f.op} '${f.node}' holds ${f.value}`
          : `node '${f.node}' (op ${f.op}${f.line !== undefined ? `, spec line ${f.line}` : ""}) is the first to give ${f.value}, from finite inputs`) +
        ` — not a derivative problem; gradients are not compared where the loss is not finite`,
    );
  }
  if (r.loss) lines.push(`loss: generated ${r.loss.generated} vs reference ${r.loss.reference}  ${r.loss.ok ? "ok" : "MISMATCH"}`);
  for (const p of r.params)
    if (p.firstBad)
      lines.push(`${p.name}[${p.firstBad.index.join(",")}]: generated ${p.firstBad.generated} vs numeric ${p.firstBad.numeric}`);
  for (const b of r.boxes ?? [])
    lines.push(
      `custom op '${b.name}'${b.line !== undefined ? ` (spec line ${b.line})` : ""}: its vjp vs central differences of its forward, ${b.checked} element(s), max abs err ${fmt(b.maxAbs)}  ` +
        (b.ok ? "ok" : `MISMATCH (input ${b.badInput})`),
    );
  if (r.culprit?.custom) {
    const c = r.culprit.custom;
    lines.push(
      `the vjp of custom op '${c.name}' (m.custom${c.line !== undefined ? ` at spec line ${c.line}` : ""}; input ${r.culprit.input - 1}) disagrees with central differences of its forward (max abs err ${fmt(r.culprit.maxAbs)}): the derivative rule written in the spec is wrong`,
    );
  } else if (r.culprit)
    lines.push(
      `the derivative rule of op '${r.culprit.op}' (node ${r.culprit.node}, input ${r.culprit.input}) disagrees with central differences of its eval (max abs err ${fmt(r.culprit.maxAbs)})`,
    );
  lines.push(r.ok ? "ok: every gradient matches" : "FAILED");
  return lines.join("\n");
}
