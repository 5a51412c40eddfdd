// THROWAWAY probe: per-phase timestamps of a 2-thread split step (not committed)
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { loadSpec } from "../compiler/frontend/load.ts";
import { compile } from "../compiler/index.ts";
import { adam, createTrainer, loadMnist, type Module } from "../runtime/node.ts";
const REPO = path.resolve(import.meta.dirname, "..");
const dir = mkdtempSync(path.join(tmpdir(), "probe-"));
async function build(b: number): Promise<Module> {
  const spec = readFileSync(path.join(REPO, "examples/mnist/model.ts"), "utf8").replace("m.batch(64)", `m.batch(${b})`);
  const file = path.join(dir, `mnist${b}.ts`);
  writeFileSync(file, spec);
  const { js } = await compile(await loadSpec(file, { name: "mnist" }));
  const out = path.join(dir, `mnist${b}.mjs`);
  writeFileSync(out, js);
  const url = pathToFileURL(out).href;
  const ns = (await import(url)) as Module;
  return { ...ns, url } as Module;
}
const PR = new Float64Array(16);
(globalThis as any).__probe = PR;
const per = await build(64);
const { train } = loadMnist({ train: 4096, test: 10 });
const B = createTrainer(per, { optimizer: adam({ lr: 1e-3 }), batchSize: 128, seed: 1, threads: 2 });
await B.ready();
const PT = new Float64Array((B as any).pool.ctlBuffers[0], 64 + 2048, 8);
const steps = 32;
for (let s = 0; s < 300; s++) B.trainStep(train, (s % steps) * 128, 128);
const N = Number(process.argv[2] ?? 2000);
const rows: number[][] = [];
let prevEnd = NaN;
for (let s = 0; s < N; s++) {
  B.trainStep(train, (s % steps) * 128, 128);
  const t0 = PR[0]!;
  rows.push([
    PR[1]! - t0, PR[2]! - PR[1]!, PR[3]! - PR[2]!, PR[4]! - PR[3]!, PR[5]! - PR[4]!, PR[6]! - PR[5]!, PR[7]! - PR[6]!, PR[8]! - PR[7]!,
    PT[0]! - t0, PT[1]! - PT[0]!, PR[4]! - PT[1]!,
    PT[2]! - PR[4]!, PT[3]! - PT[2]!, PR[6]! - PT[3]!,
    PT[4]! - PR[6]!, PT[5]! - PT[4]!, PR[8]! - PT[5]!,
    PR[8]! - t0, t0 - prevEnd,
  ]);
  prevEnd = PR[8]!;
}
const names = ["M pack1+start", "M pack0", "M fwd+bwd 64", "M wait STEP", "M reduce own", "M wait REDUCE", "M update own", "M wait UPDATE",
  "W STEP wake (from t0)", "W STEP copy+fwd+bwd", "M sees STEP done", "W REDUCE wake", "W reduce", "M sees REDUCE done", "W UPDATE wake", "W update", "M sees UPDATE done",
  "step total", "between steps"];
const med = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1]!;
console.log(`load ${loadavg()[0]!.toFixed(2)}, ${N} steps (µs)`);
for (let k = 0; k < names.length; k++) {
  const col = rows.map((r) => r[k]!).filter((x) => Number.isFinite(x));
  const sorted = [...col].sort((x, y) => x - y);
  const f = (x: number) => (x * 1000).toFixed(1).padStart(7);
  console.log(`${names[k]!.padEnd(22)} med ${f(med(col))}  p10 ${f(sorted[Math.floor(col.length * 0.1)]!)}  p90 ${f(sorted[Math.floor(col.length * 0.9)]!)}`);
}
B.close();
