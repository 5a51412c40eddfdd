// Times each wasm conv/pool kernel of one LeNet training step (batch 32) standalone, and the existing blocked
// matmul kernel on the GEMMs im2col would turn the two forward convs into (the im2col copies not counted: if
// the direct kernel beats the bare matmul, it beats im2col + matmul).
//   node --import tsx bench/conv-kernels.ts [--reps 200] [--core kb,pr,pv] [--filter kb,sb]
import { buildWasm } from "../compiler/emit/wasm.ts";
import { type ConvTiles, convScratchFloats } from "../compiler/emit/wasm-conv.ts";
import type { ConvKernel, MatmulKernel, PoolKernel, WasmKernel } from "../compiler/lower/kernel.ts";

const arg = (name: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? undefined : process.argv[i + 1];
};
const reps = Number(arg("reps") ?? 200);
const tiles: ConvTiles = {
  ...(arg("core") ? { core: arg("core")!.split(",").map(Number) as [number, number, number] } : {}),
  ...(arg("filter") ? { filter: arg("filter")!.split(",").map(Number) as [number, number] } : {}),
};

const N = 32;
const MB = 1 << 20;
// regions (bytes), generously spaced
// (offsets not multiples of 4 KiB apart: a kernel's loads and stores 4 KiB-aliasing would be an artefact of the bench)
const at = { x: 0, a1: 4 * MB + 1040, p1: 8 * MB + 2320, a2: 10 * MB + 3344, p2: 12 * MB + 784, w1: 13 * MB, w2: 13 * MB + 4096, b1: 13 * MB + 65536, b2: 13 * MB + 65536 + 256, scr: 14 * MB + 1552, g: 16 * MB + 2832, g2: 20 * MB + 3600, col: 24 * MB + 272 };
const geo = (C: number, H: number, K: number) => ({ N, C, H, W: H, K, R: 5, S: 5, OH: H - 4, OW: H - 4, stride: [1, 1] as const, pad: [0, 0, 0, 0] as const, dilation: [1, 1] as const });
const g1 = geo(1, 28, 6), g2 = geo(6, 12, 16);
const relu = (b: number) => ({ k: "max" as const, a: { k: "+" as const, a: { k: "acc" as const }, b: { k: "load" as const, at: b, rowBytes: 4, col: false } }, b: { k: "num" as const, v: 0 } });
const conv = (name: string, op: ConvKernel["op"], g: typeof g1, x: number, w: number, y: number, extra: Partial<ConvKernel> = {}): ConvKernel => ({
  kind: "conv", name, op, ...g, x, w, y, scratch: at.scr, scratchBytes: convScratchFloats({ op, ...g }) * 4, ...extra,
});
const pool = (name: string, op: PoolKernel["op"], C: number, H: number, x: number, y: number, dx: number): PoolKernel => ({
  kind: "pool", name, op, N, C, H, W: H, R: 2, S: 2, OH: H / 2, OW: H / 2, stride: [2, 2], pad: [0, 0, 0, 0], x, y, dx,
});
const kernels: [WasmKernel, number][] = [
  [conv("conv1", "conv2d", g1, at.x, at.w1, at.a1, { epilogue: relu(at.b1) }), 2 * N * 6 * 24 * 24 * 25],
  [pool("pool1", "maxPool2d", 6, 24, at.a1, at.p1, 0), 0],
  [conv("conv2", "conv2d", g2, at.p1, at.w2, at.a2, { epilogue: relu(at.b2) }), 2 * N * 16 * 8 * 8 * 150],
  [pool("pool2", "maxPool2d", 16, 8, at.a2, at.p2, 0), 0],
  [pool("pool2Back", "maxPool2dBack", 16, 8, at.a2, at.p2, at.g), 0],
  [conv("conv2BackInput", "conv2dBackInput", g2, at.g2, at.w2, at.g), 2 * N * 16 * 8 * 8 * 150],
  [conv("conv2BackFilter", "conv2dBackFilter", g2, at.p1, at.w2 + 65536 * 2, at.g), 2 * N * 16 * 8 * 8 * 150],
  [pool("pool1Back", "maxPool2dBack", 6, 24, at.a1, at.p1, at.g2), 0],
  [conv("conv1BackFilter", "conv2dBackFilter", g1, at.x, at.w1 + 65536 * 3, at.g2), 2 * N * 6 * 24 * 24 * 25],
];
// the GEMMs of im2col: Yᵀ[N·P × K] = colᵀ[N·P × CRS] · Wᵀ[CRS × K]
const mm = (name: string, M: number, K: number, Nn: number): MatmulKernel => ({ name, M4: M, N: Nn, K, aBase: at.col, sa0: K, sa1: 1, bBase: at.w1, cBase: at.g2 });
const gemms: [MatmulKernel, number][] = [
  [mm("im2col_conv1_gemm", N * 576, 25, 6), 2 * N * 576 * 25 * 6],
  [mm("im2col_conv2_gemm", N * 64, 150, 16), 2 * N * 64 * 150 * 16],
];
const pages = 32 * 16;
const bytes = buildWasmWith([...kernels.map((k) => k[0]), ...gemms.map((g) => g[0])]);
function buildWasmWith(ks: WasmKernel[]): Uint8Array {
  if (!tiles.core && !tiles.filter) return buildWasm(ks, pages, { params: 0, grads: 0, size: 0 });
  return buildWasm(ks, pages, { params: 0, grads: 0, size: 0 }, undefined, tiles);
}
const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
const f32 = new Float32Array(memory.buffer);
let s = 1;
for (let i = 0; i < f32.length; i++) f32[i] = ((s = (s * 16807) % 2147483647) / 2147483647) * 2 - 1;
const inst = new WebAssembly.Instance(new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>), { env: { memory } });
const time = (name: string): number => {
  const fn = inst.exports[name] as () => void;
  for (let i = 0; i < 20; i++) fn();
  const ts: number[] = [];
  for (let r = 0; r < 7; r++) {
    const t0 = performance.now();
    for (let i = 0; i < reps / 7; i++) fn();
    ts.push((performance.now() - t0) / Math.floor(reps / 7));
  }
  return ts.sort((a, b) => a - b)[3]!;
};
let total = 0;
const row = (name: string, ms: number, flop: number) => console.log(`${name.padEnd(20)} ${(ms * 1000).toFixed(1).padStart(8)} µs${flop ? `  ${(flop / ms / 1e6).toFixed(1).padStart(6)} GFLOP/s` : ""}`);
console.log(`tiles: ${JSON.stringify(tiles)}`);
for (const [k, flop] of kernels) {
  const ms = time(k.name);
  total += ms;
  row(k.name, ms, flop);
}
row("conv+pool total", total, 0);
for (const [k, flop] of gemms) row(k.name, time(k.name), flop);
