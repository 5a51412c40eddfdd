// runtime/data.ts shiftImages: translation augmentation for image rows (examples/lenet/train.ts).
import { describe, expect, it } from "vitest";
import { Rng, RuntimeError, shiftImages } from "../../runtime/index.ts";

/** A fake rng that returns the given draws of int(n) in order. */
const draws = (...v: number[]) => ({ int: () => v.shift()! }) as unknown as Rng;

describe("shiftImages", () => {
  // one 3×4 image: values 1..12 row by row
  const img = Float32Array.from({ length: 12 }, (_, i) => i + 1);
  it("moves an image by (dx, dy) and fills the vacated pixels with 0", () => {
    // max 1: int(3) − 1 → dx = +1 (right), dy = −1 (up)
    const out = shiftImages(img, new Float32Array(12), { width: 4, height: 3, max: 1, rng: draws(2, 0) });
    expect([...out]).toEqual([0, 5, 6, 7, 0, 9, 10, 11, 0, 0, 0, 0]);
  });
  it("with a zero shift copies the image; max 0 never shifts", () => {
    expect([...shiftImages(img, new Float32Array(12), { width: 4, height: 3, max: 1, rng: draws(1, 1) })]).toEqual([...img]);
    expect([...shiftImages(img, new Float32Array(12), { width: 4, height: 3, max: 0, rng: new Rng(3) })]).toEqual([...img]);
  });
  it("shifts every channel of an image by the same amount, each image by its own", () => {
    const two = Float32Array.from({ length: 2 * 2 * 2 * 2 }, (_, i) => i + 1); // 2 images × 2 channels × 2×2
    // image 0: dx = −1, dy = 0; image 1: dx = 0, dy = +1
    const out = shiftImages(two, new Float32Array(16), { width: 2, height: 2, channels: 2, max: 1, rng: draws(0, 1, 1, 2) });
    expect([...out]).toEqual([2, 0, 4, 0, 6, 0, 8, 0, 0, 0, 9, 10, 0, 0, 13, 14]);
  });
  it("is reproducible from a seed and draws afresh on each call", () => {
    const big = Float32Array.from({ length: 50 * 16 }, (_, i) => (i * 7919) % 13);
    const a = shiftImages(big, new Float32Array(big.length), { width: 4, height: 4, max: 2, rng: new Rng(9) });
    const b = shiftImages(big, new Float32Array(big.length), { width: 4, height: 4, max: 2, rng: new Rng(9) });
    expect([...a]).toEqual([...b]);
    const r = new Rng(9);
    const first = shiftImages(big, new Float32Array(big.length), { width: 4, height: 4, max: 2, rng: r });
    const second = shiftImages(big, new Float32Array(big.length), { width: 4, height: 4, max: 2, rng: r });
    expect([...first]).not.toEqual([...second]);
  });
  it("refuses partial images, a wrong-sized or aliased out, and bad sizes", () => {
    const bad = (f: () => unknown, msg: RegExp) => {
      expect(f).toThrow(RuntimeError);
      expect(f).toThrow(msg);
    };
    const rng = new Rng(1);
    bad(() => shiftImages(new Float32Array(13), new Float32Array(13), { width: 4, height: 3, max: 1, rng }), /13 values are not whole images of 1×3×4 = 12/);
    bad(() => shiftImages(img, new Float32Array(11), { width: 4, height: 3, max: 1, rng }), /same length \(12\), got 11/);
    bad(() => shiftImages(img, img, { width: 4, height: 3, max: 1, rng }), /the input itself/);
    bad(() => shiftImages(img, new Float32Array(12), { width: 0, height: 3, max: 1, rng }), /width must be a positive whole number/);
    bad(() => shiftImages(img, new Float32Array(12), { width: 4, height: 3, max: -1, rng }), /max must be a whole number/);
  });
});
