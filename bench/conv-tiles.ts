// A/B of register tiles (a trailing u: conv2d with its kernel rows unrolled; x: the filter gradient's column vectors unrolled) for one LeNet conv kernel, variants interleaved in one process (minimum of single calls:
// the machine is shared, and noise only adds time).
//   node --import tsx bench/conv-tiles.ts <conv1|conv2|conv2BackInput|conv2BackFilter|conv1BackFilter> kb,pr,pv|kb,sb ...
//   (conv2BackFilter also kb,sb followed by f or f<rows>: each row's units fenced, <rows> rows per loop iteration; f0: a loop per row; then n<images>: images per block; then c: tiles over one kernel row's columns;
//   conv2BackInput also: rows — the column-padded path — and L<kb>,<nv>[t<taps>] — the images-in-lanes path with that tile and taps per loop iteration)
import { buildWasm } from "../compiler/emit/wasm.ts";
import { type ConvTiles, convScratchFloats } from "../compiler/emit/wasm-conv.ts";
import type { ConvKernel } from "../compiler/lower/kernel.ts";

const [which, ...variants] = process.argv.slice(2);
const N = 32;
const geo = (C: number, H: number, K: number) => ({ N, C, H, W: H, K, R: 5, S: 5, OH: H - 4, OW: H - 4, stride: [1, 1] as const, pad: [0, 0, 0, 0] as const, dilation: [1, 1] as const });
const g = which!.startsWith("conv1") ? geo(1, 28, 6) : geo(6, 12, 16);
const op: ConvKernel["op"] = which!.endsWith("BackInput") ? "conv2dBackInput" : which!.endsWith("BackFilter") ? "conv2dBackFilter" : "conv2d";
const scratchFloats = Math.max(...(["lanes", "rows"] as const).map((p) => convScratchFloats({ op, ...g }, p)));
const k: ConvKernel = { kind: "conv", name: "k", op, ...g, x: 1040, w: (4 << 20) + 2064, y: (6 << 20) + 3088, scratch: 8 << 20, scratchBytes: scratchFloats * 4 };
const pages = 256;
const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
const f32 = new Float32Array(memory.buffer);
for (let i = 0; i < f32.length; i++) f32[i] = Math.sin(i * 0.37);
const fns = ["", ...variants].map((v0) => {
  let v = v0;
  // conv2dBackInput: "rows" (the column-padded path) or "L<kb>,<nv>" (the images-in-lanes path with that tile)
  if (v === "rows" || v.startsWith("L")) {
    const tiles: ConvTiles = v === "rows" ? { backInputPath: "rows" } : { backInputPath: "lanes", lanes: v.slice(1).split(/[,t]/).map(Number).slice(0, 2) as [number, number], ...(v.includes("t") ? { lanesTaps: Number(v.split("t")[1]) } : {}) };
    const bytes = buildWasm([k], pages, { params: 0, grads: 0, size: 0 }, undefined, tiles);
    return { v: v0, fn: new WebAssembly.Instance(new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>), { env: { memory } }).exports.k as () => void, best: Infinity };
  }
  // conv2dBackFilter: "f" or "f<rows>": each row's units fenced (ConvTiles.filterFence), <rows> rows per iteration
  // conv2dBackFilter: a last "c": fenced rows' tiles over one kernel row's columns (ConvTiles.filterTaps false)
  const cols = v.endsWith("c");
  v = v.replace(/c$/, "");
  // conv2dBackFilter: "n<images>" at the end: images per block (ConvTiles.filterImages)
  const nimg = /n(\d+)$/.exec(v);
  v = v.replace(/n\d+$/, "");
  const fence = /f\d*$/.exec(v);
  v = v.replace(/f\d*$/, "");
  const unrolled = v.endsWith("u");
  const loop = v.endsWith("x"); // conv2dBackFilter: the column vectors unrolled (up to 8)
  v = v.replace(/x$/, "");
  const t = v && v !== "u" ? v.replace(/u$/, "").split(",").map(Number) : undefined;
  const tiles: ConvTiles = { ...(t ? (op === "conv2dBackFilter" ? { filter: t as [number, number] } : { core: t as [number, number, number] }) : {}), ...(unrolled ? { rowLoop: false } : {}), ...(loop ? { filterUnroll: 8, filterFence: false } : {}), ...(nimg ? { filterImages: Number(nimg[1]) } : {}), ...(cols ? { filterTaps: false } : {}), ...(fence ? (fence[0] === "f0" ? { filterFence: false } : { filterFence: true, filterRows: Number(fence[0].slice(1) || 1) }) : {}) };
  const bytes = buildWasm([k], pages, { params: 0, grads: 0, size: 0 }, undefined, tiles);
  return { v: v0 || "default", fn: new WebAssembly.Instance(new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>), { env: { memory } }).exports.k as () => void, best: Infinity };
});
for (const f of fns) for (let i = 0; i < 50; i++) f.fn();
for (let round = 0; round < 200; round++)
  for (const f of fns) {
    const t0 = performance.now();
    f.fn();
    f.best = Math.min(f.best, performance.now() - t0);
  }
for (const f of fns) console.log(`${which} ${f.v.padEnd(8)} ${(f.best * 1000).toFixed(1).padStart(7)} µs (min of 200 calls)`);
