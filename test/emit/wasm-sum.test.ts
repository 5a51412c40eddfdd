// The wasm sum kernel (compiler/emit/wasm-sum.ts) standalone: one kernel in a module over a NaN-filled memory
// holding random float32 data, y[b] = Σ_{a,c} x[(a·B + b)·Cc + c] against float64. Shapes: LeNet's two bias
// gradients and its dense one, runs with vector and scalar remainders, runs longer than one float32 piece
// (1,024 terms), Cc of 1, 2, 3, B below and not a multiple of four; input and output at address 0 and at
// the very end of memory.
import { describe, expect, it } from "vitest";
import { buildWasm } from "../../compiler/emit/wasm.ts";
import type { SumKernel } from "../../compiler/lower/kernel.ts";
import { rng } from "../helpers.ts";

const PAGES = 8;
const END = PAGES * 65536;

function run(A: number, B: number, Cc: number, place: "low" | "high" | "apart", seed: number) {
  const n = A * B * Cc;
  // x at 0 and y right after it; y at 0 and x ending at the last byte of memory; or x and y apart, unaligned
  const [x, y] = place === "low" ? [0, n * 4] : place === "high" ? [END - n * 4, 0] : [20, END - B * 4 - 8];
  const k: SumKernel = { kind: "sum", name: "sm0", A, B, Cc, x, y };
  const memory = new WebAssembly.Memory({ initial: PAGES, maximum: PAGES });
  const f32 = new Float32Array(memory.buffer);
  f32.fill(Number.NaN); // a read outside x shows up as NaN
  const r = rng(seed);
  const xs = Float32Array.from({ length: n }, () => r() * 2 - 1);
  f32.set(xs, x / 4);
  const inst = new WebAssembly.Instance(new WebAssembly.Module(buildWasm([k], PAGES, { params: 0, grads: 0, size: 0 }) as Uint8Array<ArrayBuffer>), { env: { memory } });
  (inst.exports.sm0 as () => void)();
  let worst = 0;
  for (let b = 0; b < B; b++) {
    let want = 0, mag = 0;
    for (let a = 0; a < A; a++)
      for (let c = 0; c < Cc; c++) {
        const v = xs[(a * B + b) * Cc + c]!;
        want += v;
        mag += Math.abs(v);
      }
    const got = f32[y / 4 + b]!;
    const err = Math.abs(got - want);
    // the float32 rounding of the stored float64 sum; with Cc ≥ 4, float32 partial sums of ≤ 64 terms each before it
    const tol = 6e-8 * Math.abs(want) + (Cc >= 4 ? 64 * 6e-8 * mag : 1e-12 * mag);
    if (!(err <= tol)) throw new Error(`A ${A} B ${B} Cc ${Cc} ${place}: y[${b}] = ${got}, want ${want} (tolerance ${tol})`);
    worst = Math.max(worst, err / (mag || 1));
  }
  // nothing written outside y
  const yEnd = y / 4 + B;
  for (const i of [y / 4 - 1, yEnd]) if (i >= 0 && i < f32.length && (i < x / 4 || i >= x / 4 + n)) expect(f32[i]).toBeNaN();
  return worst;
}

const SHAPES: [string, number, number, number][] = [
  ["LeNet conv1's bias gradient [32, 6, 576]", 32, 6, 576],
  ["LeNet conv2's bias gradient [32, 16, 64]", 32, 16, 64],
  ["LeNet dense bias gradient [32, 120, 1]", 32, 120, 1],
  ["[32, 10, 1]: B % 4 = 2", 32, 10, 1],
  ["runs of 1,030 + a scalar tail (two pieces)", 3, 2, 1031],
  ["runs of 2,050 (three pieces)", 2, 3, 2050],
  ["runs of 4..15: vector remainders only", 5, 3, 13],
  ["one run of 16", 1, 1, 16],
  ["Cc 2", 7, 5, 2],
  ["Cc 3, B 1", 9, 1, 3],
  ["Cc 1, B 3 (no vector)", 11, 3, 1],
  ["A 1 (nothing summed before)", 1, 5, 40],
];

describe("wasm sum kernel against float64", () => {
  for (const [label, A, B, Cc] of SHAPES)
    it(label, () => {
      for (const place of ["low", "high", "apart"] as const) expect(run(A, B, Cc, place, A * 31 + B * 7 + Cc)).toBeLessThan(1e-6);
    });
});
