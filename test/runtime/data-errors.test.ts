// Mistakes in user data get errors that point at them: class labels where the model takes one-hot
// rows (naming oneHot), a wrong number of features (the input, the expected and the given width),
// nested rows; and evaluate() says which accuracy it reports — none for a regression target.
import { beforeAll, describe, expect, it } from "vitest";
import { argmaxRows, createTrainer, loadIris, oneHot, RuntimeError, type Module } from "../../runtime/node.ts";
import { compiled, linear, rows } from "./models.ts";

let iris: Module;
const { train, test, nTrain } = loadIris({ seed: 3 });
beforeAll(async () => {
  iris = await compiled("iris");
});

function error(f: () => unknown): RuntimeError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(RuntimeError);
    return e as RuntimeError;
  }
  throw new Error("no error");
}

describe("errors on user data", () => {
  it("integer class labels where one-hot targets are expected: says so and names oneHot()", () => {
    const t = createTrainer(iris, { batchSize: 16 });
    const labels = argmaxRows(train.y, 3); // 0, 1, 2 per example
    expect(labels.length).toBe(nTrain);
    const e = error(() => t.fit({ x: train.x, y: Float32Array.from(labels) }, { epochs: 1, progress: false }));
    expect(e.code).toBe("E_DATA");
    expect(e.message).toBe(
      `train: data.y holds ${nTrain} integers, one per example — class labels? Input 'y' takes one-hot rows of 3: pass oneHot(labels, 3) (from gradc/runtime) instead`,
    );
    // ... and the fix it names works
    t.fit({ x: train.x, y: oneHot(labels, 3) }, { epochs: 1, progress: false });
  });

  it("a wrong feature count names the input, the expected width and the given one", () => {
    const t = createTrainer(iris, { batchSize: 16 });
    const five = new Float32Array(nTrain * 5);
    // 5 * 120 is a multiple of 4 too (150 rows): the other input's count tells the width
    expect(error(() => t.fit({ x: five, y: train.y }, { epochs: 1, progress: false })).message).toBe(
      `train: data.y holds ${nTrain} examples, data.x ${(nTrain * 5) / 4}; every input needs the same number (or input 'x' expects 4 numbers per example and was given 5)`,
    );
    // 7 features for the 30 test flowers: 210 is not a multiple of 4, so the width is certain
    expect(error(() => t.evaluate({ x: new Float32Array(30 * 7), y: test.y })).message).toBe(
      "evaluate: input 'x' expects 4 numbers per example, got 7 (data.x holds 210 numbers for the 30 examples of data.y)",
    );
    const three = new Float32Array(nTrain * 3);
    expect(error(() => t.evaluate({ x: three, y: train.y })).message).toBe(
      `evaluate: data.y holds ${nTrain} examples, data.x ${(nTrain * 3) / 4}; every input needs the same number (or input 'x' expects 4 numbers per example and was given 3)`,
    );
    expect(error(() => t.evaluate({ x: new Float32Array(7), y: train.y })).message).toMatch(/input 'x' takes 4 per example, so a positive multiple of 4 \(120 examples, as data\.y has, would be 480\)/);
  });

  it("nested rows: says to flatten them with dataset()", () => {
    const t = createTrainer(iris, { batchSize: 16 });
    const nested = { x: [[5.1, 3.5, 1.4, 0.2]], y: [[1, 0, 0]] } as unknown as typeof train;
    expect(error(() => t.evaluate(nested)).message).toMatch(/data\.x is an array of rows; flatten the data set with dataset\(\{ x: rows, … \}\)/);
  });
});

describe("evaluate() reports accuracy only where it means something", () => {
  it("classification with one-hot targets: argmax accuracy", () => {
    const t = createTrainer(iris, { batchSize: 16, seed: 1 });
    t.fit(train, { epochs: 5, progress: false });
    const ev = t.evaluate(test);
    expect(ev.metric).toBe("argmax");
    expect(ev.accuracy).toBeGreaterThan(0);
  });

  it("regression (a continuous target): metric 'none', accuracy NaN, and early stopping on accuracy is refused", () => {
    const { mod } = linear(8);
    const t = createTrainer(mod, { batchSize: 8 });
    const data = rows(16);
    const ev = t.evaluate(data);
    expect(ev.metric).toBe("none");
    expect(ev.accuracy).toBeNaN();
    const h = t.fit(data, { epochs: 1, progress: false });
    expect(h.accuracy[0]).toBeNaN();
    expect(error(() => t.fit(data, { epochs: 2, progress: false, earlyStopping: { patience: 1, monitor: "accuracy" } })).message).toMatch(
      /targets of 't' are not classes .*monitor "loss"/,
    );
  });

  it("0/1 targets of a one-column output: threshold accuracy", () => {
    const { mod } = linear(4);
    const t = createTrainer(mod, { batchSize: 4 });
    const ev = t.evaluate({ x: Float32Array.of(0, 0, 0, 1, 1, 0, 1, 1), t: Float32Array.of(0, 1, 1, 1) });
    expect(ev.metric).toBe("threshold");
    expect(Number.isNaN(ev.accuracy)).toBe(false);
  });

  it("cross-entropy targets that are not probabilities or distributions are refused, naming the input and the fix", async () => {
    const ce = createTrainer(iris, { batchSize: 16 });
    expect(iris.layout.inputs.find((s) => s.name === "y")!.target).toBe("distribution");
    const five = Float32Array.from(train.y);
    five[3 * 2 + 1] = 5; // example 2 says class 1 with weight 5: a loss that can go negative
    let e = error(() => ce.fit({ x: train.x, y: five }, { epochs: 1, progress: false }));
    expect([e.code, e.message]).toEqual(["E_DATA", expect.stringContaining("data.y holds 5 in example 2 (column 1), but 'y' is the target of a softmax cross-entropy")]);
    expect(e.message).toContain("oneHot(labels, k)");
    const minus = Float32Array.from(train.y).map((v, i) => (i === 4 ? -1 : v));
    e = error(() => ce.evaluate({ x: train.x, y: minus }));
    expect(e.message).toContain("data.y holds -1 in example 1 (column 1)");
    expect(Number.isFinite(ce.evaluate({ x: train.x, y: Float32Array.from(train.y).map((v, i) => (i < 3 ? 0 : v)) }).loss)).toBe(true); // a zero row: left out, allowed
    expect(Number.isFinite(ce.evaluate(test).loss)).toBe(true); // one-hot rows pass
    const xor = await compiled("xor");
    expect(xor.layout.inputs.find((s) => s.name === "t")!.target).toBe("probability");
    const b = createTrainer(xor, {});
    e = error(() => b.fit({ x: Float32Array.of(0, 0, 0, 1, 1, 0, 1, 1), t: Float32Array.of(-1, 1, 1, -1) }, { epochs: 1, progress: false }));
    expect(e.message).toContain("'t' is the target of a binary cross-entropy");
    expect(e.message).toContain("map -1/+1 to 0/1");
  });
});
