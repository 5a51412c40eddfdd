// conv2dBackFilter's kernel variants (compiler/emit/wasm-conv.ts: `filterRows` fencing, `filterImages` blocks, tiles over
// the R·S taps or one kernel row's columns) on
// several shapes, each variant its own instance over one memory, called interleaved (every variant once per round)
// so all see the same machine load: fastest and median call per shape and variant.
//   node --import tsx bench/filter-ab.ts [--rounds 200]
import { buildWasm } from "../compiler/emit/wasm.ts";
import { type ConvTiles, convScratchFloats } from "../compiler/emit/wasm-conv.ts";
import type { ConvKernel } from "../compiler/lower/kernel.ts";

const i = process.argv.indexOf("--rounds");
const rounds = i < 0 ? 200 : Number(process.argv[i + 1]);
type Shape = { N: number; C: number; H: number; W: number; K: number; R: number; S: number; stride: [number, number]; pad: [number, number, number, number]; dilation: [number, number] };
const shape = (N: number, C: number, H: number, W: number, K: number, R: number, S: number, o: Partial<Shape> = {}): Shape => ({ N, C, H, W, K, R, S, stride: [1, 1], pad: [0, 0, 0, 0], dilation: [1, 1], ...o });
const SHAPES: [string, Shape][] = [
  ["LeNet conv1, batch 32", shape(32, 1, 28, 28, 6, 5, 5)],
  ["LeNet conv2, batch 32", shape(32, 6, 12, 12, 16, 5, 5)],
  ["LeNet conv1, batch 1", shape(1, 1, 28, 28, 6, 5, 5)],
  ["LeNet conv2, batch 2", shape(2, 6, 12, 12, 16, 5, 5)],
  ["3x3 same 16x16, 16->16, batch 8", shape(8, 16, 16, 16, 16, 3, 3, { pad: [1, 1, 1, 1] })],
  ["3x3 stride 2 pad 1 33x33, 8->16, batch 4", shape(4, 8, 33, 33, 16, 3, 3, { stride: [2, 2], pad: [1, 1, 1, 1] })],
  ["3x3 dilation 2 20x20, 4->8, batch 8", shape(8, 4, 20, 20, 8, 3, 3, { dilation: [2, 2] })],
  ["5x5 56x56, 3->8, batch 2", shape(2, 3, 56, 56, 8, 5, 5)],
  ["3x3 64x64, 4->8, batch 2", shape(2, 4, 64, 64, 8, 3, 3)],
  ["1x1 14x14, 32->32, batch 8", shape(8, 32, 14, 14, 32, 1, 1)],
  ["1x1 16x16, 16->24, batch 4", shape(4, 16, 16, 16, 24, 1, 1)],
];
const VARIANTS: [string, ConvTiles][] = [
  ["loop rows, 1 block", { filterFence: false, filterImages: 1 << 30 }],
  ["fenced, 1 block, column tiles", { filterImages: 1 << 30, filterTaps: false }],
  ["fenced, column tiles", { filterTaps: false }],
  ["default", {}],
];
for (const [label, g] of SHAPES) {
  const OH = (g.H + g.pad[0] + g.pad[2] - g.dilation[0] * (g.R - 1) - 1) / g.stride[0] + 1;
  const OW = (g.W + g.pad[1] + g.pad[3] - g.dilation[1] * (g.S - 1) - 1) / g.stride[1] + 1;
  if (!Number.isInteger(OH) || !Number.isInteger(OW)) throw new Error(`${label}: output ${OH}×${OW}`);
  const geo = { ...g, OH, OW };
  const [nx, nw, ny] = [g.N * g.C * g.H * g.W, g.K * g.C * g.R * g.S, g.N * g.K * OH * OW];
  const scratchFloats = convScratchFloats({ op: "conv2dBackFilter", ...geo });
  const X = 1040, Wb = X + nx * 4 + 2064, Y = Wb + nw * 4 + 3088, SCR = Math.ceil((Y + ny * 4 + 1552) / 16) * 16;
  const pages = Math.ceil((SCR + scratchFloats * 4 + 65536) / 65536);
  const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
  const f32 = new Float32Array(memory.buffer);
  for (let j = 0; j < f32.length; j++) f32[j] = Math.sin(j * 0.37);
  const k: ConvKernel = { kind: "conv", name: "k", op: "conv2dBackFilter", ...geo, x: X, w: Wb, y: Y, scratch: SCR, scratchBytes: scratchFloats * 4 };
  const fns = VARIANTS.map(([, tiles]) => new WebAssembly.Instance(new WebAssembly.Module(buildWasm([k], pages, { params: 0, grads: 0, size: 0 }, undefined, tiles) as Uint8Array<ArrayBuffer>), { env: { memory } }).exports.k as () => void);
  const ts = fns.map(() => new Float64Array(rounds));
  // warm up past V8's tier-up (a small kernel's first hundreds of calls can run in Liftoff): 0.3 s of calls each
  for (const fn of fns) for (let t0 = performance.now(); performance.now() - t0 < 300; ) fn();
  for (let r = -30; r < rounds; r++)
    fns.forEach((fn, j) => {
      const t0 = performance.now();
      fn();
      if (r >= 0) ts[j]![r] = performance.now() - t0;
    });
  const q = (a: Float64Array, p: number) => Float64Array.from(a).sort()[Math.floor(p * (a.length - 1))]! * 1000;
  console.log(`${label}: ${VARIANTS.map(([v], j) => `${v} ${q(ts[j]!, 0).toFixed(1)} (median ${q(ts[j]!, 0.5).toFixed(1)})`).join(", ")} µs`);
}
