// A training step (forward, backward, SGD update) allocates nothing: no
// scavenge (the GC that allocation triggers) runs during the steps, and the
// heap grows by less than one small object per 16 steps. A single boxed
// double per step would be 16 MB over the xor run.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { builder } from "../../compiler/frontend/dsl.ts";
import { compile } from "../../compiler/index.ts";

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
  it("a conv net (conv + bias + ReLU, max-pool, strided conv, avg-pool, dense; JS conv loops): 12,000 steps, full and partial batches", async () => {
    const m = builder("convalloc", "convalloc.ts");
    m.batch(8);
    const x = m.input("x", ["batch", 1, 12, 12]);
    const h = m.relu(m.conv2d(x, m.param("W1", [4, 1, 3, 3]), { padding: "same", bias: m.param("b1", [4]) }));
    const p = m.maxPool2d(h, { size: 2 });
    const c = m.tanh(m.conv2d(p, m.param("W2", [8, 4, 3, 3]), { stride: 2, padding: [1, 1, 0, 0] }));
    const a = m.avgPool2d(c, { size: 3, stride: 1, padding: 1 });
    m.loss(m.mean(m.softmaxCrossEntropy(m.flatten(a).matmul(m.param("W3", [72, 5])), m.input("y", ["batch", 5]))));
    const dir = mkdtempSync(path.join(tmpdir(), "gradc-convalloc-"));
    try {
      const file = path.join(dir, "convalloc.mjs");
      writeFileSync(file, (await compile(m.finish(), { trainer: false })).js);
      const r = probe(file, 12_000); // the probe warms up for a quarter of them: fewer leave V8 time to box doubles before it optimizes
      expect(Number.isFinite(r.loss)).toBe(true);
      expect(r.scavenges).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
  it("mnist: 100 steps, full and partial batches", () => {
    const r = probe("generated/mnist.js", 100);
    expect(Number.isFinite(r.loss)).toBe(true);
    expect(r.scavenges).toBe(0);
  });
});
