// Two compiled LeNet modules side by side in ONE process, steps interleaved (A B A B …), so both see the same
// machine: on a loaded 2-core machine the medians of separate runs swing by 2×, the low percentiles of
// interleaved steps do not. Prints each module's fastest, 10th-percentile and median step.
//   node --import tsx bench/lenet-ab.ts A.js B.js [--steps 600]
import { pathToFileURL } from "node:url";
import path from "node:path";
import type { GeneratedModule } from "../compiler/emit/load.ts";

const args = process.argv.slice(2);
const files = args.filter((a, i) => !a.startsWith("--") && !args[i - 1]?.startsWith("--"));
const i = args.indexOf("--steps");
const steps = i < 0 ? 600 : Number(args[i + 1]);
const mods = await Promise.all(files.map(async (f) => (await import(pathToFileURL(path.resolve(f)).href)) as GeneratedModule));
const setups = mods.map((mod) => {
  const buf = mod.buffers();
  let s = 7;
  const rand = () => (s = (s * 16807) % 2147483647) / 2147483647;
  for (let i = 0; i < buf.params.length; i++) buf.params[i] = (rand() * 2 - 1) * 0.1;
  for (const inp of mod.layout.inputs)
    for (let i = 0; i < inp.size; i++) buf.inputs[inp.offset + i] = inp.name === "y" ? (i % 10 === Math.floor(i / 10) % 10 ? 1 : 0) : rand();
  return () => {
    mod.forward(buf.params, buf.inputs, buf.arena);
    mod.backward!(buf.params, buf.inputs, buf.arena, buf.grads);
    mod.sgd!(buf.params, buf.grads, 1e-3);
  };
});
for (let k = 0; k < 200; k++) for (const f of setups) f();
const ts = setups.map(() => new Float64Array(steps));
for (let k = 0; k < steps; k++)
  setups.forEach((f, j) => {
    const t0 = performance.now();
    f();
    ts[j]![k] = performance.now() - t0;
  });
const q = (a: Float64Array, p: number) => Float64Array.from(a).sort()[Math.floor(p * (a.length - 1))]!;
files.forEach((f, j) => console.log(`${f}: fastest ${q(ts[j]!, 0).toFixed(3)} ms, p10 ${q(ts[j]!, 0.1).toFixed(3)} ms, median ${q(ts[j]!, 0.5).toFixed(3)} ms`));
