// Runs training steps of the checked-in iris module through the trainer
// (pack a batch with input dropout, forward, backward, L2, the finiteness
// check, an Adam update on a schedule) and reports the garbage collections
// and heap growth during them. Started with --expose-gc by
// test/runtime/alloc.test.ts: a step that allocates nothing triggers no GC.
//   node --expose-gc --import tsx test/runtime/alloc-probe.ts [steps] [test]
import { PerformanceObserver } from "node:perf_hooks";
import * as iris from "../../generated/iris.js";
import { adam, cosine, createTrainer, loadIris } from "../../runtime/node.ts";

const steps = Number(process.argv[2] ?? 100_000);
// "test": dropout scaled at test time (the lectures' convention: kept features unscaled while training)
const dropoutScaling = process.argv[3] === "test" ? "test" : "inverted";
const { train, nTrain } = loadIris({ seed: 1 });
const t = createTrainer(iris, { optimizer: adam({ lr: cosine({ lr: 0.01, steps: 1e6 }) }), batchSize: 16, seed: 1, l2: 1e-3, inputDropout: 0.1, dropoutScaling });
const last = nTrain - 16;
const run = (n: number) => {
  for (let i = 0; i < n; i++) t.trainStep(train, (i * 16) % last, i % 3 === 0 ? 7 : 16); // partial batches too
};
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("run with --expose-gc");
// Warm up until V8 has optimized the step: unoptimized code boxes every double it
// touches, and on a busy machine the optimizing compiler (a background thread) can
// take a while. Chunks of 5,000 steps until one grows the heap by less than 16 KB.
let warm = 0;
for (let chunk = 0; chunk < 60; chunk++) {
  const h0 = process.memoryUsage().heapUsed;
  run(5000);
  warm += 5000;
  const grown = process.memoryUsage().heapUsed - h0;
  if (chunk >= 2 && grown >= 0 && grown < 16_384) break;
}
let gcs = 0;
const kinds: string[] = [];
gc();
await new Promise((r) => setTimeout(r, 50));
const obs = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    gcs++;
    kinds.push(String((e as { detail?: { kind?: number } }).detail?.kind)); // 1 minor, 2 major, 4 incremental, 8 weak callbacks
  }
});
obs.observe({ entryTypes: ["gc"] });
const before = process.memoryUsage().heapUsed;
run(steps);
const after = process.memoryUsage().heapUsed;
await new Promise((r) => setTimeout(r, 50)); // let the observer deliver
obs.disconnect();
console.log(JSON.stringify({ steps, warm, gcs, kinds, heapDelta: after - before, loss: t.lastLoss }));
