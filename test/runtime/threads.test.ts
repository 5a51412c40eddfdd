// createTrainer({ threads }) in Node (runtime/threads.ts, runtime/worker.ts): worker_threads over shared
// WebAssembly.Memory. threads: 2 equals threads: 1 up to float32 rounding of the reduction's order, is
// bit-identical run to run and to the one-thread fallback (the same chunks summed in the same order), works with
// every optimizer (the wasm kernels on the trainer's memory), trains with dropout on the masks one thread would
// draw, refuses what cannot be split, reports a thread's failure as E_THREAD, and never keeps the process alive.
import { spawnSync } from "node:child_process";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { compile } from "../../compiler/index.ts";
import { loadSpec } from "../../compiler/frontend/load.ts";
import * as mnist from "../../generated/mnist.js";
import * as deep from "../../generated/deep.js";
import {
  adagrad,
  adam,
  adamw,
  browserPlatform,
  createTrainer,
  loadMnist,
  momentum,
  nesterov,
  rmsprop,
  sgd,
  type Module,
  type Trainer,
} from "../../runtime/node.ts";
import { compiled, linear, rows } from "./models.ts";

const url = pathToFileURL("generated/mnist.js").href;
const model = { ...mnist, url } as unknown as Module;
const { train } = loadMnist({ train: 512, test: 10 });
const open: Trainer[] = [];
const make = (
  opts: Parameters<typeof createTrainer>[1],
  mod: Module = model,
) => {
  const t = createTrainer(mod, opts) as unknown as Trainer;
  open.push(t);
  return t;
};
afterAll(() => {
  for (const t of open) t.close();
});
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
};
const same = (a: Float32Array, b: Float32Array) =>
  a.length === b.length && a.every((v, i) => Object.is(v, b[i]));
/** A platform without threads: a threads: n trainer runs its n chunks one after another on this thread. */
const noThreads = { ...browserPlatform, spawnThread: undefined };
/** Does the trainer update on its threads, each its own range (runtime/threads.ts)? */
const split = (t: Trainer) =>
  (t as unknown as { pool?: { part0?: unknown } }).pool?.part0 !== undefined;

/**
 * A module's source: y = w·x, loss = mean ½(y − t)² over the first n of 4 rows, whose forward runs `onThread`
 * (a statement) on a training thread, not on the trainer's: how a thread fails, exits or runs out of memory.
 */
const oneWeight = (name: string, onThread: string) => `
  import { isMainThread } from "node:worker_threads";
  export const layout = { name: "${name}", source: "test", params: [{ name: "w", shape: [1, 1], offset: 0, size: 1, init: "zeros" }], paramSize: 1,
    inputs: [{ name: "x", shape: [4, 1], offset: 0, size: 4, batched: true }, { name: "t", shape: [4, 1], offset: 4, size: 4, batched: true }],
    inputSize: 8, outputs: [], arenaSize: 5, lossOffset: 4, batch: 4, hasLoss: true, split: "mean" };
  const hoard = [];
  export function forward(p, x, a, n = 4) {
    if (!isMainThread) ${onThread};
    let s = 0; for (let i = 0; i < n; i++) { const r = p[0] * x[i] - x[4 + i]; s += 0.5 * r * r; } a[4] = s / n;
  }
  export function backward(p, x, a, g, n = 4) { let s = 0; for (let i = 0; i < n; i++) s += (p[0] * x[i] - x[4 + i]) * x[i]; g[0] = s / n; }`;

describe("threads: 2 on mnist (wasm kernels)", () => {
  it("equals threads: 1 within float32 reduction error, and is bit-identical run to run and to the fallback", async () => {
    const one = make({ optimizer: adam({ lr: 1e-3 }), batchSize: 64, seed: 3 });
    const h1 = one.fit(train, { epochs: 2, progress: false });
    const runs = [];
    for (let r = 0; r < 2; r++) {
      const t = make({
        optimizer: adam({ lr: 1e-3 }),
        batchSize: 64,
        seed: 3,
        threads: 2,
      });
      await t.ready();
      expect(t.threads).toBe(2);
      expect(split(t)).toBe(true);
      runs.push({
        h: t.fit(train, { epochs: 2, progress: false }),
        params: Float32Array.from(t.params),
      });
      t.close();
    }
    // no spawnThread on the platform: the two chunks run here one after the other
    const fallback = make({
      optimizer: adam({ lr: 1e-3 }),
      batchSize: 64,
      seed: 3,
      threads: 2,
      platform: { ...browserPlatform, spawnThread: undefined },
    });
    expect(fallback.threads).toBe(1);
    const hf = fallback.fit(train, { epochs: 2, progress: false });

    expect(same(runs[0]!.params, runs[1]!.params)).toBe(true);
    expect(runs[0]!.h.loss).toEqual(runs[1]!.h.loss);
    expect(same(runs[0]!.params, fallback.params as Float32Array)).toBe(true);
    expect(hf.loss).toEqual(runs[0]!.h.loss);
    // against one thread: the same math, another order of float32 sums (16 Adam steps)
    for (let e = 0; e < 2; e++)
      expect(Math.abs(runs[0]!.h.loss[e]! - h1.loss[e]!)).toBeLessThan(
        1e-5 * h1.loss[e]!,
      );
    expect(maxDiff(runs[0]!.params, one.params)).toBeLessThan(1e-5);
    expect(maxDiff(runs[0]!.params, one.params)).toBeGreaterThan(0); // it did run elsewhere: the order differs
    expect(runs[0]!.h.accuracy).toEqual(runs[1]!.h.accuracy);
  });

  it("batchSize up to threads × the compiled batch: 128 rows on m.batch(64) equal the fallback's bits", async () => {
    const t = make({ optimizer: sgd({ lr: 0.05 }), seed: 1, threads: 2 });
    expect(t.batchSize).toBe(128);
    const f = make({
      optimizer: sgd({ lr: 0.05 }),
      seed: 1,
      threads: 2,
      platform: { ...browserPlatform, spawnThread: undefined },
    });
    t.fit(train, { epochs: 1, progress: false });
    f.fit(train, { epochs: 1, progress: false });
    expect(same(t.params as Float32Array, f.params as Float32Array)).toBe(true);
    expect(() => make({ threads: 2, batchSize: 129 })).toThrow(
      /threads × the batch/,
    );
  });

  it.each([
    ["sgd", sgd({ lr: 0.05 })],
    ["momentum", momentum({ lr: 0.02 })],
    ["nesterov", nesterov({ lr: 0.02 })],
    ["adagrad", adagrad({ lr: 0.02 })],
    ["rmsprop", rmsprop({ lr: 1e-3 })],
    ["adamw", adamw({ lr: 1e-3, weightDecay: 0.01 })],
  ])("%s with l2: threads: 2 tracks threads: 1", async (_, opt) => {
    const a = make({ optimizer: opt, batchSize: 64, seed: 5, l2: 1e-4 });
    const b = make({
      optimizer: opt,
      batchSize: 64,
      seed: 5,
      l2: 1e-4,
      threads: 2,
    });
    // the split update (each thread its range) against the fallback's one update over all of it: the same bits
    const f = make({
      optimizer: opt,
      batchSize: 64,
      seed: 5,
      l2: 1e-4,
      threads: 2,
      platform: { ...browserPlatform, spawnThread: undefined },
    });
    await b.ready();
    expect(split(b)).toBe(true);
    for (let s = 0; s < 4; s++) {
      a.trainStep(train, s * 64, 64);
      b.trainStep(train, s * 64, 64);
      f.trainStep(train, s * 64, 64);
      expect(Math.abs(a.lastLoss - b.lastLoss)).toBeLessThan(1e-5 * a.lastLoss);
    }
    expect(maxDiff(a.params, b.params)).toBeLessThan(1e-4);
    expect(same(b.params as Float32Array, f.params as Float32Array)).toBe(true);
    for (const [k, v] of Object.entries(b.optimizer.state)) expect(same(v as Float32Array, f.optimizer.state[k] as Float32Array), k).toBe(true);
    expect(b.steps).toBe(4);
    b.close();
  });

  // l2 adds λ·w to the gradient: with λ = 1e30, a weight of 1e30 on a pixel that is 0 in every row leaves the loss
  // finite and makes that gradient element +Infinity, in the trainer's range (W1[0,·]) or the thread's (W1[783,·])
  it.each([
    ["the trainer's", 0, "W1\\[0,0\\]"],
    ["the thread's", 783 * 128 + 5, "W1\\[783,5\\]"],
  ])("a non-finite gradient in %s range: DivergedError naming it, no update anywhere", async (_, at, where) => {
    for (const threads of [1, 2]) {
      const t = make({ optimizer: adam({ lr: 1e-3 }), batchSize: 64, seed: 4, l2: 1e30, threads });
      await t.ready();
      t.trainStep(train, 0, 64);
      t.params[at] = 1e30;
      const before = Float32Array.from(t.params);
      const m = Float32Array.from(t.optimizer.state.m as Float32Array);
      expect(() => t.trainStep(train, 64, 64)).toThrow(
        expect.objectContaining({ code: "E_DIVERGED", message: expect.stringMatching(new RegExp(`gradient of 'W1' is Infinity at ${where}`)) }),
      );
      expect(same(t.params as Float32Array, before)).toBe(true);
      expect(same(t.optimizer.state.m as Float32Array, m)).toBe(true);
      expect(t.steps).toBe(1);
      t.close();
    }
  });

  it("a partial batch splits unevenly (n = 37: 19 + 18 rows) and still tracks one thread", async () => {
    const a = make({ optimizer: sgd({ lr: 0.1 }), batchSize: 64, seed: 2 });
    const b = make({
      optimizer: sgd({ lr: 0.1 }),
      batchSize: 64,
      seed: 2,
      threads: 2,
    });
    a.trainStep(train, 5, 37);
    b.trainStep(train, 5, 37);
    expect(Math.abs(a.lastLoss - b.lastLoss)).toBeLessThan(1e-6 * a.lastLoss);
    expect(maxDiff(a.params, b.params)).toBeLessThan(1e-6);
    b.trainStep(train, 0, 1); // one row: the second chunk is empty
    expect(Number.isFinite(b.lastLoss)).toBe(true);
  });
});

describe("dropout with threads: one thread's masks, row for row", () => {
  // the trainer draws a chunked step's input dropout and masks for the whole batch, as one thread does (same stream,
  // same order), and hands each chunk its rows (runtime/trainer.ts: drawBatch); `linear` records what forward is fed
  const B = 8;
  /** Rows [0, n) of x and of the mask dropout_x, from a forward call of linear(Bm). */
  const fed = (c: { n: number; inputs: Float32Array }, Bm: number) => ({
    x: Array.from(c.inputs.subarray(0, 2 * c.n)),
    mask: Array.from(c.inputs.subarray(3 * Bm, 3 * Bm + 2 * c.n)),
  });
  /** The one-thread calls against the chunked calls (two per step, chunk 0's then chunk 1's): the same rows. */
  const expectSameRows = (one: readonly { n: number; inputs: Float32Array }[], Bone: number, two: readonly { n: number; inputs: Float32Array }[]) => {
    expect(two.length).toBe(2 * one.length);
    one.forEach((c, s) => {
      const [a, b] = [fed(two[2 * s]!, B), fed(two[2 * s + 1]!, B)];
      expect(two[2 * s]!.n + two[2 * s + 1]!.n).toBe(c.n);
      const want = fed(c, Bone);
      expect([...a.x, ...b.x], `step ${s + 1}: x (input dropout)`).toEqual(want.x);
      expect([...a.mask, ...b.mask], `step ${s + 1}: the mask`).toEqual(want.mask);
    });
  };
  const data = rows(40);
  const opts = { optimizer: sgd({ lr: 0 }), seed: 4, inputDropout: 0.25, dropout: 0.5 };

  it("batchSize <= B: threads: 2 feeds every row threads: 1's input dropout and mask (fit and trainStep, partial batches)", () => {
    const one = linear(B, { mask: true });
    const two = linear(B, { mask: true });
    const t1 = make({ ...opts, batchSize: B }, one.mod);
    const t2 = make({ ...opts, batchSize: B, threads: 2, platform: noThreads }, two.mod);
    for (const t of [t1, t2]) {
      t.fit(data, { epochs: 2, progress: false }); // shuffled, 5 steps an epoch
      t.trainStep(data, 3, 5); // partial: chunks of 3 + 2 rows
      t.trainStep(data, 10, 8);
    }
    expect(one.calls.length).toBe(12);
    expectSameRows(one.calls, B, two.calls);
    // the masks did drop: zeros and 1 / (1 - 0.5)
    const m = one.calls.flatMap((c) => fed(c, B).mask);
    expect(new Set(m)).toEqual(new Set([0, 2]));
    expect(one.calls.flatMap((c) => fed(c, B).x).filter((v) => v === 0).length).toBeGreaterThan(30); // ~25% of ~190 values (x[0] = 0 once)
  });

  it("batchSize > B (16 rows on m.batch(8)): the masks one thread draws on a module compiled for 16 rows", () => {
    const one = linear(16, { mask: true });
    const two = linear(B, { mask: true });
    const t1 = make({ ...opts, batchSize: 16 }, one.mod);
    const t2 = make({ ...opts, batchSize: 16, threads: 2, platform: noThreads }, two.mod);
    for (const t of [t1, t2]) {
      t.fit(data, { epochs: 1, progress: false }); // 16 + 16 + 8 rows
      t.trainStep(data, 0, 16);
      t.trainStep(data, 16, 11); // partial: 6 + 5 rows; one thread still draws its 16-row mask
      t.trainStep(data, 27, 13);
    }
    expect(one.calls.length).toBe(6);
    expectSameRows(one.calls, 16, two.calls);
  });
});

describe("dropout with threads on a wasm-kernel model (mnist with dropout on its hidden layer)", () => {
  // test/fixtures/mnist-dropout.model.ts compiled here, imported by the threads from a data: URL
  const load = async () => {
    const c = await compile(await loadSpec("test/fixtures/mnist-dropout.model.ts"));
    const u = `data:text/javascript;base64,${Buffer.from(c.js).toString("base64")}`;
    return { ...((await import(u)) as Module), url: u } as Module;
  };
  const opts = { optimizer: adam({ lr: 1e-3 }), seed: 3, inputDropout: 0.2, l2: 1e-4 };

  it("fit: threads: 2 equals threads: 1 within float32 reduction error, bit-identical run to run and to the fallback", async () => {
    const mod = await load();
    expect(mod.layout.memory).toBeDefined();
    const one = make({ ...opts, batchSize: 32 }, mod);
    const h1 = one.fit(train, { epochs: 2, progress: false });
    const runs = [];
    for (let r = 0; r < 2; r++) {
      const t = make({ ...opts, batchSize: 32, threads: 2 }, mod);
      await t.ready();
      expect(t.threads).toBe(2);
      expect(split(t)).toBe(true);
      runs.push({ h: t.fit(train, { epochs: 2, progress: false }), params: Float32Array.from(t.params) });
      t.close();
    }
    const fallback = make({ ...opts, batchSize: 32, threads: 2, platform: noThreads }, mod);
    expect(fallback.threads).toBe(1);
    const hf = fallback.fit(train, { epochs: 2, progress: false });
    expect(same(runs[0]!.params, runs[1]!.params)).toBe(true);
    expect(runs[0]!.h.loss).toEqual(runs[1]!.h.loss);
    expect(same(runs[0]!.params, fallback.params as Float32Array)).toBe(true);
    expect(hf.loss).toEqual(runs[0]!.h.loss);
    // against one thread (32 Adam steps): the same masks, another order of float32 sums
    for (let e = 0; e < 2; e++) expect(Math.abs(runs[0]!.h.loss[e]! - h1.loss[e]!)).toBeLessThan(1e-5 * h1.loss[e]!);
    expect(maxDiff(runs[0]!.params, one.params)).toBeLessThan(1e-5);
    expect(maxDiff(runs[0]!.params, one.params)).toBeGreaterThan(0);
    // other masks train elsewhere: the bound above is one a different draw would miss
    const other = make({ ...opts, batchSize: 32, seed: 3, dropout: 0.3 }, mod);
    other.fit(train, { epochs: 2, progress: false });
    expect(maxDiff(other.params, one.params)).toBeGreaterThan(1e-3);
  });

  it("trainStep, partial batches: threads: 2 tracks threads: 1 and equals the fallback's bits", async () => {
    const mod = await load();
    const t1 = make({ ...opts, batchSize: 32 }, mod);
    const t2 = make({ ...opts, batchSize: 32, threads: 2 }, mod);
    const f = make({ ...opts, batchSize: 32, threads: 2, platform: noThreads }, mod);
    await t2.ready();
    expect(split(t2)).toBe(true);
    for (const [s, n] of [[0, 32], [40, 21], [100, 32], [7, 1], [300, 32]] as const) {
      t1.trainStep(train, s, n);
      t2.trainStep(train, s, n);
      f.trainStep(train, s, n);
      expect(Math.abs(t1.lastLoss - t2.lastLoss)).toBeLessThan(1e-5 * t1.lastLoss);
      expect(t2.lastLoss).toBe(f.lastLoss);
    }
    expect(maxDiff(t1.params, t2.params)).toBeLessThan(1e-5);
    expect(same(t2.params as Float32Array, f.params as Float32Array)).toBe(true);
    t2.close();
  });

  it("64 rows on m.batch(32) (fit and trainStep): bit-identical run to run and to the fallback, parameters and Adam's state", async () => {
    const mod = await load();
    const ts = [make({ ...opts, threads: 2 }, mod), make({ ...opts, threads: 2 }, mod), make({ ...opts, threads: 2, platform: noThreads }, mod)];
    for (const t of ts) {
      await t.ready();
      expect(t.batchSize).toBe(64);
      t.fit(train, { epochs: 1, progress: false });
      for (const [s, n] of [[0, 64], [200, 50], [300, 64]] as const) t.trainStep(train, s, n);
    }
    expect(split(ts[0]!)).toBe(true);
    expect(ts[2]!.threads).toBe(1);
    for (const t of ts.slice(1)) {
      expect(t.lastLoss).toBe(ts[0]!.lastLoss);
      expect(same(t.params as Float32Array, ts[0]!.params as Float32Array)).toBe(true);
      for (const [k, v] of Object.entries(t.optimizer.state)) expect(same(v as Float32Array, ts[0]!.optimizer.state[k] as Float32Array), k).toBe(true);
    }
    for (const t of ts) t.close();
  });
});

describe("threads with a JS module (no wasm memory) and float64", () => {
  it("iris as plain JS, compiled in-process, imported by the threads from a data: URL", async () => {
    const c = await compile(await loadSpec("examples/iris/model.ts"), {
      backend: "js",
    });
    const m = (await import(
      `data:text/javascript;base64,${Buffer.from(c.js).toString("base64")}`
    )) as Module;
    const mod = {
      ...m,
      url: `data:text/javascript;base64,${Buffer.from(c.js).toString("base64")}`,
    } as Module;
    const { x, y } = {
      x: Float32Array.from({ length: 40 * 4 }, (_, i) => Math.sin(i)),
      y: Float32Array.from({ length: 40 * 3 }, (_, i) =>
        i % 3 === Math.floor(i / 3) % 3 ? 1 : 0,
      ),
    };
    const B = mod.layout.batch!;
    const a = make(
      { optimizer: adam({ lr: 0.01 }), batchSize: Math.min(B, 40), seed: 1 },
      mod,
    );
    const b = make(
      {
        optimizer: adam({ lr: 0.01 }),
        batchSize: Math.min(B, 40),
        seed: 1,
        threads: 2,
      },
      mod,
    );
    await b.ready();
    expect(b.threads).toBe(2);
    const ha = a.fit({ x, y }, { epochs: 3, progress: false });
    const hb = b.fit({ x, y }, { epochs: 3, progress: false });
    for (let e = 0; e < 3; e++)
      expect(Math.abs(ha.loss[e]! - hb.loss[e]!)).toBeLessThan(1e-5);
  });
});

describe("what threads refuse, and how a thread's failure surfaces", () => {
  it("an unbatched model, a loss that does not split: E_THREAD naming why (dropout is no reason)", async () => {
    const drop = await compiled("test/runtime/dropout-mlp.model.ts");
    expect(createTrainer(drop, { threads: 2, inputDropout: 0.2, platform: noThreads }).batchSize).toBe(64);
    const xor = await compiled("xor");
    expect(() =>
      createTrainer({ ...xor, url }, { threads: 2, batchSize: 4 }),
    ).toThrow(
      expect.objectContaining({
        code: "E_THREAD",
        message: expect.stringMatching(/without m\.batch/),
      }),
    );
    const sq = await compiled("test/fixtures/split/squared-mean.ts");
    expect(() => createTrainer({ ...sq, url }, { threads: 2 })).toThrow(
      expect.objectContaining({
        code: "E_THREAD",
        message: expect.stringMatching(/not a batch mean or sum/),
      }),
    );
    expect(() => createTrainer(model, { threads: 0 })).toThrow(
      /threads must be a whole number from 1 to 256/,
    );
  });

  it("no module URL (the namespace alone): E_THREAD saying how to pass one", () => {
    expect(() =>
      createTrainer(mnist as unknown as Module, { threads: 2 }),
    ).toThrow(
      expect.objectContaining({
        code: "E_THREAD",
        message: expect.stringMatching(/module's URL/),
      }),
    );
  });

  it("a thread that loads another model, or cannot import its module: E_THREAD with the thread's own message", async () => {
    const wrong = make({ threads: 2, batchSize: 64 }, {
      ...mnist,
      url: pathToFileURL("generated/deep.js").href,
    } as unknown as Module);
    expect(() => wrong.trainStep(train, 0, 64)).toThrow(
      expect.objectContaining({
        code: "E_THREAD",
        message: expect.stringMatching(/loaded model 'deep'.*trains 'mnist'/),
      }),
    );
    const missing = make({ threads: 2, batchSize: 64 }, {
      ...mnist,
      url: pathToFileURL("generated/no-such-model.js").href,
    } as unknown as Module);
    await expect(missing.ready()).rejects.toMatchObject({
      code: "E_THREAD",
      message: expect.stringMatching(/cannot import the model/),
    });
    // closed: training again says so
    expect(() => wrong.trainStep(train, 0, 64)).toThrow(/closed/);
    void deep;
  });

  it("a thread that throws in a step: E_THREAD with its message, no update made, the threads closed", async () => {
    // forward throws on a training thread (not the trainer's)
    const src = oneWeight("boom", 'throw new RangeError("forward failed on a training thread")');
    const url = `data:text/javascript;base64,${Buffer.from(src).toString("base64")}`;
    const mod = { ...((await import(url)) as Module), url } as Module;
    const t = make(
      { optimizer: sgd({ lr: 0.1 }), threads: 2, params: [0.5] },
      mod,
    );
    const data = {
      x: Float32Array.of(1, 2, 3, 4),
      t: Float32Array.of(2, 4, 6, 8),
    };
    expect(t.batchSize).toBe(8);
    expect(() => t.trainStep(data, 0, 4)).toThrow(
      expect.objectContaining({
        code: "E_THREAD",
        message: expect.stringMatching(
          /thread 1 of 2 failed its step: RangeError: forward failed on a training thread/,
        ),
      }),
    );
    expect(t.params[0]).toBe(0.5);
    expect(t.steps).toBe(0);
    expect(() => t.trainStep(data, 0, 4)).toThrow(/closed/);
  });

  it("a thread that exits mid-step (process.exit in the module): E_THREAD at once, not at the 60 s timeout", async () => {
    const src = oneWeight("quits", "process.exit(7)");
    const url = `data:text/javascript;base64,${Buffer.from(src).toString("base64")}`;
    const mod = { ...((await import(url)) as Module), url } as Module;
    const t = make({ optimizer: sgd({ lr: 0.1 }), threads: 2, params: [0.5] }, mod);
    await t.ready();
    const data = { x: Float32Array.of(1, 2, 3, 4), t: Float32Array.of(2, 4, 6, 8) };
    const t0 = performance.now();
    expect(() => t.trainStep(data, 0, 4)).toThrow(
      expect.objectContaining({ code: "E_THREAD", message: expect.stringMatching(/thread 1 of 2 died: exited \(code 7\) while training/) }),
    );
    expect(performance.now() - t0).toBeLessThan(20_000);
    expect(t.params[0]).toBe(0.5);
    expect(() => t.trainStep(data, 0, 4)).toThrow(/closed/);
  });

  it("a thread that runs out of memory (killed without running its own exit handler): E_THREAD at once, not at the 60 s timeout", () => {
    // V8's heap limit is process-wide, so --max-old-space-size caps the thread too; Node then ends that thread
    // alone (ERR_WORKER_OUT_OF_MEMORY) without running any of its code: only its parent's 'error'/'exit' events
    // know, and the trainer is blocked in Atomics.wait — the watcher (runtime/worker-node.ts) reports it
    const src = oneWeight("hungry", "for (;;) hoard.push(new Array(1 << 20).fill(1.5))");
    const code = `
      import { createTrainer, sgd } from "./runtime/node.ts";
      const url = "data:text/javascript;base64,${Buffer.from(src).toString("base64")}";
      const t = createTrainer({ ...(await import(url)), url }, { optimizer: sgd({ lr: 0.1 }), threads: 2, params: [0.5] });
      await t.ready();
      const t0 = performance.now();
      try {
        t.trainStep({ x: Float32Array.of(1, 2, 3, 4), t: Float32Array.of(2, 4, 6, 8) }, 0, 4);
        console.log(JSON.stringify({ trained: true }));
      } catch (e) {
        console.log(JSON.stringify({ code: e.code, message: e.message, ms: performance.now() - t0, w: t.params[0], steps: t.steps }));
      }`;
    const r = spawnSync(process.execPath, ["--max-old-space-size=256", "--import", "tsx", "--input-type=module", "-e", code], {
      encoding: "utf8",
      timeout: 50_000,
    });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { code: string; message: string; ms: number; w: number; steps: number };
    expect(out.code).toBe("E_THREAD");
    expect(out.message).toMatch(/training thread 1 of 2 died: .*memory limit/);
    expect(out.ms).toBeLessThan(20_000); // the timeout is 60 s; the report comes as soon as the thread is gone
    expect(out.w).toBe(0.5); // no update made
    expect(out.steps).toBe(0);
  });

  it("a process that trains on threads ends by itself, closed or not", () => {
    for (const close of [true, false]) {
      const code = `
        import * as mnist from "./generated/mnist.js";
        import { createTrainer, adam, loadMnist } from "./runtime/node.ts";
        const { train } = loadMnist({ train: 256, test: 10 });
        const t = createTrainer({ ...mnist, url: new URL("./generated/mnist.js", "file://" + process.cwd() + "/").href }, { optimizer: adam({ lr: 1e-3 }), batchSize: 64, threads: 2 });
        const h = t.fit(train, { epochs: 1, progress: false });
        ${close ? "t.close();" : ""}
        console.log(JSON.stringify({ loss: h.loss[0], threads: t.threads }));`;
      const r = spawnSync(
        process.execPath,
        ["--import", "tsx", "--input-type=module", "-e", code],
        { encoding: "utf8", timeout: 60_000 },
      );
      expect(r.status, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout) as { loss: number; threads: number };
      expect(out.threads).toBe(2);
      expect(Number.isFinite(out.loss)).toBe(true);
    }
  });
});
