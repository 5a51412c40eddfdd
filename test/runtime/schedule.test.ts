// runtime/schedule.ts: each schedule's values at chosen steps.
import { describe, expect, it } from "vitest";
import { constant, cosine, exponentialDecay, stepDecay } from "../../runtime/index.ts";

describe("schedules", () => {
  it("constant", () => {
    const s = constant(0.01);
    expect([s(0), s(1), s(1e6)]).toEqual([0.01, 0.01, 0.01]);
  });

  it("stepDecay multiplies by factor every `every` steps", () => {
    const s = stepDecay({ lr: 0.1, every: 100, factor: 0.5 });
    expect([s(0), s(99), s(100), s(199), s(200), s(350)]).toEqual([0.1, 0.1, 0.05, 0.05, 0.025, 0.0125]);
    expect(stepDecay({ lr: 1, every: 1 })(3)).toBe(0.125); // default factor 0.5
  });

  it("exponentialDecay is smooth, or a staircase", () => {
    const s = exponentialDecay({ lr: 1, rate: 0.5, every: 10 });
    expect(s(0)).toBe(1);
    expect(s(10)).toBeCloseTo(0.5, 15);
    expect(s(5)).toBeCloseTo(Math.SQRT1_2, 15);
    const st = exponentialDecay({ lr: 1, rate: 0.5, every: 10, staircase: true });
    expect([st(9), st(10), st(25)]).toEqual([1, 0.5, 0.25]);
  });

  it("cosine falls from lr to minLr over `steps`, then stays; warmup ramps linearly first", () => {
    const s = cosine({ lr: 1, steps: 100, minLr: 0.1 });
    expect(s(0)).toBe(1);
    expect(s(50)).toBeCloseTo(0.55, 12); // halfway: the mean of lr and minLr
    expect(s(25)).toBeCloseTo(0.1 + 0.9 * (1 + Math.cos(Math.PI / 4)) / 2, 12);
    expect(s(100)).toBe(0.1);
    expect(s(5000)).toBe(0.1);
    const w = cosine({ lr: 1, steps: 110, warmup: 10 });
    expect([w(0), w(4), w(9)]).toEqual([0.1, 0.5, 1]);
    expect(w(10)).toBe(1);
    expect(w(60)).toBeCloseTo(0.5, 12);
  });

  it("a schedule is just a function: a custom one needs no helper", () => {
    const warm = (t: number) => Math.min(1, (t + 1) / 10) * 0.1;
    expect(warm(0)).toBeCloseTo(0.01, 15);
    expect(warm(100)).toBe(0.1);
  });

  it("rejects bad arguments", () => {
    expect(() => stepDecay({ lr: 0.1, every: 0 })).toThrow(/every must be a whole number/);
    expect(() => cosine({ lr: 0.1, steps: 10, warmup: 10 })).toThrow(/warmup/);
    expect(() => cosine({ lr: 0.1, steps: 10, minLr: 1 })).toThrow(/minLr/);
    expect(() => exponentialDecay({ lr: 0.1, rate: 0 })).toThrow(/rate/);
    expect(() => constant(-1)).toThrow(/lr/);
  });
});
