// runtime/init.ts: every init kind, its scale (fan-in / fan-out), bounds and
// determinism per seed.
import { describe, expect, it } from "vitest";
import { fans, initParams } from "../../runtime/init.ts";
import { type Init, type Layout, RuntimeError } from "../../runtime/types.ts";

/** A layout with only params, laid out back to back. */
function layoutOf(params: { name: string; shape: number[]; init: Init }[]): Layout {
  let offset = 0;
  const slots = params.map((p) => {
    const size = p.shape.reduce((a, b) => a * b, 1);
    const s = { ...p, offset, size };
    offset += size;
    return s;
  });
  return {
    name: "t",
    source: "test",
    params: slots,
    paramSize: offset,
    inputs: [],
    inputSize: 0,
    outputs: [],
    arenaSize: 0,
    hasLoss: false,
  };
}
const init1 = (shape: number[], init: Init, seed = 1) => {
  const l = layoutOf([{ name: "p", shape, init }]);
  return initParams(l, new Float64Array(l.paramSize), seed);
};
const mean = (a: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]!;
  return s / a.length;
};
const variance = (a: ArrayLike<number>) => {
  const m = mean(a);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i]! - m) ** 2;
  return s / (a.length - 1);
};
const maxAbs = (a: ArrayLike<number>) => Math.max(...Array.from(a, Math.abs));

describe("fans", () => {
  it("reads [in, out] matrices as fan_in = in, fan_out = out", () => {
    expect(fans([3, 5])).toEqual({ fanIn: 3, fanOut: 5 });
    expect(fans([2, 1])).toEqual({ fanIn: 2, fanOut: 1 });
  });
  it("treats vectors [n] and rows [1, n] (biases) as fan_in = fan_out = n, scalars as 1", () => {
    expect(fans([7])).toEqual({ fanIn: 7, fanOut: 7 });
    expect(fans([1, 7])).toEqual({ fanIn: 7, fanOut: 7 });
    expect(fans([])).toEqual({ fanIn: 1, fanOut: 1 });
  });
  it("uses the last axis as fan_out and the product of the others as fan_in for rank 3 and >= 5", () => {
    expect(fans([3, 4, 8])).toEqual({ fanIn: 12, fanOut: 8 });
    expect(fans([2, 3, 3, 4, 8])).toEqual({ fanIn: 72, fanOut: 8 });
  });
  it("reads rank-4 weights as conv filters in OIHW order: fan_in = C·R·S, fan_out = K·R·S", () => {
    expect(fans([6, 1, 5, 5])).toEqual({ fanIn: 25, fanOut: 150 });
    expect(fans([16, 6, 5, 5])).toEqual({ fanIn: 150, fanOut: 400 });
  });
});

describe("initParams", () => {
  it("fills zeros and ones", () => {
    expect(Array.from(init1([2, 3], "zeros"))).toEqual([0, 0, 0, 0, 0, 0]);
    expect(Array.from(init1([1, 4], "ones"))).toEqual([1, 1, 1, 1]);
  });

  it("xavier: U(-a, a), a = sqrt(6 / (fan_in + fan_out)), variance a^2 / 3", () => {
    const [fi, fo] = [200, 300];
    const a = Math.sqrt(6 / (fi + fo));
    const w = init1([fi, fo], "xavier");
    expect(maxAbs(w)).toBeLessThanOrEqual(a);
    expect(maxAbs(w)).toBeGreaterThan(0.99 * a); // 60 000 draws reach the edges
    expect(Math.abs(mean(w))).toBeLessThan((5 * a) / Math.sqrt(3 * w.length));
    expect(variance(w) / ((a * a) / 3)).toBeCloseTo(1, 1);
    // The XOR-sized case: [2, 2] has a = sqrt(6/4).
    expect(maxAbs(init1([2, 2], "xavier", 7))).toBeLessThanOrEqual(Math.sqrt(1.5));
  });

  it("xavierNormal: N(0, 2 / (fan_in + fan_out))", () => {
    const w = init1([200, 300], "xavierNormal");
    expect(Math.abs(mean(w))).toBeLessThan(5 * Math.sqrt(2 / 500 / w.length));
    expect(variance(w) / (2 / 500)).toBeCloseTo(1, 1);
  });

  it("he: N(0, 2 / fan_in); heUniform: U(-a, a), a = sqrt(6 / fan_in), the same variance", () => {
    const he = init1([250, 240], "he");
    expect(variance(he) / (2 / 250)).toBeCloseTo(1, 1);
    const hu = init1([250, 240], "heUniform");
    expect(maxAbs(hu)).toBeLessThanOrEqual(Math.sqrt(6 / 250));
    expect(variance(hu) / (2 / 250)).toBeCloseTo(1, 1);
  });

  it("uses fan_in = fan_out = n for a bias row [1, n]", () => {
    const b = init1([1, 1000], "xavier");
    expect(maxAbs(b)).toBeLessThanOrEqual(Math.sqrt(6 / 2000));
    expect(maxAbs(b)).toBeGreaterThan(0.95 * Math.sqrt(6 / 2000));
  });

  it("uniform [lo, hi] and normal [mean, std]", () => {
    const u = init1([100, 100], { uniform: [2, 3] });
    expect(Math.min(...u)).toBeGreaterThanOrEqual(2);
    expect(Math.max(...u)).toBeLessThan(3);
    expect(mean(u)).toBeCloseTo(2.5, 2);
    const n = init1([100, 100], { normal: [-1, 0.1] });
    expect(mean(n)).toBeCloseTo(-1, 2);
    expect(Math.sqrt(variance(n))).toBeCloseTo(0.1, 2);
    expect(() => init1([2], { uniform: [1, 0] })).toThrow(RuntimeError);
    expect(() => init1([2], { normal: [0, -1] })).toThrow(RuntimeError);
  });

  it("value: copies the numbers exactly (row-major) and checks the length", () => {
    expect(Array.from(init1([2, 2], { value: [1, -2, 0.25, 3] }))).toEqual([1, -2, 0.25, 3]);
    const f32 = initParams(layoutOf([{ name: "p", shape: [3], init: { value: [0.1, 0.2, 0.3] } }]), new Float32Array(3), 0);
    expect(Array.from(f32)).toEqual([Math.fround(0.1), Math.fround(0.2), Math.fround(0.3)]);
    expect(() => init1([2, 2], { value: [1, 2, 3] })).toThrow(/init value has 3 numbers, shape \[2,2\] needs 4/);
    expect(() => init1([1], { value: [NaN] })).toThrow(RuntimeError);
  });

  it("rejects an unknown init and a params buffer of the wrong size", () => {
    expect(() => init1([2], "glorot" as Init)).toThrow(/unknown init/);
    expect(() => initParams(layoutOf([{ name: "p", shape: [2], init: "ones" }]), new Float32Array(3), 0)).toThrow(/needs 2/);
  });

  it("is deterministic per seed, in float32 and float64", () => {
    const l = layoutOf([
      { name: "W", shape: [4, 3], init: "xavier" },
      { name: "b", shape: [1, 3], init: { normal: [0, 1] } },
    ]);
    const a = initParams(l, new Float64Array(l.paramSize), 5);
    expect(initParams(l, new Float64Array(l.paramSize), 5)).toEqual(a);
    expect(initParams(l, new Float64Array(l.paramSize), 6)).not.toEqual(a);
    const f = initParams(l, new Float32Array(l.paramSize), 5);
    expect(Array.from(f)).toEqual(Array.from(a, Math.fround));
  });

  it("draws each parameter from its own stream: adding or reordering params leaves the others unchanged", () => {
    const W = { name: "W", shape: [3, 2], init: "xavier" as Init };
    const V = { name: "V", shape: [5, 5], init: "he" as Init };
    const alone = initParams(layoutOf([W]), new Float64Array(6), 3);
    const after = initParams(layoutOf([V, W]), new Float64Array(31), 3);
    expect(Array.from(after.subarray(25))).toEqual(Array.from(alone));
    // Two params with the same shape and init but different names get different values.
    const twins = initParams(layoutOf([W, { ...W, name: "W2" }]), new Float64Array(12), 3);
    expect(Array.from(twins.subarray(0, 6))).not.toEqual(Array.from(twins.subarray(6)));
  });

  it("override replaces every parameter's init (e.g. zeros for the symmetry demonstration)", () => {
    const l = layoutOf([
      { name: "W", shape: [2, 2], init: "xavier" },
      { name: "b", shape: [1, 2], init: "ones" },
    ]);
    expect(Array.from(initParams(l, new Float32Array(6), 1, "zeros"))).toEqual([0, 0, 0, 0, 0, 0]);
  });
});
