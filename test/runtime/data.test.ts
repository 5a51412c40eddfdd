// runtime/data.ts: building data sets, CSV and JSON loaders, one-hot, seeded
// splits, and the two real data sets.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  argmaxRows,
  dataset,
  encodeLabels,
  loadCsv,
  loadIris,
  loadJson,
  loadMnist,
  oneHot,
  parseCsv,
  parseCsvRows,
  parseJson,
  RuntimeError,
  splitDataset,
  standardize,
  take,
} from "../../runtime/node.ts";

const dir = mkdtempSync(path.join(tmpdir(), "gradc-data-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const codeOf = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return (e as RuntimeError).code;
  }
};

describe("building data sets", () => {
  it("dataset flattens rows; take, oneHot, argmaxRows, encodeLabels", () => {
    const d = dataset({ x: [[0, 0], [0, 1], [1, 0], [1, 1]], t: [0, 1, 1, 0] });
    expect(Array.from(d.x)).toEqual([0, 0, 0, 1, 1, 0, 1, 1]);
    expect(d.t).toBeInstanceOf(Float32Array);
    expect(Array.from(take(d, 4, [3, 0]).x)).toEqual([1, 1, 0, 0]);
    expect(Array.from(oneHot([2, 0], 3))).toEqual([0, 0, 1, 1, 0, 0]);
    expect(Array.from(argmaxRows([0.1, 0.7, 0.2, 5, 1, 1], 3))).toEqual([1, 0]);
    expect(encodeLabels(["b", "a", "b"])).toEqual({ index: Int32Array.of(1, 0, 1), classes: ["a", "b"] });
    expect(() => dataset({ x: [[1, 2], [3]] })).toThrow(/row 1 has 1 numbers, row 0 has 2/);
    expect(() => dataset({ x: [[1]], t: [1, 2] })).toThrow(/'t' has 2 rows, 'x' has 1/);
    expect(() => oneHot([3], 3)).toThrow(/label 3/);
  });

  it("splitDataset: disjoint, complete, seeded, stratified on request", () => {
    const n = 100;
    const d = { id: Float32Array.from({ length: n }, (_, i) => i), y: oneHot(Array.from({ length: n }, (_, i) => (i < 80 ? 0 : 1)), 2) };
    const a = splitDataset(d, n, { validation: 0.2, seed: 1, stratify: "y" });
    const ids = (x: { id: ArrayLike<number> }) => Array.from(x.id);
    expect(a.validation.id.length).toBe(20);
    expect(new Set([...ids(a.train), ...ids(a.validation)]).size).toBe(100);
    expect(argmaxRows(a.validation.y, 2).filter((c) => c === 1).length).toBe(4); // 20% of each class
    expect(ids(splitDataset(d, n, { validation: 0.2, seed: 1, stratify: "y" }).validation)).toEqual(ids(a.validation));
    expect(ids(splitDataset(d, n, { validation: 0.2, seed: 2 }).validation)).not.toEqual(ids(a.validation));
    expect(splitDataset(d, n, { validation: 7 }).validation.id.length).toBe(7);
    expect(() => splitDataset(d, n, { validation: 101 })).toThrow(/validation must be/);
  });

  it("standardize uses the first set's statistics for all", () => {
    const fit = { x: Float32Array.of(1, 10, 3, 30) };
    const other = { x: Float32Array.of(2, 20) };
    const { mean, std } = standardize(fit, 2, "x", other);
    expect(Array.from(mean)).toEqual([2, 20]);
    expect(Array.from(std)).toEqual([1, 10]);
    expect(Array.from(fit.x)).toEqual([-1, -1, 1, 1]);
    expect(Array.from(other.x)).toEqual([0, 0]);
  });
});

describe("CSV", () => {
  const text = 'a,b,"label, quoted"\r\n1,2,"cat"\n3, 4.5 ,dog\n\n5,6,"ca""t"\n';
  it("parses RFC 4180 fields: quotes, doubled quotes, CRLF, blank lines", () => {
    expect(parseCsvRows(text).map((r) => r.fields)).toEqual([
      ["a", "b", "label, quoted"],
      ["1", "2", "cat"],
      ["3", " 4.5 ", "dog"],
      ["5", "6", 'ca"t'],
    ]);
    expect(parseCsvRows('x\n"multi\nline"\n').map((r) => r.fields)).toEqual([["x"], ["multi\nline"]]);
  });

  it("builds inputs from named or numbered columns, one-hot for categories", () => {
    const { data, n, classes } = parseCsv(text, { columns: { x: ["a", "b"], y: { oneHot: "label, quoted" }, z: 0 } });
    expect(n).toBe(3);
    expect(Array.from(data.x)).toEqual([1, 2, 3, 4.5, 5, 6]);
    expect(classes.y).toEqual(["ca\"t", "cat", "dog"]);
    expect(Array.from(data.y)).toEqual([0, 1, 0, 0, 0, 1, 1, 0, 0]);
    expect(Array.from(data.z)).toEqual([1, 3, 5]);
    const noHeader = parseCsv("1;2\n3;4\n", { columns: { x: [0, 1] }, delimiter: ";", header: false });
    expect(Array.from(noHeader.data.x)).toEqual([1, 2, 3, 4]);
    const f = path.join(dir, "d.csv");
    writeFileSync(f, text);
    expect(loadCsv(f, { columns: { x: "a" } }).n).toBe(3);
  });

  it("errors name the line and column", () => {
    expect(() => parseCsv("a,b\n1,2\n3,x\n", { columns: { x: ["a", "b"] } })).toThrow(/CSV line 3, column 'b' \(input 'x'\): "x" is not a decimal number/);
    expect(() => parseCsv("a,b\n1,2,3\n", { columns: { x: "a" } })).toThrow(/CSV line 2: 3 fields, expected 2/);
    expect(() => parseCsv("a,b\n1,2\n", { columns: { x: "c" } })).toThrow(/names column 'c', which the header does not have \(columns: a, b\)/);
    expect(() => parseCsvRows('a\n"open\n')).toThrow(/never closes/);
    expect(codeOf(() => parseCsv("a\n1\n", { columns: { x: "c" } }))).toBe("E_DATA");
    expect(codeOf(() => loadCsv(path.join(dir, "none.csv"), { columns: { x: 0 } }))).toBe("E_IO");
  });
});

describe("numbers in data: decimal only, within float32, quoted short", () => {
  const one = (field: string) => () => parseCsv(`a\n${field}\n`, { columns: { x: "a" } });
  it("0x1F, 0b11, 0o7, Infinity, 1_000 and ' ' are not numbers (Number() takes the first three)", () => {
    for (const f of ["0x1F", "0b11", "0o7", "Infinity", "-Infinity", "1_000", "NaN", "1e", "--1", "0x"])
      expect(one(f), f).toThrow(/is not a decimal number/);
    expect(one('" "')).toThrow(/"" is not a decimal number/);
    for (const [f, v] of [["1", 1], ["-2.5", -2.5], [".5", 0.5], ["5.", 5], ["+3e-7", 3e-7], ["1E3", 1000]] as const)
      expect(one(f)().data.x[0], f).toBeCloseTo(v, 12);
  });
  it("a value beyond float32's range is a data error naming line and column (it trained to E_DIVERGED)", () => {
    expect(() => parseCsv("a,b\n1,2\n3,1e39\n", { columns: { x: ["a", "b"] } })).toThrow(
      /CSV line 3, column 'b' \(input 'x'\): "1e39" is beyond float32's range \(±3\.4e38\): it would be stored as Infinity/,
    );
    expect(codeOf(() => parseCsv("a\n-1e39\n", { columns: { x: "a" } }))).toBe("E_DATA");
    expect(() => dataset({ x: [[1, 1e39]] })).toThrow(/row 0 holds 1e\+39, which is beyond float32's range/);
    expect(() => dataset({ x: Float64Array.of(1, -5e38) })).toThrow(/element 1 holds -5e\+38/);
    expect(() => parseJson('[{"x": [1, 1e39]}]')).toThrow(/beyond float32's range/);
    expect(one("3.4e38")().data.x[0]).toBe(Math.fround(3.4e38)); // the edge itself is fine
  });
  it("a huge bad field is quoted at most 40 characters (a 5 MB field gave a 5,000,062-character message)", () => {
    const big = "z".repeat(5_000_000);
    let msg = "";
    try {
      parseCsv(`a\n${big}\n`, { columns: { x: "a" } });
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).toMatch(/"z{37}"\.\.\. \(5000000 characters\) is not a decimal number/);
    expect(msg.length).toBeLessThan(200);
  });
  it("seed: NaN is a RuntimeError (it was a plain RangeError)", async () => {
    const { Rng } = await import("../../runtime/rng.ts");
    let err: unknown;
    try {
      new Rng(NaN);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RuntimeError);
    expect((err as RuntimeError).code).toBe("E_ARG");
    expect(() => splitDataset(dataset({ x: [1, 2, 3, 4] }), 4, { validation: 0.5, seed: NaN })).toThrow(RuntimeError);
  });
});

describe("JSON", () => {
  it("reads an array of examples or an object of columns, one-hot for string labels", () => {
    const rows = parseJson('[{"x":[1,2],"y":"b"},{"x":[3,4],"y":"a"}]', { oneHot: { y: true } });
    expect(rows.n).toBe(2);
    expect(Array.from(rows.data.x)).toEqual([1, 2, 3, 4]);
    expect(Array.from(rows.data.y)).toEqual([0, 1, 1, 0]);
    expect(rows.classes.y).toEqual(["a", "b"]);
    const cols = parseJson('{"x":[[1,2],[3,4]],"t":[0,1]}');
    expect(Array.from(cols.data.t)).toEqual([0, 1]);
    const f = path.join(dir, "d.json");
    writeFileSync(f, '{"x":[1,2,3]}');
    expect(loadJson(f).n).toBe(3);
  });

  it("errors say what is wrong", () => {
    expect(() => parseJson("[{")).toThrow(/JSON: /);
    expect(() => parseJson('{"y":["a"]}')).toThrow(/holds strings; list it in oneHot/);
    expect(() => parseJson('[{"x":[1]},{"x":[1,2]}]')).toThrow(/'x' of example 1 has 2 numbers, example 0 has 1/);
    expect(() => parseJson('{"x":[1,null]}')).toThrow(/not a finite number/);
    expect(() => parseJson('{"x":[1],"t":[1,2]}')).toThrow(/'t' has 2 entries/);
  });
});

describe("real data sets", () => {
  it("loadIris: 150 flowers, a stratified seeded split, standardized features", () => {
    const a = loadIris({ seed: 4 });
    expect([a.nTrain, a.nTest, a.classes]).toEqual([120, 30, ["setosa", "versicolor", "virginica"]]);
    expect(a.train.x.length).toBe(480);
    expect(Array.from(argmaxRows(a.test.y, 3)).sort()).toEqual([...Array(10).fill(0), ...Array(10).fill(1), ...Array(10).fill(2)]);
    const mean0 = a.train.x.filter((_, i) => i % 4 === 0).reduce((s, v) => s + v, 0) / 120;
    expect(Math.abs(mean0)).toBeLessThan(1e-5);
    expect(Array.from(loadIris({ seed: 4 }).test.x)).toEqual(Array.from(a.test.x));
    const raw = loadIris({ test: 0, standardize: false });
    expect([raw.nTrain, raw.nTest, raw.train.x[0]]).toEqual([150, 0, Math.fround(5.1)]);
  });

  it("loadMnist: real digits, a disjoint split, the same every run", () => {
    const a = loadMnist({ train: 3000, test: 1000 });
    expect([a.train.x.length, a.train.y.length, a.test.x.length]).toEqual([3000 * 784, 30000, 1000 * 784]);
    // pixels in [0, 1], one-hot labels, roughly 10% per digit
    expect(a.train.x.every((v) => v >= 0 && v <= 1)).toBe(true);
    const counts = new Array(10).fill(0);
    for (const c of argmaxRows(a.train.y, 10)) counts[c]++;
    for (const c of counts) expect(c).toBeGreaterThan(200);
    // disjoint: no test image equals a training image (the package's 10,000 are all distinct)
    const key = (x: Float32Array, i: number) => Buffer.from(x.buffer, x.byteOffset + i * 784 * 4, 784 * 4).toString("base64");
    const seen = new Set(Array.from({ length: 3000 }, (_, i) => key(a.train.x, i)));
    expect(Array.from({ length: 1000 }, (_, i) => key(a.test.x, i)).filter((k) => seen.has(k))).toEqual([]);
    const b = loadMnist({ train: 3000, test: 1000 });
    expect(Buffer.compare(Buffer.from(b.test.x.buffer), Buffer.from(a.test.x.buffer))).toBe(0);
    expect(loadMnist({ train: 10, test: 0, seed: 1 }).train.x).not.toEqual(loadMnist({ train: 10, test: 0, seed: 2 }).train.x);
    expect(() => loadMnist({ train: 9000, test: 2000 })).toThrow(/train \+ test <= 10000/);
  });
});
