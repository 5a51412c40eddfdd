// A training step (forward, backward, SGD update) allocates nothing: no
// scavenge (the GC that allocation triggers) runs during the steps, and the
// heap grows by less than one small object per 16 steps. A single boxed
// double per step would be 16 MB over the xor run.
import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";

const probe = (file: string, steps: number) =>
  JSON.parse(
    execFileSync("node", ["--expose-gc", "test/fixtures/alloc-probe.mjs", file, String(steps)], { encoding: "utf8" }),
  ) as { gcs: number; scavenges: number; heapDelta: number; loss: number };

describe("zero allocation per step", () => {
  it("xor: 1,000,000 steps", () => {
    const r = probe("generated/xor.js", 1_000_000);
    expect(Number.isFinite(r.loss)).toBe(true);
    expect(r.scavenges).toBe(0);
    expect(r.heapDelta).toBeLessThan(1_000_000);
  });
  it("mnist: 100 steps, full and partial batches", () => {
    const r = probe("generated/mnist.js", 100);
    expect(Number.isFinite(r.loss)).toBe(true);
    expect(r.scavenges).toBe(0);
  });
});
