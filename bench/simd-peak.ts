// The machine's f32x4 multiply-add ceiling under V8: a loop of independent `acc += a·b` (f32x4.mul + f32x4.add, no
// FMA in WebAssembly SIMD) with its operands in registers, and with each iteration's operands loaded from memory
// (kb splatted weights × sb vectors, the conv kernels' tiles). The register case is the bound a conv kernel's
// multiply-adds can reach (LeNet's conv2 filter gradient: 1.2 M vector multiply-adds); the loaded cases show the
// spill when accumulators + loads + a product reach V8's 15 vector registers (V8 hoists a block's loads; at exactly
// 15 it depends on the order: 2 splats + 4 vectors fit, 4 + 2 keep an accumulator on the stack, 3× slower).
//   node --import tsx bench/simd-peak.ts
import * as binaryen from "../compiler/emit/wasm-encoder.ts";

const m = new binaryen.Module();
m.setFeatures(binaryen.Features.MVP | binaryen.Features.SIMD128);
m.setMemory(16, 16, null, [], false, false, "0");
m.addMemoryImport("0", "env", "memory");
const { i32, v128 } = binaryen;
const ZERO = Array.from({ length: 16 }, () => 0);
const ITERS = 1_000_000;
/** `accs` accumulators; `splats` splatted loads and `vecs` vector loads per iteration (0, 0: operands in registers). */
function kernel(name: string, accs: number, splats: number, vecs: number) {
  const regs = splats + vecs === 0;
  const [ns, nv] = regs ? [1, 1] : [splats, vecs];
  const vars = [i32, i32, ...Array.from({ length: accs + ns + nv }, () => v128)];
  const I = 0, P = 1, acc = (j: number) => 2 + j, tmp = (j: number) => 2 + accs + j;
  const get = (l: number, t = i32) => m.local.get(l, t), set = (l: number, v: number) => m.local.set(l, v);
  const body: number[] = [];
  for (let j = 0; j < accs; j++) body.push(set(acc(j), m.v128.const(ZERO)));
  for (let j = 0; j < ns + nv; j++) body.push(set(tmp(j), m.v128.load(16 * j, 16, m.i32.const(0))));
  const step: number[] = [];
  if (!regs) {
    for (let j = 0; j < ns; j++) step.push(set(tmp(j), m.v128.load32_splat(4 * j, 4, get(P))));
    for (let j = 0; j < nv; j++) step.push(set(tmp(ns + j), m.v128.load(64 + 16 * j, 4, get(P))));
  }
  for (let j = 0; j < accs; j++)
    step.push(set(acc(j), m.f32x4.add(get(acc(j), v128), m.f32x4.mul(get(tmp(j % ns), v128), get(tmp(ns + (Math.floor(j / ns) % nv)), v128)))));
  step.push(set(P, m.i32.and(m.i32.add(get(P), m.i32.const(16)), m.i32.const(1023))), set(I, m.i32.add(get(I), m.i32.const(1))));
  body.push(set(I, m.i32.const(0)), set(P, m.i32.const(0)), m.loop("L", m.block(null, [...step, m.br("L", m.i32.lt_u(get(I), m.i32.const(ITERS)))])));
  let sum = get(acc(0), v128);
  for (let j = 1; j < accs; j++) sum = m.f32x4.add(sum, get(acc(j), v128));
  body.push(m.v128.store(2048, 16, m.i32.const(0), sum));
  m.addFunction(name, binaryen.none, binaryen.none, vars, m.block(null, body));
  m.addFunctionExport(name, name);
}
const CASES: [string, number, number, number][] = [
  ["8 accumulators, operands in registers", 8, 0, 0],
  ["12 accumulators, operands in registers", 12, 0, 0],
  ["8 accumulators, 2 splats + 4 vectors loaded (8+6+1 = 15)", 8, 2, 4],
  ["8 accumulators, 4 splats + 2 vectors loaded (15, spills)", 8, 4, 2],
  ["8 accumulators, 8 splats + 1 vector loaded (18, spills)", 8, 8, 1],
];
CASES.forEach(([, a, s, v], j) => kernel(`k${j}`, a, s, v));
if (!m.validate()) throw new Error(m.errors.join("\n"));
const memory = new WebAssembly.Memory({ initial: 16, maximum: 16 });
const ex = new WebAssembly.Instance(new WebAssembly.Module(m.emitBinary() as Uint8Array<ArrayBuffer>), { env: { memory } }).exports as Record<string, () => void>;
CASES.forEach(([label, accs], j) => {
  const f = ex[`k${j}`]!;
  let best = Infinity;
  for (let r = 0; r < 25; r++) {
    const t0 = performance.now();
    f();
    best = Math.min(best, performance.now() - t0);
  }
  const g = (accs * ITERS) / best / 1e6;
  console.log(`${label.padEnd(62)} ${(best * 1000).toFixed(0).padStart(5)} µs  ${g.toFixed(2)} G vector multiply-adds/s = ${(8 * g).toFixed(1)} GFLOP/s`);
});
