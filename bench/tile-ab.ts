// The LeNet step's conv kernels built with several register tiles, each in its own instance over one copy of
// the step's memory, called interleaved (every variant once per round) so all see the same machine load:
// fastest and 10th-percentile call per variant and kernel. The memory is the step's own after one step on the
// probe data (bench/lib/probe-data.ts): the pools see real ReLU outputs, zeros and ties included.
//   node --import tsx bench/tile-ab.ts [--rounds 400] [--kernels cv0,cv2] 2,1,6 6,1,2 notap notap:2,1,6 …
import { buildWasm } from "../compiler/emit/wasm.ts";
import { loadSpec } from "../compiler/frontend/load.ts";
import { compile } from "../compiler/index.ts";
import { importModule } from "../compiler/emit/load.ts";
import { fillProbeData } from "./lib/probe-data.ts";

const args = process.argv.slice(2);
const opt = (f: string) => (args.includes(`--${f}`) ? args[args.indexOf(`--${f}`) + 1] : undefined);
const rounds = Number(opt("rounds") ?? 400);
const names = (opt("kernels") ?? "cv0,cv2").split(",");
const variants = args.filter((a, i) => !a.startsWith("--") && !args[i - 1]?.startsWith("--"));
const c = await compile(await loadSpec("examples/lenet/model.ts"), { precision: "f32", backend: "wasm" });
const pages = c.lowered.layout.memory!.pages;
const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
{
  const mod = await importModule(c.js);
  const buf = mod.buffers();
  fillProbeData(mod, buf);
  mod.forward(buf.params, buf.inputs, buf.arena);
  mod.backward!(buf.params, buf.inputs, buf.arena, buf.grads);
  new Uint8Array(memory.buffer).set(new Uint8Array(buf.params.buffer as ArrayBuffer));
}
const inst = ["default", ...variants].map((v) => {
  // "notap" or "notap:kb,pr,pv": the kernel rows' taps unrolled (ConvTiles.tapLoop false)
  const [flag, tile] = v.startsWith("notap") ? ["notap", v.split(":")[1]] : ["", v === "default" ? undefined : v];
  const tiles = { ...(tile ? { core: tile.split(",").map(Number) as [number, number, number] } : {}), ...(flag ? { tapLoop: false } : {}) };
  const bytes = buildWasm(c.lowered.kernels, pages, { params: 0, grads: 0, size: 0 }, undefined, tiles);
  return new WebAssembly.Instance(new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>), { env: { memory } }).exports as Record<string, () => void>;
});
const ts = names.map(() => inst.map(() => new Float64Array(rounds)));
for (let r = -20; r < rounds; r++)
  names.forEach((n, k) =>
    inst.forEach((e, j) => {
      const t0 = performance.now();
      e[n]!();
      if (r >= 0) ts[k]![j]![r] = performance.now() - t0;
    }),
  );
const q = (a: Float64Array, p: number) => Float64Array.from(a).sort()[Math.floor(p * (a.length - 1))]! * 1000;
names.forEach((n, k) =>
  ["default", ...variants].forEach((v, j) => console.log(`${n} ${v.padEnd(8)} fastest ${q(ts[k]![j]!, 0).toFixed(1).padStart(6)} µs  p10 ${q(ts[k]![j]!, 0.1).toFixed(1).padStart(6)} µs`)),
);
