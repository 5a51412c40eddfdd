/**
 * Derivatives at kinks and at the edges of an op's domain: a forward pass
 * free of NaN must not give a NaN gradient. The subgradients chosen (see
 * docs/numerics.md) are checked exactly, in the reference interpreter and in
 * the generated code (float64 and float32; unrolled and loops):
 *   relu'(0) = 0, abs'(0) = 0, step' = sign' = 0,
 *   max(a, b) and min(a, b) on a tie: the gradient split evenly (g/2 to each),
 *   where(c, a, b): exactly 0 to the unselected branch, whatever its value.
 * Then a sweep over every elementwise op at special points (0, ±1, huge,
 * tiny, overflow edges): wherever the forward is finite, the gradient is not
 * NaN — except where the real derivative does not exist (listed).
 */
import { describe, expect, it } from "vitest";
import { gradients } from "../../compiler/autodiff/reverse.ts";
import { importModule } from "../../compiler/emit/load.ts";
import { B, Graph, type Node } from "../../compiler/ir/graph.ts";
import { evaluate } from "../../compiler/ir/interp.ts";
import type { Leaf } from "../../compiler/ir/model.ts";
import { OPS, type OpDef } from "../../compiler/ir/ops.ts";
import { compile } from "../../compiler/index.ts";

/** y = sum(f(params, inputs)); returns d y / d params from the interpreter and from four compiled builds. */
async function gradsEverywhere(
  f: (b: B, p: Node[], x: Node[]) => Node,
  params: Record<string, number[]>,
  inputs: Record<string, number[]> = {},
) {
  const g = new Graph();
  const b = new B(g);
  const leaf = (kind: "param" | "input", name: string, v: number[]): Leaf => ({
    name,
    node: g.mk(kind, [], { name, shape: [v.length] }),
    shape: [v.length],
    ...(kind === "param" ? { init: "zeros" as const } : {}),
  });
  const ps = Object.entries(params).map(([k, v]) => leaf("param", k, v));
  const xs = Object.entries(inputs).map(([k, v]) => leaf("input", k, v));
  const y = b.sum(
    f(
      b,
      ps.map((l) => l.node),
      xs.map((l) => l.node),
    ),
  );
  const values = Object.fromEntries(Object.entries({ ...params, ...inputs }).map(([k, v]) => [k, Float64Array.from(v)]));
  const { grads } = gradients(
    b,
    y,
    ps.map((l) => l.node),
  );
  const at = evaluate([y, ...grads], values);
  const out: Record<string, { loss: number; grads: number[][] }> = {
    interpreter: { loss: at.get(y.id)![0]!, grads: grads.map((n) => Array.from(at.get(n.id)!)) },
  };
  const model = { name: "kink", source: "test", graph: g, inputs: xs, params: ps, outputs: [], loss: y, names: new Map(), where: new Map() };
  for (const [name, opts] of [
    ["f64", { precision: "f64" }],
    ["f64 loops", { precision: "f64", unrollLimit: 0 }],
    ["f32", { precision: "f32" }],
    ["f32 loops", { precision: "f32", unrollLimit: 0 }],
  ] as const) {
    const mod = await importModule((await compile(model, opts)).js);
    const buf = mod.buffers();
    for (const s of mod.layout.params) buf.params.set(params[s.name]!, s.offset);
    for (const s of mod.layout.inputs) buf.inputs.set(inputs[s.name]!, s.offset);
    mod.forward(buf.params, buf.inputs, buf.arena);
    mod.backward!(buf.params, buf.inputs, buf.arena, buf.grads);
    out[name] = {
      loss: buf.arena[mod.layout.lossOffset!]!,
      grads: mod.layout.params.map((s) => Array.from(buf.grads.subarray(s.offset, s.offset + s.size))),
    };
  }
  return out;
}

/** Every build gives exactly `want` (and a finite loss). `-0` and `0` count as equal. */
const expectAll = (r: Awaited<ReturnType<typeof gradsEverywhere>>, want: number[][]) => {
  for (const [build, { loss, grads }] of Object.entries(r)) {
    expect(Number.isFinite(loss), `${build}: loss ${loss}`).toBe(true);
    expect(grads.map((g) => g.map((v) => v + 0)), build).toEqual(want);
  }
};

describe("subgradients at kinks (docs/numerics.md)", () => {
  it("relu'(0) = 0, and 1 / 0 on either side", async () => {
    expectAll(await gradsEverywhere((b, [p]) => b.op("relu", p!), { p: [0, -0, 1e-30, -1e-30, 2, -2] }), [[0, 0, 1, 0, 1, 0]]);
  });

  it("abs'(0) = 0, sign elsewhere", async () => {
    expectAll(await gradsEverywhere((b, [p]) => b.op("abs", p!), { p: [0, -0, 1e-30, -1e-30, 3, -3] }), [[0, 0, 1, -1, 1, -1]]);
  });

  it("step and sign have gradient 0 everywhere, at 0 too", async () => {
    expectAll(
      await gradsEverywhere((b, [p]) => b.add(b.op("step", p!), b.op("sign", p!)), { p: [0, -0, 1, -1] }),
      [[0, 0, 0, 0]],
    );
  });

  it("max and min on a tie: the gradient split evenly, g/2 to each", async () => {
    const r = await gradsEverywhere((b, [a, c]) => b.add(b.op("max", a!, c!), b.mul(b.op("min", a!, c!), 3)), {
      a: [1, -0, 2, 5],
      c: [1, 0, 5, 2],
    });
    // max: ties -> 1/2 each; a < c -> c; a > c -> a. min (×3): ties -> 3/2 each; a < c -> a; a > c -> c.
    expectAll(r, [
      [2, 2, 3, 1],
      [2, 2, 1, 3],
    ]);
  });

  it("identities hold through ties: max(a,b) + min(a,b) = a + b, max(x,x) = min(x,x) = x", async () => {
    // The case: at a = b = 1 the first-input convention gave [2, 0]; the truth is [1, 1].
    const r = await gradsEverywhere((b, [a, c]) => b.add(b.op("max", a!, c!), b.op("min", a!, c!)), { a: [1, 0, -3, 2], c: [1, 0, -3, 7] });
    expectAll(r, [
      [1, 1, 1, 1],
      [1, 1, 1, 1],
    ]);
    expectAll(await gradsEverywhere((b, [a]) => b.add(b.op("max", a!, a!), b.op("min", a!, a!)), { a: [1, 0, -2] }), [[2, 2, 2]]);
  });

  it("max(p, q): all to the larger, half each at a tie", async () => {
    const r = await gradsEverywhere((b, [p, q]) => b.op("max", p!, q!), { p: [3, 1], q: [1, 1] });
    expectAll(r, [
      [1, 0.5],
      [0, 0.5],
    ]);
  });

  it("sqrt, log, log2, log10 at -0: the derivative is +Infinity, the limit from inside the domain (was -Infinity)", async () => {
    expectAll(await gradsEverywhere((b, [p]) => b.op("sqrt", p!), { p: [-0, 0] }), [[Infinity, Infinity]]);
    for (const op of ["log", "log2", "log10"]) // (the loss itself is -Infinity there)
      for (const [build, { grads }] of Object.entries(await gradsEverywhere((b, [p]) => b.op(op, p!), { p: [-0, 0] })))
        expect(grads, `${op} ${build}`).toEqual([[Infinity, Infinity]]);
  });

  it("where: exactly 0 to the unselected branch, even when that branch is ±Infinity or NaN", async () => {
    // y = where(c, p, q) + where(c2, q2, p2) with infinite / NaN values in the branches not taken.
    const r = await gradsEverywhere(
      (b, [p, p2], [c, c2, q, q2]) => b.add(b.where(c!, p!, q!), b.where(c2!, q2!, p2!)),
      { p: [1, 2, 3], p2: [4, 5, 6] },
      { c: [1, 1, 0], c2: [0, 0, 1], q: [Infinity, -Infinity, 7], q2: [NaN, NaN, 8] },
    );
    expectAll(r, [
      [1, 1, 0],
      [1, 1, 0],
    ]);
  });

  // FIXED: where's rule sends an exact 0 to the unselected branch, but the chain rule then multiplied that 0 by the
  // branch's own derivative, infinite where the branch is: 0 · Inf = NaN. Now an elementwise rule whose adjoint is such a
  // select runs on the selected adjoint and puts the select around its result (compiler/ir/ops.ts, `elementwise`).
  it("where(c, p, 1/p) at p = 0 with c = 1: d/dp = 1, not NaN", async () => {
    expectAll(await gradsEverywhere((b, [p], [c]) => b.where(c!, p!, b.div(1, p!)), { p: [0] }, { c: [1] }), [[1]]);
  });

  it("the double-where workaround: where(c, p, 1/where(c, 1, p)) keeps the unselected branch finite", async () => {
    expectAll(
      await gradsEverywhere((b, [p], [c]) => b.where(c!, p!, b.div(1, b.where(c!, 1, p!))), { p: [0, 2] }, { c: [1, 0] }),
      [[1, -0.25]],
    );
  });
});

describe("domain edges: 0 where the derivative is 0 or infinite, not NaN", () => {
  it("pow(x, y) at x = 0: d/dy = 0 (y > 0), and d/dx = 0 for y = 0", async () => {
    const r = await gradsEverywhere((b, [x, y]) => b.pow(x!, y!), { x: [0, 0, 0, 2], y: [2, 0.5, 3, 2] });
    for (const [build, { grads }] of Object.entries(r)) {
      expect(grads[1]!.map((v) => v + 0), `${build} d/dy`).toEqual([0, 0, 0, build.startsWith("f32") ? Math.fround(4 * Math.LN2) : 4 * Math.LN2]);
      expect(grads[0], `${build} d/dx`).toEqual([0, Infinity, 0, 4]);
    }
    // x^0 = 1 for every x, so d/dx = 0 at x = 0 too (0 · 0^-1 would be NaN).
    expectAll(await gradsEverywhere((b, [x]) => b.pow(x!, 0), { x: [0, 1] }), [[0, 0]]);
  });

  it("nthRoot(x, n) at x = 0: d/dx = +Infinity (like sqrt and cbrt), d/dn = 0", async () => {
    const r = await gradsEverywhere((b, [x, n]) => b.op("nthRoot", x!, n!), { x: [0, 8], n: [3, 3] });
    for (const [build, { grads }] of Object.entries(r)) {
      expect(grads[0]![0], `${build} d/dx at 0`).toBe(Infinity);
      expect(grads[0]![1], `${build} d/dx at 8`).toBeCloseTo(1 / 12, 6); // 1 / (3 · 8^(2/3))
      expect(grads[1]![0]! + 0, `${build} d/dn at 0`).toBe(0);
      expect(grads[1]![1], `${build} d/dn at 8`).toBeCloseTo((-2 * Math.log(8)) / 9, 6);
    }
  });
});

describe("sweep: every elementwise op at special points", () => {
  const S = [0, -0, 1, -1, 0.5, -0.5, 2, -2, 3, 1e-300, -1e-300, 1e300, -1e300, 709, 710, -745, -746, 1e-8, Math.PI / 2, Math.PI];
  /**
   * Where a NaN gradient is the truth, the real derivative does not exist:
   * - pow(x, y) with x < 0: x^y is real only at integer y, so d/dy (x^y ln x) does not exist;
   * - logb(x, 0): base 0 is no base;
   * - nthRoot(x, n) with n = 0, or so small that n^2 underflows (|n| < 1e-154): no root, or no
   *   float64 way to write its derivative -r ln|x| / n^2.
   */
  const NO_DERIVATIVE: Record<string, (a: number, c: number) => boolean> = {
    pow: (a) => a < 0,
    logb: (_, c) => c === 0,
    nthRoot: (_, c) => !Number.isFinite(1 / (c * c)),
  };
  it("a finite forward never gives a NaN gradient (interpreter)", () => {
    const bad: string[] = [];
    for (const [op, d] of Object.entries(OPS as Record<string, OpDef>)) {
      if (d.kind !== "elementwise" || !d.vjp || d.arity === 3) continue;
      const combos = d.arity === 1 ? S.map((s) => [s]) : S.flatMap((a) => S.map((c) => [a, c]));
      for (const vals of combos) {
        if (NO_DERIVATIVE[op]?.(vals[0]!, vals[1]!)) continue;
        const g = new Graph();
        const b = new B(g);
        const ps = vals.map((_, i) => g.mk("param", [], { name: `p${i}`, shape: [] }));
        const y = b.op(op, ...ps);
        const { grads } = gradients(b, y, ps);
        const v = evaluate([y, ...grads], Object.fromEntries(vals.map((x, i) => [`p${i}`, Float64Array.of(x)])));
        if (!Number.isFinite(v.get(y.id)![0]!)) continue;
        const gs = grads.map((n) => v.get(n.id)![0]!);
        if (gs.some(Number.isNaN)) bad.push(`${op}(${vals.join(", ")}) = ${v.get(y.id)![0]}: gradient ${gs.join(", ")}`);
      }
    }
    expect(bad).toEqual([]);
  });
});
