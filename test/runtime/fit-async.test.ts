// runtime/trainer.ts fitAsync: it yields to the event loop (a macrotask) between
// batches, calls onBatchEnd/onEpochEnd in order, stops on false or an
// AbortSignal, and computes exactly what fit computes.
import { describe, expect, it } from "vitest";
import * as iris from "../../generated/iris.js";
import { adam, createTrainer, sgd, type BatchRecord, type EpochRecord } from "../../runtime/index.ts";
import { loadIris } from "../../runtime/node.ts";
import { linear, rows } from "./models.ts";

describe("fitAsync", () => {
  it("yields to the event loop between batches: macrotasks (an immediate, a timer) run while it trains", async () => {
    const { mod } = linear(4);
    const t = createTrainer(mod, { optimizer: sgd({ lr: 1e-5 }), seed: 1 });
    let batches = 0;
    const seen: Record<string, number> = {};
    // Neither could run before fitAsync resolved if it awaited only microtasks (or nothing):
    // each records how many batches had run when it did.
    setImmediate(() => (seen.immediate = batches));
    const timer = new Promise<void>((resolve) => setTimeout(() => ((seen.timeout = batches), resolve()), 2));
    const training = t.fitAsync(rows(40), { epochs: 500, onBatchEnd: () => void batches++ }); // 5,000 batches
    expect(batches).toBe(0); // the caller's task ends before the first batch
    const h = await training;
    await timer;
    expect([h.epochs.length, batches]).toEqual([500, 5000]);
    expect(seen.immediate).toBeLessThan(5000);
    expect(seen.timeout).toBeGreaterThan(0);
    expect(seen.timeout).toBeLessThan(5000);
  });

  it("calls onBatchEnd after every batch and onEpochEnd after each epoch's last batch, with the running numbers", async () => {
    const { mod } = linear(4);
    const t = createTrainer(mod, { optimizer: sgd({ lr: 1e-5 }), seed: 2 });
    const log: string[] = [];
    const batches: BatchRecord[] = [];
    const epochs: EpochRecord[] = [];
    const h = await t.fitAsync(rows(10), {
      epochs: 2,
      validation: rows(4),
      onBatchEnd: (b) => void (log.push(`b${b.epoch}.${b.batch}/${b.batches}`), batches.push(b)),
      onEpochEnd: (e) => void (log.push(`e${e.epoch}`), epochs.push(e)),
    });
    expect(log).toEqual(["b1.1/3", "b1.2/3", "b1.3/3", "e1", "b2.1/3", "b2.2/3", "b2.3/3", "e2"]);
    expect(batches.map((b) => b.steps)).toEqual([1, 2, 3, 4, 5, 6]);
    // the last batch's running epoch loss is the epoch's loss; the first's is its own loss
    expect(batches[2]!.epochLoss).toBe(epochs[0]!.loss);
    expect(batches[0]!.epochLoss).toBe(batches[0]!.loss);
    // regression targets: accuracy means nothing (metric "none"), in the batch records as in the epoch's
    expect(Number.isNaN(batches[0]!.accuracy) && Number.isNaN(epochs[0]!.accuracy)).toBe(true);
    expect(epochs[1]!.valLoss).toBeGreaterThan(0);
    expect([h.stopped, h.epochs.length]).toEqual(["epochs", 2]);
  });

  it("stops after the batch whose onBatchEnd returns false; that partial epoch is not counted", async () => {
    const { mod, calls } = linear(4);
    const t = createTrainer(mod, { optimizer: sgd({ lr: 1e-5 }), seed: 3 });
    const h = await t.fitAsync(rows(40), { epochs: 5, onBatchEnd: (b) => !(b.epoch === 2 && b.batch === 4) });
    expect(h.stopped).toBe("callback");
    expect(h.epochs.length).toBe(1);
    expect([t.steps, t.epochs, calls.length]).toEqual([14, 1, 14]);
  });

  it("stops when onEpochEnd returns false", async () => {
    const { mod } = linear(4);
    const t = createTrainer(mod, { optimizer: sgd({ lr: 1e-5 }) });
    const h = await t.fitAsync(rows(8), { epochs: 10, onEpochEnd: (e) => e.epoch < 3 });
    expect([h.stopped, h.epochs.length, t.epochs, t.steps]).toEqual(["callback", 3, 3, 6]);
  });

  it("an AbortSignal stops it before the next batch — also from a timer while it trains — and keeps the weights so far", async () => {
    const { mod } = linear(4);
    const t = createTrainer(mod, { optimizer: sgd({ lr: 1e-5 }), seed: 4 });
    const ac = new AbortController();
    let seen = 0;
    const h = await t.fitAsync(rows(40), { epochs: 3, signal: ac.signal, onBatchEnd: () => void (++seen === 7 && ac.abort()) });
    expect([h.stopped, h.epochs.length, t.steps, t.epochs]).toEqual(["aborted", 0, 7, 0]);

    // aborted from outside, by a timer (a macrotask that can only run because fitAsync yields)
    const ac2 = new AbortController();
    setTimeout(() => ac2.abort(), 5);
    const before = t.steps;
    const h2 = await t.fitAsync(rows(40), { epochs: 1_000_000, signal: ac2.signal });
    expect(h2.stopped).toBe("aborted");
    expect(t.steps).toBeGreaterThan(before);

    // already aborted: no step at all
    const steps = t.steps;
    const h3 = await t.fitAsync(rows(40), { epochs: 2, signal: AbortSignal.abort() });
    expect([h3.stopped, t.steps]).toEqual(["aborted", steps]);
  });

  it("gives bit-identical weights, history and optimizer state to fit for the same seed (Adam, dropout, L2, validation, early stopping)", async () => {
    const { train, test } = loadIris({ test: 45, seed: 5 });
    const make = () => createTrainer(iris, { optimizer: adam({ lr: 0.02 }), batchSize: 7, seed: 11, inputDropout: 0.1, l2: 1e-3 });
    const a = make();
    const b = make();
    const opts = { epochs: 25, validation: test, earlyStopping: { patience: 4, monitor: "loss" as const } };
    const ha = a.fit(train, { ...opts, progress: false });
    const hb = await b.fitAsync(train, opts);
    expect(Array.from(b.params)).toEqual(Array.from(a.params));
    expect(Buffer.from(b.params.buffer, b.params.byteOffset, b.params.byteLength).equals(Buffer.from(a.params.buffer, a.params.byteOffset, a.params.byteLength))).toBe(true);
    expect(hb.loss).toEqual(ha.loss);
    expect(hb.valLoss).toEqual(ha.valLoss);
    expect([hb.stopped, hb.bestEpoch]).toEqual([ha.stopped, ha.bestEpoch]);
    expect(b.steps).toBe(a.steps);
    for (const k of Object.keys(a.optimizer.state)) expect(Array.from(b.optimizer.state[k]!)).toEqual(Array.from(a.optimizer.state[k]!));
    // and both carry on identically in a second call
    a.fit(train, { epochs: 3, progress: false });
    await b.fitAsync(train, { epochs: 3 });
    expect(Array.from(b.params)).toEqual(Array.from(a.params));
  });

  it("rejects (does not throw synchronously) on bad options, like fit throws", async () => {
    const { mod } = linear(4);
    const t = createTrainer(mod);
    const p = t.fitAsync(rows(8), { epochs: -1 });
    await expect(p).rejects.toThrow(/epochs must be a whole number/);
  });
});

describe("one fit at a time", () => {
  it("a second fitAsync while one runs is rejected, naming the cause; the first is unaffected and the trainer is usable after", async () => {
    const { mod } = linear(4);
    const t = createTrainer(mod, { optimizer: sgd({ lr: 1e-5 }), seed: 6 });
    const first = t.fitAsync(rows(40), { epochs: 3 });
    await expect(t.fitAsync(rows(40), { epochs: 1 })).rejects.toThrow(/already fitting/);
    expect(() => t.fit(rows(40), { epochs: 1, progress: false })).toThrow(/already fitting/);
    const h = await first;
    expect([h.epochs.length, t.steps]).toEqual([3, 30]);
    await t.fitAsync(rows(40), { epochs: 1 });
    t.fit(rows(40), { epochs: 1, progress: false });
    expect(t.steps).toBe(50);
  });

  it("fit from inside a callback of fit is rejected; a failed fit frees the trainer", () => {
    const { mod } = linear(4);
    const t = createTrainer(mod, { optimizer: sgd({ lr: 1e-5 }) });
    expect(() => t.fit(rows(8), { epochs: 2, progress: false, onEpoch: () => void t.fit(rows(8), { epochs: 1 }) })).toThrow(/already fitting/);
    expect(() => t.fit(rows(8), { epochs: -1 })).toThrow(/epochs/);
    expect(t.fit(rows(8), { epochs: 1, progress: false }).epochs.length).toBe(1);
  });
});
