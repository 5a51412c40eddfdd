// The classic experiments the examples reproduce (Rumelhart, Hinton & Williams
// 1986), run through the trainer on the checked-in generated modules, and the
// symmetry problem of an all-zero initialization.
import { describe, expect, it } from "vitest";
import { run as symmetryRun, data as symmetryData } from "../../examples/symmetry/train.ts";
import { summarize, sweepsToConverge } from "../../examples/xor-rhw/train.ts";
import * as symmetry from "../../generated/symmetry.js";
import { createTrainer, momentum } from "../../runtime/index.ts";

describe("Rumelhart, Hinton & Williams (1986)", () => {
  it("XOR 2-2-1, lr 0.5, momentum 0.9: all 20 seeds converge, median near their 558 sweeps", () => {
    const s = summarize(Array.from({ length: 20 }, (_, i) => sweepsToConverge(i + 1)));
    expect(s.failures).toBe(0);
    expect(s.median).toBeGreaterThan(300);
    expect(s.median).toBeLessThan(1200);
  });

  it("symmetry 6-2-1: converges to mirror-image weights of opposite sign", () => {
    const { sweeps, params } = symmetryRun(5);
    expect(sweeps).toBeGreaterThan(100);
    expect(sweeps).toBeLessThan(20_000);
    // input i and input 7 - i get equal and opposite weights on each hidden unit
    for (const j of [0, 1])
      for (const i of [0, 1, 2]) expect(params[i * 2 + j]!).toBeCloseTo(-params[(5 - i) * 2 + j]!, 0);
  });
});

describe("why an all-zero initialization fails", () => {
  it("both hidden units get identical gradients at every step, so they stay identical: one unit's worth of network", () => {
    const t = createTrainer(symmetry, { optimizer: momentum({ lr: 0.1, momentum: 0.9 }), init: "zeros" });
    t.fit(symmetryData, { epochs: 5000, progress: false });
    const W1 = symmetry.layout.params.find((p) => p.name === "W1")!;
    const unit = (j: number) => [0, 1, 2, 3, 4, 5].map((i) => t.params[W1.offset + i * 2 + j]);
    expect(unit(0)).toEqual(unit(1)); // bit for bit
    expect(Math.max(...unit(0).map(Math.abs))).toBeGreaterThan(1); // they did learn — the same thing
    expect(t.evaluate(symmetryData).accuracy).toBe(56 / 64); // "never symmetric": the 56 asymmetric patterns
  });
});
