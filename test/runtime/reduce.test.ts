// runtime/reduce.ts: the threads' fixed-order reduction a ← fl(fl(w0·a) + fl(w1·b)), a hand-written wasm SIMD
// loop with its weights in its memory, against the float32 arithmetic it stands for, element by element.
import { describe, expect, it } from "vitest";
import { Reducer } from "../../runtime/reduce.ts";

describe("Reducer", () => {
  it.each([[1], [7], [1001], [101_770]])("computes fl(fl(w0 a) + fl(w1 b)) bit for bit (%i floats, wasm)", (n) => {
    const r = new Reducer(n, false);
    expect((r as unknown as { axpbyWasm?: unknown }).axpbyWasm).toBeDefined();
    const a = Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 3);
    const b = Float32Array.from({ length: n }, (_, i) => Math.cos(i * 1.7) * 1e-3);
    for (const [w0, w1] of [
      [19 / 37, 18 / 37],
      [1, 1 / 3],
      [0.5, 0.5],
    ] as const) {
      r.a.set(a);
      r.b.set(b);
      r.w[0] = w0;
      r.w[1] = w1;
      r.axpby();
      const u = Math.fround(w0);
      const v = Math.fround(w1);
      const want = Float32Array.from(a, (x, i) => Math.fround(u * x) + Math.fround(v * b[i]!));
      expect(r.a.every((x, i) => Object.is(x, want[i]))).toBe(true);
      expect(r.w[0]).toBe(u); // the weights stay for the next call
    }
  });

  it("float64 buffers reduce in doubles", () => {
    const r = new Reducer(5, true);
    r.a.set([1, 2, 3, 4, 5]);
    r.b.set([0.1, 0.2, 0.3, 0.4, 0.5]);
    r.w[0] = 1 / 3;
    r.w[1] = 2 / 3;
    r.axpby();
    const b = [0.1, 0.2, 0.3, 0.4, 0.5];
    expect(Array.from(r.a)).toEqual([1, 2, 3, 4, 5].map((x, i) => (1 / 3) * x + (2 / 3) * b[i]!));
  });
});
