// Zero allocation per training step: 60,000 trainer steps after a warm-up
// (batch packing with input dropout and partial batches, forward, backward,
// L2, the finiteness check, Adam on a cosine schedule) in a fresh process
// with --expose-gc. A heap number per step (16 bytes) would add 960 KB.
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";

describe("allocation", () => {
  it("a training step allocates nothing: no GC, flat heap", () => {
    const r = spawnSync(process.execPath, ["--expose-gc", "--import", "tsx", "test/runtime/alloc-probe.ts", "60000"], { encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    const { gcs, heapDelta, loss } = JSON.parse(r.stdout) as { gcs: number; heapDelta: number; loss: number };
    expect(gcs, r.stdout).toBe(0);
    expect(heapDelta).toBeLessThan(200_000);
    expect(Number.isFinite(loss)).toBe(true);
  });
});
