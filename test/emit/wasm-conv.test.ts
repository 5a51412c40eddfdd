// The wasm conv and pool kernels (compiler/emit/wasm-conv.ts) standalone: each kernel alone in a module over a
// memory holding random float32 data, against float64 references written from CONV.md's formulas. Shapes: LeNet's
// two convs and pools, and odd ones (channel/row/column remainders of the register tiles, OW < 4, stride,
// explicit asymmetric padding, dilation, overlapping and padded pools, ties).
import { describe, expect, it } from "vitest";
import { buildWasm } from "../../compiler/emit/wasm.ts";
import { type ConvTiles, convScratchFloats } from "../../compiler/emit/wasm-conv.ts";
import { type BackInputPath, backInputPath } from "../../compiler/plan/target.ts";
import type { ConvKernel, Epi, PoolKernel } from "../../compiler/lower/kernel.ts";
import { rng } from "../helpers.ts";

interface Geo {
  N: number; C: number; H: number; W: number; K: number; R: number; S: number;
  stride: [number, number]; pad: [number, number, number, number]; dilation: [number, number];
}
const out = (g: Geo) => {
  const OH = (g.H + g.pad[0] + g.pad[2] - g.dilation[0] * (g.R - 1) - 1) / g.stride[0] + 1;
  const OW = (g.W + g.pad[1] + g.pad[3] - g.dilation[1] * (g.S - 1) - 1) / g.stride[1] + 1;
  if (!Number.isInteger(OH) || !Number.isInteger(OW)) throw new Error(`test geometry: ${OH}×${OW}`);
  return { OH, OW };
};

/** y[n,k,oh,ow] = Σ x[n,c,oh·sh−pt+r·dh, ow·sw−pl+s·dw] w[k,c,r,s], calling `f(yi, xi, wi)` for each term in bounds. */
function terms(g: Geo, f: (yi: number, xi: number, wi: number) => void): void {
  const { OH, OW } = out(g);
  for (let n = 0; n < g.N; n++)
    for (let k = 0; k < g.K; k++)
      for (let oh = 0; oh < OH; oh++)
        for (let ow = 0; ow < OW; ow++)
          for (let c = 0; c < g.C; c++)
            for (let r = 0; r < g.R; r++)
              for (let s = 0; s < g.S; s++) {
                const h = oh * g.stride[0] - g.pad[0] + r * g.dilation[0];
                const w = ow * g.stride[1] - g.pad[1] + s * g.dilation[1];
                if (h < 0 || h >= g.H || w < 0 || w >= g.W) continue;
                f(((n * g.K + k) * OH + oh) * OW + ow, ((n * g.C + c) * g.H + h) * g.W + w, ((k * g.C + c) * g.R + r) * g.S + s);
              }
}

const PAGES = 64;

/** Memory with the kernel's regions at given byte offsets (deliberately not all 16-byte aligned). */
async function run(kernel: ConvKernel | PoolKernel, fill: (f32: Float32Array) => void, tiles: ConvTiles = {}): Promise<Float32Array> {
  const pages = PAGES;
  const bytes = buildWasm([kernel], pages, { params: 0, grads: 0, size: 0 }, undefined, tiles);
  const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
  const f32 = new Float32Array(memory.buffer);
  f32.fill(Number.NaN); // anything a kernel reads that it should not shows up
  fill(f32);
  const inst = await WebAssembly.instantiate(new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>), { env: { memory } });
  (inst.exports[kernel.name] as () => void)();
  return f32;
}

const random = (n: number, seed: number, q?: number) => {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => (q ? Math.floor(r() * q) : r() * 2 - 1));
};

/** float32 against float64: each element within 2e-6 of the sum of its terms' magnitudes (plus 1e-7). */
function expectClose(got: Float32Array, at: number, want: Float64Array, mag: Float64Array, what: string) {
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(got[at / 4 + i]! - want[i]!);
    const tol = 2e-6 * mag[i]! + 1e-7;
    if (!(err <= tol)) throw new Error(`${what}: element ${i}: got ${got[at / 4 + i]}, want ${want[i]} (tolerance ${tol})`);
    worst = Math.max(worst, err / tol);
  }
  return worst;
}

/** conv2dBackInput's kernel paths that handle `g` (compiler/plan/target.ts `backInputPath`), each tested. */
const backInputPaths = (g: Geo): BackInputPath[] => {
  const rows = g.stride[0] === 1 && g.dilation[0] === 1;
  return rows ? (g.stride[1] === 1 ? ["lanes", "rows"] : ["rows"]) : ["padded"];
};

const GEOS: [string, Geo][] = [
  ["LeNet conv1 (batch 2)", { N: 2, C: 1, H: 28, W: 28, K: 6, R: 5, S: 5, stride: [1, 1], pad: [0, 0, 0, 0], dilation: [1, 1] }],
  ["LeNet conv2 (batch 2)", { N: 2, C: 6, H: 12, W: 12, K: 16, R: 5, S: 5, stride: [1, 1], pad: [0, 0, 0, 0], dilation: [1, 1] }],
  ["odd channels, columns % 4, 3×2 kernel", { N: 3, C: 3, H: 9, W: 11, K: 5, R: 3, S: 2, stride: [1, 1], pad: [0, 0, 0, 0], dilation: [1, 1] }],
  ["asymmetric padding, dilation", { N: 2, C: 2, H: 8, W: 10, K: 7, R: 3, S: 3, stride: [1, 1], pad: [1, 2, 0, 1], dilation: [1, 2] }],
  ["stride 2×3 with padding", { N: 2, C: 3, H: 9, W: 12, K: 4, R: 3, S: 3, stride: [2, 3], pad: [1, 1, 1, 2], dilation: [1, 1] }],
  ["OW < 4, 1×1 kernel", { N: 2, C: 5, H: 3, W: 3, K: 9, R: 1, S: 1, stride: [1, 1], pad: [0, 0, 0, 0], dilation: [1, 1] }],
  ["'same' 3×3 (pad 1), K = 1", { N: 1, C: 4, H: 6, W: 7, K: 1, R: 3, S: 3, stride: [1, 1], pad: [1, 1, 1, 1], dilation: [2, 1] }],
  // batches of 4+: conv2dBackInput's lanes path (four images a vector), with a last vector of 1-3 images
  ["LeNet conv2 (batch 32)", { N: 32, C: 6, H: 12, W: 12, K: 16, R: 5, S: 5, stride: [1, 1], pad: [0, 0, 0, 0], dilation: [1, 1] }],
  ["batch 7 (a vector of 3 images), 3 channels, wide kernel", { N: 7, C: 3, H: 6, W: 9, K: 5, R: 2, S: 7, stride: [1, 1], pad: [0, 0, 0, 0], dilation: [1, 1] }],
  ["batch 12, 7 channels, padded, column dilation", { N: 12, C: 7, H: 7, W: 8, K: 3, R: 3, S: 3, stride: [1, 1], pad: [2, 1, 0, 2], dilation: [1, 2] }],
  ["batch 5, kernel wider than the output", { N: 5, C: 2, H: 4, W: 9, K: 4, R: 3, S: 6, stride: [1, 1], pad: [1, 0, 1, 0], dilation: [1, 1] }],
  ["batch 9, padding past the taps (pixels no tap reaches)", { N: 9, C: 4, H: 5, W: 6, K: 2, R: 2, S: 2, stride: [1, 1], pad: [3, 3, 0, 1], dilation: [1, 1] }],
  // conv2dBackFilter's fenced rows (compiler/emit/wasm-conv.ts `filterRows`): several rows an iteration over input
  // rows two apart, a last partial vector in each; 15 rows (8 an iteration, then 7 one at a time); rows too wide to fence
  ["row stride 2, column stride 1, OW % 4", { N: 2, C: 2, H: 11, W: 10, K: 5, R: 3, S: 3, stride: [2, 1], pad: [0, 1, 0, 1], dilation: [1, 1] }],
  ["15 rows, row dilation 2, OW 7", { N: 3, C: 2, H: 17, W: 8, K: 3, R: 3, S: 2, stride: [1, 1], pad: [1, 0, 1, 0], dilation: [2, 1] }],
  ["1 image, rows of 70 columns", { N: 1, C: 1, H: 5, W: 72, K: 3, R: 3, S: 3, stride: [1, 1], pad: [0, 0, 0, 0], dilation: [1, 1] }],
  // its tiles over the R·S taps in order: a block of taps one per kernel row (S = 1), a 1×1 kernel
  ["3×1 kernel, row dilation 2", { N: 2, C: 3, H: 9, W: 9, K: 4, R: 3, S: 1, stride: [1, 1], pad: [0, 0, 0, 0], dilation: [2, 1] }],
  ["1×1 kernel, 6 columns, 13 channels", { N: 3, C: 4, H: 5, W: 6, K: 13, R: 1, S: 1, stride: [1, 1], pad: [0, 0, 0, 0], dilation: [1, 1] }],
];

type ConvOp = "conv2d" | "conv2dBackInput" | "conv2dBackFilter";

/**
 * One conv kernel case against float64. `ends`: the three tensors in this order from address 0, the first at 0
 * and the last ending at the memory's last byte (an address below a region or past the memory traps), the bias
 * and the scratch between them; else all at small unaligned offsets.
 */
async function convCase(op: ConvOp, label: string, g: Geo, variant: string, path: BackInputPath | undefined, ends?: readonly ("x" | "w" | "y")[], tiles: ConvTiles = {}) {
  const { OH, OW } = out(g);
  const nx = g.N * g.C * g.H * g.W, nw = g.K * g.C * g.R * g.S, ny = g.N * g.K * OH * OW;
  const seed = nx + nw * 7 + op.length;
  const [x, w, y, bias, old] = [random(nx, seed), random(nw, seed + 1), random(ny, seed + 2), random(g.K, seed + 3), random(Math.max(nx, nw, ny), seed + 4)];
  const geom = { ...g, OH, OW };
  const scratchFloats = convScratchFloats({ op, ...geom }, path);
  // byte offsets: x at +4 (unaligned), w, y, bias, scratch (16-aligned)
  let X = 64 + 4, Wb = X + nx * 4 + 8, Y = Wb + nw * 4 + 12, Bb = Y + ny * 4 + 4, SCR = Math.ceil((Bb + g.K * 4 + 16) / 16) * 16;
  if (ends) {
    const bytes = { x: nx * 4, w: nw * 4, y: ny * 4 };
    const at = { x: 0, w: 0, y: 0 };
    at[ends[1]!] = bytes[ends[0]!] + 4;
    at[ends[2]!] = PAGES * 65536 - bytes[ends[2]!];
    [X, Wb, Y] = [at.x, at.w, at.y];
    Bb = at[ends[1]!] + bytes[ends[1]!] + 4;
    SCR = Math.ceil((Bb + g.K * 4 + 16) / 16) * 16;
    expect(SCR + scratchFloats * 4).toBeLessThanOrEqual(at[ends[2]!]);
  }
  const acc = variant === "accumulate";
  const epi: Epi | undefined = variant === "bias + relu" ? { k: "max", a: { k: "+", a: { k: "acc" }, b: { k: "load", at: Bb, rowBytes: 4, col: false } }, b: { k: "num", v: 0 } } : undefined;
  const k: ConvKernel = {
    kind: "conv", name: "cv", op, ...geom, x: X, w: Wb, y: Y, scratch: SCR, scratchBytes: scratchFloats * 4,
    ...(epi ? { epilogue: epi } : {}), ...(acc ? { accumulate: true } : {}),
  };
  const dest = op === "conv2d" ? { at: Y, n: ny } : op === "conv2dBackInput" ? { at: X, n: nx } : { at: Wb, n: nw };
  const mem = await run(k, (f) => {
    f.set(x, X / 4);
    f.set(w, Wb / 4);
    f.set(y, Y / 4);
    f.set(bias, Bb / 4);
    // the destination starts as `old` (accumulate) or garbage (it must be overwritten)
    if (acc) f.set(old.subarray(0, dest.n), dest.at / 4);
    else f.fill(1e30, dest.at / 4, dest.at / 4 + dest.n);
  }, { ...tiles, ...(path ? { backInputPath: path } : {}) });
  const want = new Float64Array(dest.n), mag = new Float64Array(dest.n);
  terms(g, (yi, xi, wi) => {
    const [o, a, b] = op === "conv2d" ? [yi, x[xi]!, w[wi]!] : op === "conv2dBackInput" ? [xi, y[yi]!, w[wi]!] : [wi, x[xi]!, y[yi]!];
    want[o]! += a * b;
    mag[o]! += Math.abs(a * b);
  });
  if (epi) for (let i = 0; i < ny; i++) want[i] = Math.max(0, want[i]! + bias[Math.floor(i / (OH * OW)) % g.K]!);
  if (epi) for (let i = 0; i < ny; i++) mag[i]! += Math.abs(bias[Math.floor(i / (OH * OW)) % g.K]!);
  if (acc) for (let i = 0; i < dest.n; i++) (want[i]! += old[i]!), (mag[i]! += Math.abs(old[i]!));
  expectClose(mem, dest.at, want, mag, `${op} ${label}`);
  // nothing written past the destination or into the inputs (the scratch aside)
  const others = [[X, x], [Wb, w], [Y, y]] as const;
  for (const [at, v] of others) if (at !== dest.at) expect(Array.from(mem.subarray(at / 4, at / 4 + v.length))).toEqual(Array.from(v));
  if (dest.at / 4 + dest.n < mem.length) expect(Number.isNaN(mem[dest.at / 4 + dest.n]!)).toBe(true);
  if (dest.at > 0) expect(Number.isNaN(mem[dest.at / 4 - 1]!)).toBe(true);
}

describe("wasm conv kernels against float64", () => {
  for (const [label, g] of GEOS)
    for (const op of ["conv2d", "conv2dBackInput", "conv2dBackFilter"] as const)
      for (const variant of op === "conv2d" ? ["plain", "bias + relu", "accumulate"] : ["plain", "accumulate"])
        for (const path of op === "conv2dBackInput" ? backInputPaths(g) : [undefined])
          it(`${op} ${label} ${variant}${path ? ` (${path}${path === backInputPath({ ...g, ...out(g) }) ? ", its choice" : ""})` : ""}`, () =>
            convCase(op, label, g, variant, path));
});

describe("wasm conv gradient kernels with their tensors at address 0 and at the end of memory", () => {
  const ORDERS = [["w", "x", "y"], ["y", "x", "w"], ["x", "w", "y"], ["y", "w", "x"], ["x", "y", "w"], ["w", "y", "x"]] as const;
  const CASES = GEOS.filter(([l]) => l.startsWith("LeNet conv2 (batch 32)") || l.startsWith("batch 12,") || l.startsWith("stride 2×3"));
  for (const [label, g] of CASES)
    for (const op of ["conv2dBackInput", "conv2dBackFilter"] as const)
      for (const path of op === "conv2dBackInput" ? backInputPaths(g) : [undefined])
        for (const ends of ORDERS)
          it(`${op} ${label}${path ? ` (${path})` : ""}: ${ends[0]} at 0, ${ends[2]} at the end`, () => convCase(op, label, g, "plain", path, ends));
  for (const ends of ORDERS)
    it(`conv2dBackFilter LeNet conv2 (batch 32) in blocks of 5 images: ${ends[0]} at 0, ${ends[2]} at the end`, () =>
      convCase("conv2dBackFilter", "LeNet conv2 (batch 32)", GEOS.find(([l]) => l === "LeNet conv2 (batch 32)")![1], "plain", undefined, ends, { filterImages: 5 }));
});

describe("wasm conv2dBackFilter with its rows as a loop and with other numbers of fenced rows an iteration", () => {
  const CASES = GEOS.filter(([l]) => /^(LeNet conv[12] \(batch 2\)|odd channels|asymmetric|row stride 2|15 rows|3×1 kernel)/.test(l));
  const TILES: [string, ConvTiles][] = [
    ["a loop per row", { filterFence: false }], ["1 fenced row an iteration", { filterRows: 1 }], ["3 fenced rows an iteration", { filterRows: 3 }],
    ["fenced, tile 2×3", { filterRows: 2, filter: [2, 3] }], ["fenced, tiles over one kernel row's columns", { filterTaps: false }], ["fenced, 3×4 taps", { filter: [3, 4] }],
  ];
  for (const [label, g] of CASES)
    for (const [what, tiles] of TILES)
      for (const variant of ["plain", "accumulate"])
        it(`${label} ${variant}: ${what}`, () => convCase("conv2dBackFilter", label, g, variant, undefined, undefined, tiles));
  // blocks of images (`filterImages`), the last one partial
  const BLOCKED = GEOS.filter(([l]) => /^(LeNet conv2 \(batch 32\)|batch 12,|batch 7 |15 rows|stride 2×3)/.test(l));
  for (const [label, g] of BLOCKED)
    for (const [what, tiles] of [["blocks of 5 images", { filterImages: 5 }], ["blocks of 2 images, a loop per row", { filterImages: 2, filterFence: false }]] as [string, ConvTiles][])
      for (const variant of ["plain", "accumulate"])
        it(`${label} ${variant}: ${what}`, () => convCase("conv2dBackFilter", label, g, variant, undefined, undefined, tiles));
});

interface PoolGeo { N: number; C: number; H: number; W: number; R: number; S: number; stride: [number, number]; pad: [number, number, number, number] }
/** A pool's output rows and columns. */
const poolOut = (g: PoolGeo): [number, number] => [(g.H + g.pad[0] + g.pad[2] - g.R) / g.stride[0] + 1, (g.W + g.pad[1] + g.pad[3] - g.S) / g.stride[1] + 1];
/** The x indices of plane p's window (oh, ow) that lie inside the image (padding cells left out), in window order. */
function windowCells(g: PoolGeo, p: number, oh: number, ow: number): number[] {
  const cells: number[] = [];
  for (let r = 0; r < g.R; r++)
    for (let s = 0; s < g.S; s++) {
      const h = oh * g.stride[0] - g.pad[0] + r, w = ow * g.stride[1] - g.pad[1] + s;
      if (h >= 0 && h < g.H && w >= 0 && w < g.W) cells.push((p * g.H + h) * g.W + w);
    }
  return cells;
}
const POOLS: [string, PoolGeo, number?][] = [
  ["LeNet pool1 2×2/2", { N: 2, C: 6, H: 24, W: 24, R: 2, S: 2, stride: [2, 2], pad: [0, 0, 0, 0] }],
  ["LeNet pool2 2×2/2, ties", { N: 2, C: 16, H: 8, W: 8, R: 2, S: 2, stride: [2, 2], pad: [0, 0, 0, 0] }, 3],
  ["3×3/2 padded 1", { N: 2, C: 3, H: 9, W: 9, R: 3, S: 3, stride: [2, 2], pad: [1, 1, 1, 1] }],
  ["3×2/1 overlapping, ties", { N: 1, C: 2, H: 5, W: 7, R: 3, S: 2, stride: [1, 1], pad: [0, 0, 0, 0] }, 2],
  ["2×2/3 gaps, asymmetric pad", { N: 1, C: 2, H: 7, W: 10, R: 2, S: 2, stride: [3, 3], pad: [0, 1, 1, 0] }],
];

describe("wasm pool kernels against float64", () => {
  for (const [label, g, levels] of POOLS)
    for (const op of ["maxPool2d", "avgPool2d", "maxPool2dBack", "avgPool2dBack"] as const)
      for (const [acc, mask] of [[false, false], [true, false], [false, true], [true, true]] as const) {
        const tiles = g.pad.every((p) => p === 0) && g.stride[0] === g.R && g.stride[1] === g.S && g.H % g.R === 0 && g.W % g.S === 0;
        if (mask && !(tiles && op.endsWith("Back"))) continue;
        it(`${op} ${label}${acc ? " accumulate" : ""}${mask ? " + relu mask epilogue" : ""}`, async () => {
          const [OH, OW] = poolOut(g);
          expect(Number.isInteger(OH) && Number.isInteger(OW)).toBe(true);
          const nx = g.N * g.C * g.H * g.W, ny = g.N * g.C * OH * OW;
          const [x, gy, old] = [random(nx, nx + ny, levels), random(ny, ny + 3), random(nx, 5)];
          const X = 64 + 4, Y = X + nx * 4 + 4, DX = Y + ny * 4 + 8;
          // relu's mask from the pool's input: x > 0 ? gradient : 0
          const epilogue: Epi = { k: "sel", c: { op: ">", a: { k: "load", at: X, rowBytes: 0, col: true }, b: { k: "num", v: 0 } }, a: { k: "acc" }, b: { k: "num", v: 0 } };
          const k: PoolKernel = { kind: "pool", name: "pl", op, ...g, OH, OW, x: X, y: Y, dx: DX, ...(acc ? { accumulate: true } : {}), ...(mask ? { epilogue } : {}) };
          const back = op.endsWith("Back");
          const dest = back ? { at: DX, n: nx } : { at: Y, n: ny };
          const mem = await run(k, (f) => {
            f.set(x, X / 4);
            if (back) f.set(gy, Y / 4);
            if (acc) f.set(old.subarray(0, dest.n), dest.at / 4);
            else f.fill(1e30, dest.at / 4, dest.at / 4 + dest.n);
          });
          const want = new Float64Array(dest.n), mag = new Float64Array(dest.n);
          let tiedWindows = 0;
          for (let p = 0; p < g.N * g.C; p++)
            for (let oh = 0; oh < OH; oh++)
              for (let ow = 0; ow < OW; ow++) {
                const cells = windowCells(g, p, oh, ow);
                const yi = (p * OH + oh) * OW + ow;
                const mx = Math.max(...cells.map((i) => x[i]!));
                const sum = cells.reduce((a, i) => a + x[i]!, 0);
                if (op === "maxPool2d") (want[yi] = mx), (mag[yi] = Math.abs(mx));
                if (op === "avgPool2d") (want[yi] = sum / cells.length), (mag[yi] = cells.reduce((a, i) => a + Math.abs(x[i]!), 0) / cells.length);
                if (op === "maxPool2dBack") {
                  // tied maxima share g equally (CONV.md)
                  const tied = cells.filter((i) => x[i] === mx);
                  if (tied.length > 1) tiedWindows++;
                  for (const i of tied) (want[i]! += gy[yi]! / tied.length), (mag[i]! += Math.abs(gy[yi]! / tied.length));
                }
                if (op === "avgPool2dBack") for (const i of cells) (want[i]! += gy[yi]! / cells.length), (mag[i]! += Math.abs(gy[yi]!) / cells.length);
              }
          if (mask) for (let i = 0; i < nx; i++) if (!(x[i]! > 0)) want[i] = 0;
          if (acc) for (let i = 0; i < dest.n; i++) (want[i]! += old[i]!), (mag[i]! += Math.abs(old[i]!));
          expectClose(mem, dest.at, want, mag, `${op} ${label}`);
          expect(Number.isNaN(mem[dest.at / 4 + dest.n]!)).toBe(true);
          if (levels && op === "maxPool2dBack") expect(tiedWindows).toBeGreaterThan(0); // the data really has ties
        });
      }
});

// The forward conv (rows and taps as loops) and the pools with their buffers at the edges of memory: each
// pointer must stay inside its region (wasm adds a load's static offset without wrapping).
describe("wasm forward conv and pools at address 0 and at the end of memory", () => {
  const END = 64 * 65536; // run()'s memory
  const cases: [string, Geo][] = [GEOS[1]!, GEOS[2]!, GEOS[3]!];
  for (const [label, g] of cases)
    for (const place of ["x at 0, y at the end", "w at 0, x at the end"] as const)
      it(`conv2d ${label}: ${place}`, async () => {
        const { OH, OW } = out(g);
        const nx = g.N * g.C * g.H * g.W, nw = g.K * g.C * g.R * g.S, ny = g.N * g.K * OH * OW;
        const [x, w] = [random(nx, nx + 1), random(nw, nw + 2)];
        const [X, Wb, Y] = place === "x at 0, y at the end" ? [0, nx * 4, END - ny * 4] : [END - nx * 4, 0, nw * 4 + 4];
        const SCR = Math.ceil((place === "x at 0, y at the end" ? Wb + nw * 4 : Y + ny * 4) / 16) * 16 + 64; // the padded copy, between
        const geom = { ...g, OH, OW };
        const scratchFloats = convScratchFloats({ op: "conv2d", ...geom });
        const k: ConvKernel = { kind: "conv", name: "cv", op: "conv2d", ...geom, x: X, w: Wb, y: Y, scratch: SCR, scratchBytes: scratchFloats * 4 };
        const mem = await run(k, (f) => {
          f.set(x, X / 4);
          f.set(w, Wb / 4);
        });
        const want = new Float64Array(ny), mag = new Float64Array(ny);
        terms(g, (yi, xi, wi) => {
          want[yi]! += x[xi]! * w[wi]!;
          mag[yi]! += Math.abs(x[xi]! * w[wi]!);
        });
        expectClose(mem, Y, want, mag, `conv2d ${label}`);
      });
  for (const [label, H, C] of [["pool1", 24, 6], ["pool2", 8, 16]] as const)
    for (const op of ["maxPool2d", "maxPool2dBack"] as const)
      it(`${op} LeNet ${label} + relu mask: x at 0, the result at the end`, async () => {
        const g = { N: 2, C, H, W: H, R: 2, S: 2, OH: H / 2, OW: H / 2, stride: [2, 2] as [number, number], pad: [0, 0, 0, 0] as [number, number, number, number] };
        const nx = g.N * C * H * H, ny = nx / 4;
        const [x, gy] = [random(nx, nx), random(ny, ny + 1)];
        const back = op === "maxPool2dBack";
        const X = 0, Y = back ? nx * 4 : END - ny * 4, DX = back ? END - nx * 4 : 0;
        const epilogue: Epi = { k: "sel", c: { op: ">", a: { k: "load", at: X, rowBytes: 0, col: true }, b: { k: "num", v: 0 } }, a: { k: "acc" }, b: { k: "num", v: 0 } };
        const k: PoolKernel = { kind: "pool", name: "pl", op, ...g, x: X, y: Y, dx: DX, ...(back ? { epilogue } : {}) };
        const mem = await run(k, (f) => {
          f.set(x, X / 4);
          if (back) f.set(gy, Y / 4);
        });
        const dest = back ? DX : Y;
        const n = back ? nx : ny;
        const want = new Float64Array(n), mag = new Float64Array(n);
        for (let p = 0; p < g.N * C; p++)
          for (let oh = 0; oh < g.OH; oh++)
            for (let ow = 0; ow < g.OW; ow++) {
              const cells = [0, 1, 2, 3].map((q) => (p * H + oh * 2 + (q >> 1)) * H + ow * 2 + (q & 1));
              const mx = Math.max(...cells.map((i) => x[i]!));
              const yi = (p * g.OH + oh) * g.OW + ow;
              if (!back) (want[yi] = mx), (mag[yi] = Math.abs(mx));
              else for (const i of cells) if (x[i] === mx && mx > 0) (want[i] = gy[yi]!), (mag[i] = Math.abs(gy[yi]!));
            }
        expectClose(mem, dest, want, mag, `${op} ${label}`);
      });
});

// maxPool2dBack's vector path (windows two columns wide at column stride 2, every cell in one window) finds each
// window's maximum with pmax and a NaN flag and divides by the tie count only when it is not a power of two:
// its result must be bit for bit float32's g/t at each of the t tied maxima, for every count, NaN, ±0 and ±∞.
describe("maxPool2dBack tie counts, NaN, ±0 and ±∞: bit-exact against float32", () => {
  const LEVELS = [Number.NEGATIVE_INFINITY, -1, -0, 0, 0.5, 1, Number.POSITIVE_INFINITY, Number.NaN];
  const cases: [string, PoolGeo][] = [
    ["2×2/2 24×24 (a row of three vectors, unrolled)", { N: 2, C: 3, H: 24, W: 24, R: 2, S: 2, stride: [2, 2], pad: [0, 0, 0, 0] }],
    ["2×2/2 8×44 (a row of five vectors as a loop, two windows left)", { N: 1, C: 2, H: 8, W: 44, R: 2, S: 2, stride: [2, 2], pad: [0, 0, 0, 0] }],
    ["3×2/(3,2) 9×12 (up to six ties: 3, 5, 6 divide)", { N: 2, C: 2, H: 9, W: 12, R: 3, S: 2, stride: [3, 2], pad: [0, 0, 0, 0] }],
  ];
  const reluSel: (at: number) => Epi = (at) => ({ k: "sel", c: { op: ">", a: { k: "load", at, rowBytes: 0, col: true }, b: { k: "num", v: 0 } }, a: { k: "acc" }, b: { k: "num", v: 0 } });
  // the form lowering fuses for relu's derivative: acc · (x > 0 ? 1 : 0) — a NaN or ∞ gradient times 0 stays NaN
  const reluMul: (at: number) => Epi = (at) => ({ k: "*", a: { k: "acc" }, b: { k: "sel", c: { op: ">", a: { k: "load", at, rowBytes: 0, col: true }, b: { k: "num", v: 0 } }, a: { k: "num", v: 1 }, b: { k: "num", v: 0 } } });
  for (const [label, g] of cases)
    for (const [variant, epi, acc] of [["plain", undefined, false], ["relu mask (select)", reluSel, false], ["relu mask (product)", reluMul, false], ["relu mask (product), accumulate", reluMul, true]] as const)
      it(`${label}, ${variant}`, async () => {
        const OH = g.H / g.R, OW = g.W / g.S;
        const nx = g.N * g.C * g.H * g.W, ny = g.N * g.C * OH * OW;
        const r = rng(nx + ny);
        // window by window: t tied maxima for t = 0 (a NaN among the cells) … R·S, the tied value often ±0 (mixed
        // signs), ∞ or −1, the other cells below it; every few windows random levels instead
        const x = new Float32Array(nx);
        const cellsOf = (p: number, oh: number, ow: number) => {
          const cs: number[] = [];
          for (let a = 0; a < g.R; a++) for (let b = 0; b < g.S; b++) cs.push((p * g.H + oh * g.R + a) * g.W + ow * g.S + b);
          return cs;
        };
        let wi = 0;
        for (let p = 0; p < g.N * g.C; p++)
          for (let oh = 0; oh < OH; oh++)
            for (let ow = 0; ow < OW; ow++, wi++) {
              const cs = cellsOf(p, oh, ow).sort(() => r() - 0.5);
              const t = wi % (cs.length + 2);
              if (t === cs.length + 1) {
                for (const i of cs) x[i] = LEVELS[Math.floor(r() * LEVELS.length)]!;
                continue;
              }
              const top = [0, 0, 1, Number.POSITIVE_INFINITY, -1, 0.5][Math.floor(r() * 6)]!;
              cs.forEach((i, j) => (x[i] = j < t ? (top === 0 && r() < 0.5 ? -0 : top) : r() < 0.3 ? Number.NEGATIVE_INFINITY : top - 1 - r()));
              if (t === 0) x[cs[0]!] = Number.NaN;
            }
        const gy = Float32Array.from({ length: ny }, () => (r() < 0.03 ? [Number.NaN, Number.POSITIVE_INFINITY, -0][Math.floor(r() * 3)]! : r() * 2 - 1));
        const old = random(nx, 11);
        const X = 64, Y = X + nx * 4 + 16, DX = Y + ny * 4 + 32;
        const k: PoolKernel = { kind: "pool", name: "pl", op: "maxPool2dBack", ...g, OH, OW, x: X, y: Y, dx: DX, ...(epi ? { epilogue: epi(X) } : {}), ...(acc ? { accumulate: true } : {}) };
        const mem = await run(k, (f) => {
          f.set(x, X / 4);
          f.set(gy, Y / 4);
          if (acc) f.set(old, DX / 4);
        });
        const want = new Float32Array(nx);
        const counts = new Set<number>();
        for (let p = 0; p < g.N * g.C; p++)
          for (let oh = 0; oh < OH; oh++)
            for (let ow = 0; ow < OW; ow++) {
              const cells = cellsOf(p, oh, ow);
              const mx = Math.max(...cells.map((i) => x[i]!));
              const tied = cells.filter((i) => x[i] === mx);
              counts.add(tied.length);
              const share = Math.fround(gy[(p * OH + oh) * OW + ow]! / tied.length);
              for (const i of cells) {
                let v = tied.includes(i) ? share : 0;
                if (epi === reluSel) v = x[i]! > 0 ? v : 0;
                if (epi === reluMul) v = Math.fround(v * (x[i]! > 0 ? 1 : 0));
                want[i] = acc ? Math.fround(old[i]! + v) : v;
              }
            }
        for (let t = 0; t <= (g.R === 2 ? 4 : 6); t++) expect(counts.has(t), `a window with ${t} tied maxima`).toBe(true);
        for (let i = 0; i < nx; i++) if (!Object.is(mem[DX / 4 + i], want[i])) throw new Error(`element ${i}: got ${mem[DX / 4 + i]}, want ${want[i]} (x ${x[i]})`);
        expect(Number.isNaN(mem[DX / 4 + nx]!)).toBe(true);
      });

  // `ordered` (x a relu's output: no NaN, no −0): the forward and the gradient take pmax without the NaN flag;
  // their bits must still be max's, on +0 ties, +∞ and windows all zero, in the vector and the scalar paths
  const orderedCases: [string, PoolGeo][] = [
    ["2×2/2 24×24", { N: 2, C: 3, H: 24, W: 24, R: 2, S: 2, stride: [2, 2], pad: [0, 0, 0, 0] }],
    ["2×2/2 8×44", { N: 1, C: 2, H: 8, W: 44, R: 2, S: 2, stride: [2, 2], pad: [0, 0, 0, 0] }],
    ["3×3/2 padded 1", { N: 2, C: 3, H: 9, W: 9, R: 3, S: 3, stride: [2, 2], pad: [1, 1, 1, 1] }],
  ];
  for (const [label, g] of orderedCases)
    for (const op of ["maxPool2d", "maxPool2dBack"] as const)
      it(`ordered (a relu's output): ${op} ${label}`, async () => {
        const [OH, OW] = poolOut(g);
        const nx = g.N * g.C * g.H * g.W, ny = g.N * g.C * OH * OW;
        const r = rng(nx + 5 * ny);
        const x = Float32Array.from({ length: nx }, () => (r() < 0.5 ? 0 : r() < 0.1 ? Number.POSITIVE_INFINITY : r() < 0.3 ? 1 : r()));
        const gy = random(ny, 17);
        const X = 64, Y = X + nx * 4 + 16, DX = Y + ny * 4 + 32;
        const k: PoolKernel = { kind: "pool", name: "pl", op, ...g, OH, OW, x: X, y: Y, dx: DX, ordered: true };
        const mem = await run(k, (f) => {
          f.set(x, X / 4);
          if (op === "maxPool2dBack") f.set(gy, Y / 4);
        });
        const back = op === "maxPool2dBack";
        const want = new Float32Array(back ? nx : ny);
        for (let p = 0; p < g.N * g.C; p++)
          for (let oh = 0; oh < OH; oh++)
            for (let ow = 0; ow < OW; ow++) {
              const cells = windowCells(g, p, oh, ow);
              const mx = Math.max(...cells.map((i) => x[i]!));
              const yi = (p * OH + oh) * OW + ow;
              if (!back) want[yi] = mx;
              else {
                const hits = cells.filter((i) => x[i] === mx);
                const share = Math.fround(gy[yi]! / hits.length);
                for (const i of cells) want[i] = Math.fround(want[i]! + (hits.includes(i) ? share : 0));
              }
            }
        const at = back ? DX : Y;
        for (let i = 0; i < want.length; i++) if (!Object.is(mem[at / 4 + i], want[i])) throw new Error(`element ${i}: got ${mem[at / 4 + i]}, want ${want[i]}`);
      });

  // the scalar path (windows that overlap, leave gaps, are padded or are fewer than four in a row): pmax and a NaN
  // flag per window there too; overlapping windows add their shares in window order
  const scalarCases: [string, PoolGeo][] = [
    ["3×3/2 padded 1", { N: 2, C: 3, H: 9, W: 9, R: 3, S: 3, stride: [2, 2], pad: [1, 1, 1, 1] }],
    ["3×2/1 overlapping", { N: 1, C: 2, H: 5, W: 7, R: 3, S: 2, stride: [1, 1], pad: [0, 0, 0, 0] }],
    ["2×2/2 6×6 (three windows a row)", { N: 2, C: 2, H: 6, W: 6, R: 2, S: 2, stride: [2, 2], pad: [0, 0, 0, 0] }],
  ];
  for (const [label, g] of scalarCases)
    for (const acc of [false, true])
      it(`${label}${acc ? ", accumulate" : ""}`, async () => {
        const [OH, OW] = poolOut(g);
        const nx = g.N * g.C * g.H * g.W, ny = g.N * g.C * OH * OW;
        const r = rng(nx + 3 * ny);
        const x = Float32Array.from({ length: nx }, () => LEVELS[Math.floor(r() * (r() < 0.9 ? 7 : 8))]!);
        const gy = Float32Array.from({ length: ny }, () => (r() < 0.03 ? [Number.NaN, Number.POSITIVE_INFINITY, -0][Math.floor(r() * 3)]! : r() * 2 - 1));
        const old = random(nx, 13);
        const X = 64, Y = X + nx * 4 + 16, DX = Y + ny * 4 + 32;
        const k: PoolKernel = { kind: "pool", name: "pl", op: "maxPool2dBack", ...g, OH, OW, x: X, y: Y, dx: DX, ...(acc ? { accumulate: true } : {}) };
        const mem = await run(k, (f) => {
          f.set(x, X / 4);
          f.set(gy, Y / 4);
          if (acc) f.set(old, DX / 4);
        });
        const want = acc ? Float32Array.from(old) : new Float32Array(nx);
        let nanWindows = 0, tied = 0;
        for (let p = 0; p < g.N * g.C; p++)
          for (let oh = 0; oh < OH; oh++)
            for (let ow = 0; ow < OW; ow++) {
              const cells = windowCells(g, p, oh, ow);
              const mx = Math.max(...cells.map((i) => x[i]!));
              const hits = cells.filter((i) => x[i] === mx);
              if (Number.isNaN(mx)) nanWindows++;
              if (hits.length > 1) tied++;
              const share = Math.fround(gy[(p * OH + oh) * OW + ow]! / hits.length);
              for (const i of cells) want[i] = Math.fround(want[i]! + (hits.includes(i) ? share : 0));
            }
        expect(nanWindows, "windows holding a NaN").toBeGreaterThan(0);
        expect(tied, "windows with tied maxima").toBeGreaterThan(0);
        for (let i = 0; i < nx; i++) if (!Object.is(mem[DX / 4 + i], want[i])) throw new Error(`element ${i}: got ${mem[DX / 4 + i]}, want ${want[i]} (x ${x[i]})`);
        expect(Number.isNaN(mem[DX / 4 + nx]!)).toBe(true);
      });
});
