// Where one LeNet training step's time goes, in place: the compiled module's forward/backward with a
// timestamp before and after each wasm kernel call, so each kernel and each stretch of JS between them is
// timed inside the real step (same cache state), median over the steps. Also the step's median and fastest.
//   node --import tsx bench/lenet-profile.ts [spec] [--steps 400]
import { importModule } from "../compiler/emit/load.ts";
import { loadSpec } from "../compiler/frontend/load.ts";
import { compile } from "../compiler/index.ts";
import { fillProbeData } from "./lib/probe-data.ts";

const args = process.argv.slice(2);
const flag = (name: string, d: number) => {
  const i = args.indexOf(`--${name}`);
  return i < 0 ? d : Number(args[i + 1]);
};
const spec = args.find((a, i) => !a.startsWith("--") && !args[i - 1]?.startsWith("--")) ?? "examples/lenet/model.ts";
const steps = flag("steps", 400);
const c = await compile(await loadSpec(spec), { precision: "f32", backend: "wasm" });
// a stamp before and after each kernel call, and at the ends of forward and backward
const names: string[] = [];
let js = c.js.replace(/\bk\.(\w+)\(\);/g, (_, n: string) => {
  names.push(n);
  return `__P.t[__P.i++] = performance.now(); k.${n}(); __P.t[__P.i++] = performance.now();`;
});
js = js.replace(/(\nfunction (forward|backward)\([^)]*\)[^{]*\{)/g, "$1 __P.t[__P.i++] = performance.now();");
js = js.replace(/(\n  arena\[\d+\] = loss;\n)(\})/, "$1  __P.t[__P.i++] = performance.now();\n$2");
js = js.replace(/(\nfunction backward[\s\S]*?)(\n\}\n)/, "$1\n  __P.t[__P.i++] = performance.now();$2");
const P = { t: new Float64Array(64), i: 0 };
(globalThis as unknown as { __P: typeof P }).__P = P;
const mod = await importModule(js);
const buf = mod.buffers();
fillProbeData(mod, buf);
const step = () => {
  P.i = 0;
  mod.forward(buf.params, buf.inputs, buf.arena);
  mod.backward!(buf.params, buf.inputs, buf.arena, buf.grads);
  P.t[P.i++] = performance.now();
  mod.sgd!(buf.params, buf.grads, 1e-3);
  P.t[P.i++] = performance.now();
};
for (let i = 0; i < 200; i++) step();
const n = P.i;
// segment labels: forward start, (js, kernel)*, js to forward end; the same for backward; sgd
const labels: string[] = [];
let k = 0;
const fwdCalls = (c.js.match(/\nfunction forward[\s\S]*?\n\}\n/)![0].match(/\bk\.\w+\(\);/g) ?? []).length;
for (const [pass, calls] of [["fwd", fwdCalls], ["bwd", names.length - fwdCalls]] as const) {
  let prev = `${pass} start`;
  for (let j = 0; j < calls; j++, k++) {
    labels.push(`js ${prev} → ${names[k]}`, `${names[k]}`);
    prev = names[k]!;
  }
  labels.push(`js ${prev} → ${pass} end`);
  if (pass === "fwd") labels.push("between forward and backward");
}
labels.push("return from backward", "sgd");
const seg = Array.from({ length: n - 1 }, () => new Float64Array(steps));
const tot = new Float64Array(steps);
for (let i = 0; i < steps; i++) {
  const t0 = performance.now();
  step();
  tot[i] = performance.now() - t0;
  for (let j = 0; j < n - 1; j++) seg[j]![i] = P.t[j + 1]! - P.t[j]!;
}
const med = (a: Float64Array) => {
  const b = Float64Array.from(a).sort();
  return b[b.length >> 1]!;
};
const min = (a: Float64Array) => Math.min(...a);
let sumMed = 0, sumMin = 0;
console.log(`${spec}: ${steps} steps, median ${med(tot).toFixed(3)} ms, fastest ${min(tot).toFixed(3)} ms; per segment median / fastest µs:`);
for (let j = 0; j < n - 1; j++) {
  sumMed += med(seg[j]!);
  sumMin += min(seg[j]!);
  console.log(`  ${(labels[j] ?? "?").padEnd(34)} ${(med(seg[j]!) * 1000).toFixed(1).padStart(7)} ${(min(seg[j]!) * 1000).toFixed(1).padStart(7)}`);
}
console.log(`  sum of medians ${(sumMed * 1000).toFixed(0)} µs, of fastest ${(sumMin * 1000).toFixed(0)} µs`);
