// Zero allocation per training step: 60,000 trainer steps after a warm-up
// (batch packing with input dropout and partial batches, forward, backward,
// L2, the finiteness check, Adam on a cosine schedule) in a fresh process
// with --expose-gc. A heap number per step (16 bytes) would add 960 KB.
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";

describe("allocation", () => {
  it.each([["inverted"], ["test"]])("a training step allocates nothing: no GC, flat heap (dropout scaling %s)", (scaling) => {
    const r = spawnSync(process.execPath, ["--expose-gc", "--import", "tsx", "test/runtime/alloc-probe.ts", "60000", scaling], { encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    const { gcs, heapDelta, loss } = JSON.parse(r.stdout) as { gcs: number; heapDelta: number; loss: number };
    expect(gcs, r.stdout).toBe(0);
    expect(heapDelta).toBeLessThan(200_000);
    expect(Number.isFinite(loss)).toBe(true);
  });
});

// The same through the trainer on the mnist module, whose update, L2 and check run as wasm kernels in its memory:
// every optimizer and schedule, through trainStep and fit (test/fixtures/trainer-alloc-probe.ts says how it counts).
// The probes optimize on the main thread (--no-concurrent-recompilation): V8's optimizing compiler otherwise runs on a
// background thread, which a loaded machine can delay past the warm-up, so unoptimized code's heap numbers were
// sampled (threads + dropout beside a 2-worker fuzz run: 6,176 bytes in 200 steps, every time; 0 with the flag).
describe("allocation on a module with wasm kernels (mnist)", () => {
  it("trainStep and fit allocate nothing per step with every optimizer and schedule", () => {
    const r = spawnSync(process.execPath, ["--interrupt-budget=4096", "--no-concurrent-recompilation", "--import", "tsx", "test/fixtures/trainer-alloc-probe.ts"], { encoding: "utf8", timeout: 280_000 });
    expect(r.status, r.stderr).toBe(0);
    const rows = JSON.parse(r.stdout) as { config: string; trainStep: number; fit: number; wasm: boolean }[];
    expect(rows.map((x) => x.config)).toEqual([
      "sgd/constant",
      "sgd/cosine+l2",
      "momentum/stepDecay",
      "nesterov/exponentialDecay+l2",
      "adagrad/constant()",
      "rmsprop/cosine",
      "adam/cosine+l2",
      "adamw/constant+l2",
    ]);
    // one heap number per step would be 16 B × 200 = 3,200 bytes (3,072 in fit's 192); the bound leaves room for one
    // stray sample of a re-optimization
    for (const x of rows) {
      expect(x.wasm, x.config).toBe(true);
      expect(x.trainStep, `${x.config}: bytes sampled in 200 trainStep calls`).toBeLessThan(600);
      // fit's figure is a difference of two sampled runs (sampling noise of a few hundred bytes): under half a heap number per step
      expect(x.fit, `${x.config}: bytes sampled in 192 of fit's steps`).toBeLessThan(1500);
    }
  }, 300_000);
});

// The same on two threads (a split update: each thread reduces, checks and updates its own range of the
// parameters), for three optimizers with state; the trainer's thread is what the profiler samples.
describe("allocation with threads: 2 on mnist", () => {
  it("trainStep and fit allocate nothing per step on the trainer's thread", () => {
    const r = spawnSync(process.execPath, ["--interrupt-budget=4096", "--no-concurrent-recompilation", "--import", "tsx", "test/fixtures/trainer-alloc-probe.ts"], {
      encoding: "utf8",
      timeout: 200_000,
      env: { ...process.env, PROBE_THREADS: "2", PROBE_ONLY: "^(momentum/stepDecay|adam/cosine\\+l2|adamw/constant\\+l2)$" },
    });
    expect(r.status, r.stderr).toBe(0);
    const rows = JSON.parse(r.stdout) as { config: string; trainStep: number; fit: number; wasm: boolean }[];
    expect(rows.map((x) => x.config)).toEqual(["momentum/stepDecay", "adam/cosine+l2", "adamw/constant+l2"]);
    for (const x of rows) {
      expect(x.wasm, x.config).toBe(true);
      expect(x.trainStep, `${x.config}: bytes sampled in 200 trainStep calls`).toBeLessThan(600);
      expect(x.fit, `${x.config}: bytes sampled in 192 of fit's steps`).toBeLessThan(1500);
    }
  }, 220_000);
});

// The same with dropout (a mask on the hidden layer and input dropout, test/fixtures/mnist-dropout.model.ts): a chunked
// step draws the whole batch's dropout into buffers made with the trainer and hands each chunk its rows.
describe("allocation with threads: 2 and dropout (mnist with a dropout mask)", () => {
  it("trainStep and fit allocate nothing per step on the trainer's thread", () => {
    const r = spawnSync(process.execPath, ["--interrupt-budget=4096", "--no-concurrent-recompilation", "--import", "tsx", "test/fixtures/trainer-alloc-probe.ts"], {
      encoding: "utf8",
      timeout: 200_000,
      env: { ...process.env, PROBE_THREADS: "2", PROBE_DROPOUT: "1", PROBE_ONLY: "^(sgd/constant|adam/cosine\\+l2)$" },
    });
    expect(r.status, r.stderr).toBe(0);
    const rows = JSON.parse(r.stdout) as { config: string; trainStep: number; fit: number; wasm: boolean }[];
    expect(rows.map((x) => x.config)).toEqual(["sgd/constant", "adam/cosine+l2"]);
    for (const x of rows) {
      expect(x.wasm, x.config).toBe(true);
      expect(x.trainStep, `${x.config}: bytes sampled in 200 trainStep calls`).toBeLessThan(600);
      expect(x.fit, `${x.config}: bytes sampled in 192 of fit's steps`).toBeLessThan(1500);
    }
  }, 220_000);
});

// A convolutional network (examples/lenet: conv, max-pool, dense) through the trainer: issue #16's "a training step
// allocates nothing, tested on the lenet module through the trainer" (test/fixtures/lenet-alloc-probe.ts says how).
describe("allocation on the lenet module (conv + pool)", () => {
  it("trainStep allocates nothing per step with Adam and with momentum + L2", () => {
    const r = spawnSync(process.execPath, ["--interrupt-budget=4096", "--no-concurrent-recompilation", "--import", "tsx", "test/fixtures/lenet-alloc-probe.ts"], { encoding: "utf8", timeout: 200_000 });
    expect(r.status, r.stderr).toBe(0);
    const rows = JSON.parse(r.stdout) as { config: string; trainStep: number; steps: number }[];
    expect(rows.map((x) => x.config)).toEqual(["adam/cosine", "momentum+l2"]);
    // one heap number per step would be 16 B × 40 = 640 bytes
    for (const x of rows) expect(x.trainStep, `${x.config}: bytes sampled in ${x.steps} trainStep calls`).toBeLessThan(250);
  }, 220_000);
});
