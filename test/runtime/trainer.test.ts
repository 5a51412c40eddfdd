// runtime/trainer.ts: batching, dropout, early stopping, the divergence guard,
// L2 and the weight rule, accuracy, and the argument checks — on hand-written
// modules that record what they are fed, and on the compiled iris spec.
import { beforeAll, describe, expect, it } from "vitest";
import {
  adam,
  argmaxRows,
  createTrainer,
  DivergedError,
  isWeight,
  loadIris,
  momentum,
  RuntimeError,
  sgd,
  weightRanges,
  type Module,
} from "../../runtime/node.ts";
import { compiled, linear, rows } from "./models.ts";

const x0 = (inputs: Float32Array, r: number) => inputs[2 * r]!; // the row index `rows` wrote into x

describe("batches", () => {
  it("an epoch visits every example once in a fresh seeded shuffle; the last partial batch gets n < B and zeroed padding", () => {
    const { mod, calls } = linear(4);
    const t = createTrainer(mod, { optimizer: sgd({ lr: 0 }), seed: 3 });
    t.fit(rows(10), { epochs: 2, progress: false });
    expect(calls.map((c) => c.n)).toEqual([4, 4, 2, 4, 4, 2]);
    const epoch = (k: number) => calls.slice(3 * k, 3 * k + 3).flatMap((c) => Array.from({ length: c.n }, (_, r) => x0(c.inputs, r)));
    expect([...epoch(0)].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect([...epoch(1)].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(epoch(0)).not.toEqual(epoch(1));
    // padding rows 2, 3 of the partial batch: x and t zero
    const last = calls[2]!.inputs;
    expect(Array.from(last.subarray(4, 8))).toEqual([0, 0, 0, 0]);
    expect(Array.from(last.subarray(8 + 2, 12))).toEqual([0, 0]);
    // x and t of one example stay together
    for (const c of calls) for (let r = 0; r < c.n; r++) expect(c.inputs[8 + r]).toBe(x0(c.inputs, r) + 0.5 * (100 + x0(c.inputs, r)) - 50);
    expect(t.steps).toBe(6);
    expect(t.epochs).toBe(2);
  });

  it("stochastic (batchSize 1), mini-batch and full batch; the same seed gives the same order", () => {
    const a = linear(4);
    createTrainer(a.mod, { optimizer: sgd({ lr: 0 }), batchSize: 1, seed: 5 }).fit(rows(6), { epochs: 1, progress: false });
    expect(a.calls.map((c) => c.n)).toEqual([1, 1, 1, 1, 1, 1]);
    const b = linear(4);
    createTrainer(b.mod, { optimizer: sgd({ lr: 0 }), batchSize: 1, seed: 5 }).fit(rows(6), { epochs: 1, progress: false });
    expect(b.calls.map((c) => x0(c.inputs, 0))).toEqual(a.calls.map((c) => x0(c.inputs, 0)));
    const full = linear(4);
    createTrainer(full.mod, { optimizer: sgd({ lr: 0 }), seed: 5 }).fit(rows(4), { epochs: 2, progress: false });
    expect(full.calls.map((c) => [0, 1, 2, 3].map((r) => x0(c.inputs, r)))).toEqual([
      [0, 1, 2, 3],
      [0, 1, 2, 3],
    ]); // a full batch is fed in data order
  });

  it("batchSize must fit the compiled batch; a model without m.batch takes exactly its rows", () => {
    const { mod } = linear(4);
    expect(() => createTrainer(mod, { batchSize: 8 })).toThrow(/batchSize 8 is larger than the batch model 'lin' was compiled for \(4\)/);
    expect(() => createTrainer(mod, { batchSize: 0 })).toThrow(RuntimeError);
    const fixed = linear(2, { batched: false });
    expect(() => createTrainer(fixed.mod, { batchSize: 1 })).toThrow(/compiled without m.batch.*batchSize must be 2/);
    const t = createTrainer(fixed.mod, { optimizer: sgd({ lr: 0 }) });
    expect(() => t.fit(rows(3), { epochs: 1, progress: false })).toThrow(/multiple of 2/);
    t.fit(rows(4), { epochs: 1, progress: false }); // 2 steps of 2 rows: online-style learning
    expect(fixed.calls.map((c) => c.n)).toEqual([2, 2]);
    try {
      createTrainer(mod, { batchSize: 8 });
    } catch (e) {
      expect((e as RuntimeError).code).toBe("E_BATCH");
    }
  });

  it("learns: least squares by mini-batch SGD", () => {
    const { mod } = linear(8);
    const x = new Float32Array(64);
    const t = new Float32Array(32);
    for (let i = 0; i < 32; i++) {
      x[2 * i] = Math.sin(i);
      x[2 * i + 1] = Math.cos(3 * i);
      t[i] = 2 * x[2 * i]! - x[2 * i + 1]! + 0.5;
    }
    const tr = createTrainer(mod, { optimizer: momentum({ lr: 0.1 }), seed: 1 });
    const h = tr.fit({ x, t }, { epochs: 200, progress: false });
    expect(h.loss[199]).toBeLessThan(1e-8);
    expect(Array.from(tr.params).map((v) => +v.toFixed(3))).toEqual([2, -1, 0.5]);
    expect(h.loss[0]).toBeGreaterThan(h.loss[199]!);
    expect(h.epochs[0]!.steps).toBe(4);
  });
});

describe("dropout", () => {
  it("fills dropout_* masks with fresh inverted-dropout masks in fit, and with ones in evaluate and predict", () => {
    const { mod, calls } = linear(64, { mask: true });
    const t = createTrainer(mod, { optimizer: sgd({ lr: 0 }), dropout: { dropout_x: 0.25 }, seed: 2 });
    t.fit(rows(640), { epochs: 2, progress: false });
    const masks = calls.map((c) => c.inputs.subarray(3 * 64, 5 * 64));
    let zeros = 0;
    let total = 0;
    for (const m of masks)
      for (const v of m) {
        expect(v === 0 || Math.abs(v - 4 / 3) < 1e-6).toBe(true); // 0 or 1 / (1 - p)
        if (v === 0) zeros++;
        total++;
      }
    // 20 masks of 128: the drop fraction is 0.25 ± 4 standard errors
    expect(Math.abs(zeros / total - 0.25)).toBeLessThan(4 * Math.sqrt((0.25 * 0.75) / total));
    expect(Array.from(masks[0]!)).not.toEqual(Array.from(masks[1]!));
    // E[mask] = 1: the mean mask entry is 1 within the same tolerance
    const mean = masks.reduce((s, m) => s + m.reduce((a, b) => a + b, 0), 0) / total;
    expect(Math.abs(mean - 1)).toBeLessThan(4 * (4 / 3) * Math.sqrt((0.25 * 0.75) / total));
    calls.length = 0;
    t.evaluate(rows(70));
    t.predict(rows(70).x);
    for (const c of calls) expect(c.inputs.subarray(3 * 64, 5 * 64).every((v) => v === 1)).toBe(true);
  });

  it("takes the rate from the layout slot, and demands one when there is none", () => {
    const { mod, calls } = linear(64, { mask: true, maskRate: 0.5 });
    createTrainer(mod, { optimizer: sgd({ lr: 0 }) }).fit(rows(64), { epochs: 1, progress: false });
    expect(new Set(calls[0]!.inputs.subarray(3 * 64))).toEqual(new Set([0, 2]));
    expect(() => createTrainer(linear(4, { mask: true }).mod)).toThrow(/'dropout_x' is a dropout mask with no rate/);
    expect(() => createTrainer(mod).fit({ ...rows(4), dropout_x: new Float32Array(8) }, { epochs: 1 })).toThrow(/the trainer fills it/);
  });

  it("a compiled model with a dropout_h mask input: masks in training, none at inference", async () => {
    const mlp = await compiled("test/runtime/dropout-mlp.model.ts");
    const { train, test } = loadIris({ seed: 5 });
    const make = (dropout: number) => createTrainer(mlp, { optimizer: adam({ lr: 0.01 }), batchSize: 16, seed: 5, dropout });
    const t = make(0.5);
    const h = t.fit(train, { epochs: 60, validation: test, progress: false });
    expect(h.valAccuracy[59]).toBeGreaterThan(0.85);
    const plain = make(0);
    plain.fit(train, { epochs: 60, progress: false });
    expect(Array.from(plain.params)).not.toEqual(Array.from(t.params)); // the masks changed training
    // inference ignores the rate: the same weights predict the same with any
    const other = make(0.9);
    other.restore(t.checkpoint());
    expect(other.predict(test.x)).toEqual(t.predict(test.x));
    expect(t.predict(test.x)).toEqual(t.predict(test.x));
    expect(other.evaluate(test)).toEqual(t.evaluate(test));
  });

  it("inputDropout drops features (not targets) during fit only", () => {
    const { mod, calls } = linear(64);
    const t = createTrainer(mod, { optimizer: sgd({ lr: 0 }), inputDropout: 0.5, seed: 4 });
    const data = rows(64);
    t.fit(data, { epochs: 1, progress: false, validation: data });
    const fed = calls[0]!.inputs;
    let dropped = 0;
    for (let i = 0; i < 128; i++) {
      const v = fed[i]!;
      if (v === 0) dropped++;
      else expect(data.x).toContain(v / 2);
    }
    expect(dropped).toBeGreaterThan(40);
    expect(dropped).toBeLessThan(88);
    const targets = Array.from(fed.subarray(128, 192)).sort((a, b) => a - b);
    expect(targets).toEqual(Array.from(data.t).sort((a, b) => a - b)); // untouched
    expect(Array.from(calls[1]!.inputs.subarray(0, 128))).toEqual(Array.from(data.x)); // validation: as is
  });
});

describe("early stopping", () => {
  it("stops after `patience` epochs without improvement and restores the best weights", () => {
    const { mod } = linear(4);
    // training pulls toward t = x0 + 0.5 x1 - 50; validation wants the opposite sign, so it worsens after the first epoch
    const train = rows(8);
    const validation = { x: train.x, t: train.t.map((v) => -v) };
    const t = createTrainer(mod, { optimizer: sgd({ lr: 1e-5 }), seed: 1, params: [0, 0, 0] });
    const snapshots: number[][] = [];
    const h = t.fit(train, { epochs: 50, validation, earlyStopping: { patience: 2 }, progress: false, onEpoch: () => void snapshots.push(Array.from(t.params)) });
    expect(h.stopped).toBe("earlyStopping");
    expect(h.bestEpoch).toBe(1);
    expect(h.epochs.length).toBe(3);
    expect(h.valLoss[1]).toBeGreaterThan(h.valLoss[0]!);
    expect(Array.from(t.params)).toEqual(snapshots[0]);
    expect(h.best).toBe(h.valLoss[0]);
  });

  it("onEpoch returning false stops; accuracy can be monitored; bad options are rejected", () => {
    const { mod } = linear(4);
    const t = createTrainer(mod, { optimizer: sgd({ lr: 0 }) });
    const h = t.fit(rows(8), { epochs: 10, progress: false, onEpoch: (e) => e.epoch < 3 });
    expect([h.stopped, h.epochs.length]).toEqual(["callback", 3]);
    expect(() => t.fit(rows(8), { epochs: 1, earlyStopping: { patience: 0 } })).toThrow(/patience/);
  });
});

describe("divergence guard", () => {
  it("a non-finite loss stops training before the update, names the step and the largest parameter", () => {
    const { mod } = linear(4);
    let calls = 0;
    // forward as usual, but the loss of the 4th call is NaN
    const nanLoss: Module = {
      ...mod,
      forward(p, x, a, n) {
        mod.forward(p, x, a, n);
        if (++calls === 4) a[mod.layout.lossOffset!] = NaN;
      },
    };
    const t = createTrainer(nanLoss, { optimizer: sgd({ lr: 1e-3 }), seed: 1 });
    const seen: number[][] = [];
    let err: unknown;
    try {
      for (let s = 0; s < 10; s++) {
        seen.push(Array.from(t.params));
        t.trainStep(rows(4));
      }
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DivergedError);
    const d = err as DivergedError;
    expect([d.code, d.what, d.step, d.param]).toEqual(["E_DIVERGED", "loss", 4, "W"]);
    expect(d.message).toMatch(/diverged at step 4 \(epoch 1, batch 1\): the loss is NaN; the largest parameter is 'W'/);
    expect(d.message).toMatch(/No update was made: the parameters are those step 4 started from/);
    expect(Array.from(t.params)).toEqual(seen[3]); // nothing to undo: the update never ran
    expect(t.steps).toBe(3);
  });

  it("a loss that grows a million-fold stops training too (iris with sgd({ lr: 1e30 }): losses ~1e29, never Infinity)", async () => {
    const { mod } = linear(4);
    const iris = await compiled("iris");
    const { train } = loadIris({ seed: 1 });
    for (const [m, lr, data] of [[mod, 1e12, rows(4)], [iris, 1e30, train]] as const) {
      const t = createTrainer(m as Module, { optimizer: sgd({ lr }), seed: 1, batchSize: 4 });
      const seen: number[][] = [];
      let err: DivergedError | undefined;
      try {
        for (let s = 0; s < 10; s++) {
          seen.push(Array.from(t.params));
          t.trainStep(data as Record<string, Float32Array>, 0, 4);
        }
      } catch (e) {
        err = e as DivergedError;
      }
      expect(err).toBeInstanceOf(DivergedError);
      expect(err!.what).toBe("loss");
      expect(Number.isFinite(err!.value)).toBe(true);
      expect(err!.message).toMatch(/: the loss is [\d.e+]+, more than 1e\+6 times its first value [\d.]+; the largest parameter is '\w+'.*Lower the learning rate/);
      expect(Array.from(t.params)).toEqual(seen[err!.step - 1]);
    }
    // a loss that stays within a million-fold of the first is left alone, and each fit measures from its own first loss
    const t = createTrainer(mod, { optimizer: sgd({ lr: 1e-5 }), seed: 1 });
    t.fit(rows(8), { epochs: 3, progress: false });
    const far = rows(8);
    far.t.forEach((v, i) => (far.t[i] = v + 1e5)); // a new data set whose loss is ~1e10 from the start
    expect(() => t.fit(far, { epochs: 1, progress: false })).not.toThrow();
  });

  it("a non-finite gradient names the parameter element; fit attaches the history so far", () => {
    const { mod } = linear(2, { nanGradAt: 5 });
    const t = createTrainer(mod, { optimizer: sgd({ lr: 1e-6 }), seed: 1 });
    const before: number[][] = [];
    let err: DivergedError | undefined;
    try {
      t.fit(rows(4), { epochs: 10, progress: false, onEpoch: () => void before.push(Array.from(t.params)) });
    } catch (e) {
      err = e as DivergedError;
    }
    expect(err?.message).toMatch(/diverged at step 5 \(epoch 3, batch 1\): the gradient of 'W' is NaN at W\[1,0\]/);
    expect(err?.index).toEqual([1, 0]);
    expect(err?.history?.epochs.length).toBe(2);
    expect(err?.message).toMatch(/No update was made: the parameters are those step 5 started from/);
    expect(Array.from(t.params)).toEqual(before[1]); // after step 4 = end of epoch 2: step 5 started from these
    expect(t.steps).toBe(4);
  });
});

describe("weights, L2 and accuracy", () => {
  it("the weight rule: rank >= 2 with more than one row per output", () => {
    expect([[784, 128], [3, 1], [2, 2], [3, 4, 5]].map(isWeight)).toEqual([true, true, true, true]);
    expect([[1, 128], [128], [], [1, 1], [1, 1, 7]].map(isWeight)).toEqual([false, false, false, false, false]);
    const { mod } = linear(4);
    expect(Array.from(weightRanges(mod.layout))).toEqual([0, 2]);
    expect(Array.from(weightRanges(mod.layout, ["W", "b"]))).toEqual([0, 3]);
    expect(() => weightRanges(mod.layout, ["V"])).toThrow(/'V', which is not a parameter/);
    expect(createTrainer(mod).weights).toEqual(["W"]);
  });

  it("l2 adds λ w to the weights' gradient, not the biases'", () => {
    const { mod } = linear(4);
    const t = createTrainer(mod, { optimizer: sgd({ lr: 0 }), l2: 0.5, params: [2, -4, 3] });
    const zero = { x: new Float32Array(8), t: Float32Array.of(3, 3, 3, 3) }; // y = b = t: no data gradient
    t.trainStep(zero);
    expect(Array.from(t.grads)).toEqual([1, -2, 0]);
    const all = createTrainer(mod, { optimizer: sgd({ lr: 0 }), l2: 0.5, l2Params: ["W", "b"], params: [2, -4, 3] });
    all.trainStep(zero);
    expect(Array.from(all.grads)).toEqual([1, -2, 1.5]);
  });

  describe("on the compiled iris classifier", () => {
    let iris: Module;
    beforeAll(async () => {
      iris = await compiled("iris");
    });

    it("accuracy is argmax(output) == argmax(target); predict returns the first output's rows", () => {
      const { train, test } = loadIris({ seed: 2 });
      const t = createTrainer(iris, { optimizer: adam({ lr: 0.01 }), batchSize: 16, seed: 2 });
      const h = t.fit(train, { epochs: 30, validation: test, progress: false });
      expect(h.accuracy[29]).toBeGreaterThan(0.9);
      const probs = t.predict(test.x);
      expect(probs.length).toBe(30 * 3);
      const hits = argmaxRows(probs, 3).filter((c, i) => c === argmaxRows(test.y, 3)[i]).length;
      const ev = t.evaluate(test);
      expect(ev.accuracy).toBe(hits / 30);
      expect(ev.accuracy).toBe(h.valAccuracy[29]);
      expect(ev.n).toBe(30);
      expect(t.predict({ x: test.x }, "probs")).toEqual(probs);
    });

    it("data that does not fit the model is rejected with the input's name", () => {
      const t = createTrainer(iris, { batchSize: 16 });
      const x = new Float32Array(8);
      expect(() => t.fit({ x } as never, { epochs: 1 })).toThrow(/data has no 'y'/);
      expect(() => t.fit({ x, y: new Float32Array(5) }, { epochs: 1 })).toThrow(/data.y has 5 numbers; input 'y' takes 3 per example/);
      expect(() => t.fit({ x, y: new Float32Array(9) }, { epochs: 1 })).toThrow(/data.y holds 3 examples, data.x 2/);
      expect(() => t.fit({ x: Float32Array.of(1, 2, 3, NaN), y: new Float32Array(3) }, { epochs: 1 })).toThrow(/data.x holds NaN in example 0 \(column 3\)/);
      expect(() => t.fit({ x, y: new Float32Array(6), z: x } as never, { epochs: 1 })).toThrow(/'z', which is not an input of 'iris'/);
      expect(() => createTrainer(iris, { outputName: "nope" })).toThrow(/outputName 'nope'/);
      expect(() => createTrainer({ ...iris, backward: undefined })).toThrow(/no loss/);
    });
  });
});

describe("options", () => {
  it("a misspelled option is an error naming the nearest valid one; a value of the wrong kind names what it must be", () => {
    const { mod } = linear(4);
    const err = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return e as RuntimeError;
      }
      throw new Error("no error");
    };
    const e = err(() => createTrainer(mod, { optimiser: adam({ lr: 1e-3 }) } as never));
    expect(e.code).toBe("E_ARG");
    expect(e.message).toMatch(/createTrainer: unknown option 'optimiser' — did you mean 'optimizer'\?/);
    expect(err(() => createTrainer(mod, { batchsize: 4 } as never)).message).toMatch(/did you mean 'batchSize'/);
    expect(err(() => createTrainer(mod, { l2: -1 })).message).toMatch(/l2 must be a finite number >= 0, got -1/);
    expect(err(() => createTrainer(mod, { optimizer: 0.01 as never })).message).toMatch(/optimizer must be an optimizer such as adam/);
    expect(err(() => createTrainer(mod, { shuffle: "no" as never })).message).toMatch(/shuffle must be true or false/);
    const t = createTrainer(mod);
    expect(err(() => t.fit(rows(4), { epoch: 3 } as never)).message).toMatch(/fit: unknown option 'epoch' — did you mean 'epochs'\?/);
    // the optimizers' options too
    expect(err(() => adam({ lr: 1e-3, beta: 0.9 } as never)).message).toMatch(/adam: unknown option 'beta' — did you mean 'beta1'\?/);
    expect(err(() => sgd({ learningRate: 0.1 } as never)).message).toMatch(/sgd: unknown option 'learningRate' — did you mean 'lr'\?/);
    expect(err(() => momentum({ lr: 0.1, nestrov: true } as never)).message).toMatch(/did you mean 'nesterov'/);
  });
});

describe("the update on a module with wasm kernels (mnist)", () => {
  it("every optimizer runs as the module's kernels, state in its memory, bit-for-bit the JS loops", async () => {
    const mnist = (await import("../../generated/mnist.js")) as unknown as Module;
    const jsOnly: Module = { ...mnist, optimizerKernels: undefined }; // the same module, updated by runtime/optim.ts's loops
    const data = { x: new Float32Array(100 * 784).map((_, i) => ((i * 7919) % 256) / 255), y: new Float32Array(100 * 10).map((_, i) => (i % 10 === (i / 10) % 7 ? 1 : 0)) };
    for (const optimizer of [sgd({ lr: 0.05 }), momentum({ lr: 0.01, nesterov: true }), adam({ lr: 1e-3 })]) {
      const a = createTrainer(mnist, { optimizer, seed: 3, batchSize: 32, l2: 1e-4 });
      const b = createTrainer(jsOnly, { optimizer, seed: 3, batchSize: 32, l2: 1e-4 });
      a.fit(data, { epochs: 2, progress: false });
      b.fit(data, { epochs: 2, progress: false });
      expect(a.steps).toBe(8);
      expect(new Uint32Array(a.params.buffer, a.params.byteOffset, a.params.length)).toEqual(new Uint32Array(b.params.buffer, b.params.byteOffset, b.params.length));
      for (const s of Object.values(a.optimizer.state)) expect(s.buffer).toBe(a.params.buffer);
      for (const s of Object.values(b.optimizer.state)) expect(s.buffer).not.toBe(b.params.buffer);
    }
  });

  it("a checkpoint of the state in the module's memory resumes bit-for-bit", async () => {
    const mnist = (await import("../../generated/mnist.js")) as unknown as Module;
    const data = { x: new Float32Array(64 * 784).map((_, i) => ((i * 7919) % 256) / 255), y: new Float32Array(64 * 10).map((_, i) => (i % 10 === 3 ? 1 : 0)) };
    const a = createTrainer(mnist, { optimizer: adam({ lr: 1e-3 }), seed: 4, batchSize: 32 });
    a.fit(data, { epochs: 1, progress: false });
    const saved = a.checkpoint();
    const b = createTrainer(mnist, { optimizer: adam({ lr: 1e-3 }), seed: 9, batchSize: 32 });
    b.restore(saved);
    expect(b.steps).toBe(2);
    a.fit(data, { epochs: 1, progress: false });
    b.fit(data, { epochs: 1, progress: false });
    const bits = (x: Float32Array) => new Uint32Array(x.buffer, x.byteOffset, x.length);
    expect(bits(b.params)).toEqual(bits(a.params));
    expect(bits(b.optimizer.state.v!)).toEqual(bits(a.optimizer.state.v!));
  });
});
