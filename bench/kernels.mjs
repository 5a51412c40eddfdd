// Per-kernel timing of a generated module with wasm kernels: node bench/kernels.mjs generated/deep.js
// Instantiates the embedded wasm bytes over a fresh memory and times each exported kernel alone, then forward,
// backward and a JS SGD loop over the module's own buffers (medians of 15 runs, microseconds). The opt_* kernels run over
// all parameters (0, size).
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
const file = process.argv[2];
const src = readFileSync(file, "utf8");
const b64 = src.match(/atob\(\s*"([^"]+)"/)[1];
const mod = await import(pathToFileURL(file).href);
const L = mod.layout;
const memory = new WebAssembly.Memory({ initial: L.memory.pages, maximum: L.memory.pages });
const inst = new WebAssembly.Instance(new WebAssembly.Module(Buffer.from(b64, "base64")), { env: { memory } }).exports;
const f = new Float32Array(memory.buffer);
for (let i = 0; i < f.length; i++) f[i] = Math.random() * 0.1;
const med = (a) => a.sort((x, y) => x - y)[a.length >> 1];
const time = (fn, reps = 200) => { for (let i = 0; i < 20; i++) fn(); const t = []; for (let r = 0; r < 15; r++) { const t0 = performance.now(); for (let i = 0; i < reps; i++) fn(); t.push((performance.now() - t0) / reps * 1000); } return med(t); };
let tot = 0;
// the optimizer kernels take an element range: time them over every parameter (fed finite values, as in training)
for (const [name, fn] of Object.entries(inst)) {
  const us = name.startsWith("opt_") ? time(() => fn(0, L.paramSize)) : time(fn);
  tot += us;
  console.log(name.padEnd(6), us.toFixed(1), "µs");
}
console.log("kernels total", tot.toFixed(0), "µs");
const b = mod.buffers();
b.params.set(f.subarray(0, b.params.length)); b.inputs.fill(0.1);
const fw = time(() => mod.forward(b.params, b.inputs, b.arena), 100);
const bw = time(() => mod.backward(b.params, b.inputs, b.arena, b.grads), 100);
const sg = time(() => { const p = b.params, g = b.grads; for (let i = 0; i < p.length; i++) p[i] -= 0.01 * g[i]; }, 100);
console.log("forward", fw.toFixed(0), "µs  backward", bw.toFixed(0), "µs  (JS SGD loop for comparison:", sg.toFixed(0), "µs)");
