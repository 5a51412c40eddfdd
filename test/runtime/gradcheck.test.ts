// runtime/gradcheck.ts: central differences and the comparison report.
import { describe, expect, it } from "vitest";
import { compareGrads, numericGrad } from "../../runtime/index.ts";

describe("numericGrad", () => {
  const f = (p: Float64Array) => Math.sin(p[0]!) * p[1]! + p[2]! ** 3;
  const exact = (p: number[]) => [Math.cos(p[0]!) * p[1]!, Math.sin(p[0]!), 3 * p[2]! ** 2];

  it("matches the analytic gradient to O(eps^2) and restores params exactly", () => {
    const p = new Float64Array([0.3, -1.2, 0.7]);
    const before = Array.from(p);
    const g = numericGrad(f, p);
    expect(Array.from(p)).toEqual(before);
    exact(before).forEach((e, i) => expect(g[i]).toBeCloseTo(e, 8));
  });

  it("checks only the given indices, in their order", () => {
    const p = new Float64Array([0.3, -1.2, 0.7]);
    const g = numericGrad(f, p, 1e-5, [2, 0]);
    expect(g.length).toBe(2);
    expect(g[0]).toBeCloseTo(3 * 0.49, 7);
    expect(g[1]).toBeCloseTo(Math.cos(0.3) * -1.2, 7);
    expect(() => numericGrad(f, p, 1e-5, [3])).toThrow(/outside params/);
    expect(() => numericGrad(f, p, 0)).toThrow(/eps/);
  });
});

describe("compareGrads", () => {
  it("passes within atol + rtol |numeric| and reports the worst entry", () => {
    const r = compareGrads([1, 2, 3], [1, 2.001, 3]);
    expect(r.ok).toBe(true);
    expect(r.worst).toBe(1);
    expect(r.maxAbs).toBeCloseTo(0.001, 12);
    expect(r.maxRel).toBeCloseTo(0.001 / 2.001, 12);
    expect([r.analytic, r.numeric]).toEqual([2, 2.001]);
  });

  it("fails past the tolerance, and on NaN", () => {
    const bad = compareGrads([1, 2, 3], [1, 2, 3.1]);
    expect(bad.ok).toBe(false);
    expect(bad.worst).toBe(2);
    const nan = compareGrads([1, NaN], [1, 1]);
    expect(nan.ok).toBe(false);
    expect(nan.worst).toBe(1);
    expect(nan.maxAbs).toBeNaN();
  });

  it("maps a subset through indices", () => {
    const r = compareGrads([9, 1, 9, 5], [1, 5.5], { indices: [1, 3] });
    expect(r.ok).toBe(false);
    expect([r.worst, r.analytic, r.numeric]).toEqual([3, 5, 5.5]);
    expect(() => compareGrads([1, 2], [1])).toThrow(/indices/);
  });
});
