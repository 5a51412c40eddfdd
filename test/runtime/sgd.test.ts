// runtime/sgd.ts on hand-written modules, so batching, momentum and the
// argument checks are tested apart from the compiler.
import { describe, expect, it } from "vitest";
import { predict, sgdStep, train, type Layout, type Module } from "../../runtime/index.ts";

/**
 * Least squares y = x w with x [B,1], t [B,1], w [1,1]: L = mean 0.5 (x w - t)^2,
 * written at arena[B] (layout.lossOffset). Records every batch it sees.
 */
function linear(batch: number) {
  const layout: Layout = {
    name: "lin",
    source: "test",
    params: [{ name: "w", shape: [1, 1], offset: 0, size: 1, init: { value: [0] } }],
    paramSize: 1,
    inputs: [
      { name: "x", shape: [batch, 1], offset: 0, size: batch },
      { name: "t", shape: [batch, 1], offset: batch, size: batch },
    ],
    inputSize: 2 * batch,
    outputs: [{ name: "y", shape: [batch, 1], offset: 0, size: batch }],
    arenaSize: batch + 1,
    lossOffset: batch,
    hasLoss: true,
  };
  const seen: number[][] = [];
  const mod: Module = {
    layout,
    forward(p, inp, arena) {
      seen.push(Array.from(inp.subarray(0, batch)));
      let loss = 0;
      for (let i = 0; i < batch; i++) {
        arena[i] = inp[i]! * p[0]!;
        loss += 0.5 * (arena[i]! - inp[batch + i]!) ** 2;
      }
      arena[batch] = loss / batch;
    },
    backward(p, inp, arena, g) {
      let d = 0;
      for (let i = 0; i < batch; i++) d += (arena[i]! - inp[batch + i]!) * inp[i]!;
      g[0] = d / batch;
    },
  };
  return { mod, seen };
}

describe("train", () => {
  it("fits least squares by full-batch gradient descent", () => {
    const { mod } = linear(4);
    const r = train(mod, { data: { x: [1, 2, 3, 4], t: [3, 6, 9, 12] }, lr: 0.1, epochs: 200 });
    expect(r.params[0]).toBeCloseTo(3, 5);
    expect(r.steps).toBe(200);
    expect(r.epochs).toBe(200);
    expect(r.loss).toBeLessThan(1e-8);
  });

  it("mini-batches: ceil(N/B) steps per epoch, every example every epoch, a fresh order each epoch", () => {
    const { mod, seen } = linear(2);
    const x = [1, 2, 3, 4, 5];
    train(mod, { data: { x, t: x.map((v) => 2 * v) }, lr: 0.01, epochs: 3, seed: 4 });
    expect(seen.length).toBe(9); // 3 batches of 2 per epoch
    const epochs = [seen.slice(0, 3).flat(), seen.slice(3, 6).flat(), seen.slice(6, 9).flat()];
    for (const e of epochs) expect(new Set(e.slice(0, 5))).toEqual(new Set(x)); // the 6th is a wrapped-around repeat
    expect(epochs[0]).not.toEqual(epochs[1]);
  });

  it("keeps x and t of one example together when shuffling", () => {
    const { mod } = linear(1);
    const seen: [number, number][] = [];
    const fwd = mod.forward;
    const spy: Module = { ...mod, forward: (p, inp, a) => (seen.push([inp[0]!, inp[1]!]), fwd(p, inp, a)) };
    train(spy, { data: { x: [1, 2, 3], t: [10, 20, 30] }, lr: 0.001, epochs: 4, seed: 1 });
    for (const [xv, tv] of seen) expect(tv).toBe(10 * xv);
  });

  it("with shuffle: false, visits examples in order", () => {
    const { mod, seen } = linear(2);
    train(mod, { data: { x: [1, 2, 3, 4], t: [0, 0, 0, 0] }, lr: 0.01, epochs: 2, shuffle: false });
    expect(seen).toEqual([
      [1, 2],
      [3, 4],
      [1, 2],
      [3, 4],
    ]);
  });

  it("stops early when onEpoch returns false, and reports the epoch mean loss", () => {
    const { mod } = linear(4);
    const losses: number[] = [];
    const r = train(mod, {
      data: { x: [1, 2, 3, 4], t: [3, 6, 9, 12] },
      lr: 0.1,
      epochs: 1000,
      onEpoch: (e, l) => {
        losses.push(l);
        return e < 5;
      },
    });
    expect(r.epochs).toBe(5);
    expect(losses[0]).toBeCloseTo((0.5 * (9 + 36 + 81 + 144)) / 4, 4); // at w = 0
    expect(r.loss).toBe(losses[4]);
  });

  it("trains params given in place, and in float64 with Array: Float64Array", () => {
    const { mod } = linear(4);
    const params = new Float64Array([1]);
    const r = train(mod as unknown as Module<Float64Array>, {
      data: { x: [1, 2, 3, 4], t: [3, 6, 9, 12] },
      lr: 0.1,
      epochs: 300,
      params,
      Array: Float64Array,
    });
    expect(r.params).toBe(params);
    expect(params[0]).toBeCloseTo(3, 10);
  });

  it("rejects bad data and options with messages that name the problem", () => {
    const { mod } = linear(2);
    const data = { x: [1, 2], t: [1, 2] };
    expect(() => train(mod, { data: { x: [1, 2] }, lr: 0.1, epochs: 1 })).toThrow(/missing input 't'/);
    expect(() => train(mod, { data: { ...data, z: [1] }, lr: 0.1, epochs: 1 })).toThrow(/'z', which is not an input/);
    expect(() => train(mod, { data: { x: [1, 2, 3, 4], t: [1, 2] }, lr: 0.1, epochs: 1 })).toThrow(/same number/);
    expect(() => train(mod, { data, lr: -1, epochs: 1 })).toThrow(/lr must be/);
    expect(() => train(mod, { data, lr: 0.1, epochs: 1, momentum: 1 })).toThrow(/momentum/);
    expect(() => train({ ...mod, backward: undefined }, { data, lr: 0.1, epochs: 1 })).toThrow(/no loss/);
    expect(() => train(mod, { data, lr: 0.1, epochs: 1, params: new Float32Array(3) })).toThrow(/needs 1/);
  });
});

describe("sgdStep", () => {
  it("is plain SGD without momentum and heavy-ball with it", () => {
    const p = new Float64Array([1, 1]);
    const g = new Float64Array([0.5, -1]);
    const v = new Float64Array(2);
    sgdStep(p, g, v, 0.1, 0);
    expect(Array.from(p)).toEqual([0.95, 1.1]);
    sgdStep(p, g, v, 0.1, 0.9); // v = g
    sgdStep(p, g, v, 0.1, 0.9); // v = 0.9 g + g
    expect(Array.from(v)).toEqual([0.95, -1.9]);
    expect(p[0]).toBeCloseTo(0.95 - 0.05 - 0.095, 12);
  });
});

describe("predict", () => {
  it("returns every output's rows for N examples, batch by batch, with missing inputs as zeros", () => {
    const { mod } = linear(2);
    const { y } = predict(mod, new Float32Array([3]), { x: [1, 2, 3, 4, 5] });
    expect(Array.from(y!)).toEqual([3, 6, 9, 12, 15]);
  });
});
