/**
 * One (workload, implementation) measurement in its own process, so that
 * libraries, JIT state and memory of one implementation never touch another.
 * Spawned by bench/bench.ts; prints one `RESULT {json}` line.
 *
 *   node --import tsx --expose-gc bench/run-one.ts --workload mnist --impl hand \
 *     [--gradc-js file.js] [--verify-steps N] [--repeats R] [--target-ms T] [--warmup-ms W]
 *
 * Protocol:
 *   1. verification: reset to the initial weights, run `verify-steps` SGD steps,
 *      record the loss of the first and of the last step;
 *   2. warm-up: keep training for `warmup-ms`;
 *   3. calibration: steps per repeat so that one repeat takes about `target-ms`;
 *   4. `repeats` timed runs, each from the initial weights (reset is not timed):
 *      ms/step = wall time of the run / steps. The last step's loss is read
 *      (forcing any pending work) inside the timed region.
 * Memory: RSS sampled after setup and after every run; peak RSS is the
 * process's VmHWM (/proc/self/status); GCs are counted with a PerformanceObserver.
 */
import { readFileSync } from "node:fs";
import { PerformanceObserver, performance } from "node:perf_hooks";
import type { Impl, ImplName } from "./lib/impl.ts";
import { checksum } from "./lib/rng.ts";
import { flatParams, makeProblem, workload } from "./lib/workloads.ts";

const argv = process.argv.slice(2);
const arg = (name: string): string | undefined => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
};
const num = (name: string, d: number) => (arg(name) === undefined ? d : Number(arg(name)));

const w = workload(arg("workload") ?? "xor");
const implName = (arg("impl") ?? "gradc") as ImplName;
const verifySteps = num("verify-steps", w.verifySteps);
const repeats = num("repeats", 11);
const targetMs = num("target-ms", 200);
const warmupMs = num("warmup-ms", 500);
const seed = num("seed", 1);

const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
/** Peak RSS of this process: VmHWM (Linux, this process image only); getrusage's maxRSS would also count the parent's RSS at fork. */
const peakRssBytes = (): number => {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"));
    if (m) return Number(m[1]) * 1024;
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS * 1024;
};
const mb = (b: number) => b / (1024 * 1024);

async function main() {
  const problem = makeProblem(w, seed);
  const sum = checksum([flatParams(problem), ...problem.batches.flatMap((b) => [b.x, b.y])]);
  if (implName === "c-direct" || implName === "c-blas") return runNative(sum, problem);
  gc();
  const rssStart = process.memoryUsage().rss;
  const tSetup = performance.now();
  let impl: Impl;
  switch (implName) {
    case "gradc": {
      const js = arg("gradc-js");
      if (!js) throw new Error("--gradc-js is required for gradc");
      impl = await (await import("./impls/gradc.ts")).create(w, problem, js);
      break;
    }
    case "gradc-adam":
    case "gradc-step":
    case "gradc-fit": {
      const js = arg("gradc-js");
      if (!js) throw new Error("--gradc-js is required for gradc");
      impl = await (await import("./impls/gradc-trainer.ts")).create(w, problem, js, implName === "gradc-fit" ? "fit" : "step", implName === "gradc-step" ? "sgd" : "adam");
      break;
    }
    case "tfjs-wasm-adam":
      impl = await (await import("./impls/tfjs.ts")).create(w, problem, "wasm", "adam");
      break;
    case "jax-wasm-adam":
      impl = await (await import("./impls/jax.ts")).create(w, problem, "adam");
      break;
    case "hand":
    case "hand-naive":
      impl = (await import("./impls/hand.ts")).create(w, problem, implName === "hand" ? "blocked" : "naive");
      break;
    case "tfjs-cpu":
    case "tfjs-wasm":
      if (w.convs) {
        impl = await (await import("./impls/tfjs-lenet.ts")).create(w, problem, implName === "tfjs-cpu" ? "cpu" : "wasm");
        break;
      }
      impl = await (await import("./impls/tfjs.ts")).create(w, problem, implName === "tfjs-cpu" ? "cpu" : "wasm");
      break;
    case "jax-wasm":
      if (w.convs) {
        impl = await (await import("./impls/jax-lenet.ts")).create(w, problem);
        break;
      }
      impl = await (await import("./impls/jax.ts")).create(w, problem);
      break;
    default:
      throw new Error(`unknown impl ${implName}`);
  }
  const setupMs = performance.now() - tSetup;

  // 1. verification run (also the first warm-up)
  const tv = performance.now();
  impl.reset();
  impl.run(1);
  const firstLoss = impl.lastLoss();
  impl.run(verifySteps - 1);
  const verifyLoss = impl.lastLoss();

  // 2. warm-up: whatever the verification run left of `warmup-ms`, and at least a few steps
  let warmSteps = 0;
  let chunk = 1;
  while (performance.now() - tv < warmupMs || warmSteps < 3) {
    impl.run(chunk);
    impl.lastLoss();
    warmSteps += chunk;
    chunk = Math.min(chunk * 2, 4096);
  }

  // 3. calibration
  impl.reset();
  let probe = 1;
  let probeMs = 0;
  for (;;) {
    const t0 = performance.now();
    impl.run(probe);
    impl.lastLoss();
    probeMs = performance.now() - t0;
    if (probeMs > targetMs / 10 || probe >= 1 << 22) break;
    probe *= 4;
  }
  const steps = Math.max(1, Math.round((probe * targetMs) / Math.max(probeMs, 1e-3)));

  // 4. timed runs
  gc();
  const rssBase = process.memoryUsage().rss;
  const heapBase = process.memoryUsage().heapUsed;
  let gcs = 0;
  const obs = new PerformanceObserver((list) => {
    gcs += list.getEntries().length;
  });
  obs.observe({ entryTypes: ["gc"] });
  let rssMax = rssBase;
  const ms: number[] = [];
  const losses: number[] = [];
  for (let r = 0; r < repeats; r++) {
    impl.reset();
    const t0 = performance.now();
    impl.run(steps);
    const loss = impl.lastLoss();
    const dt = performance.now() - t0;
    ms.push(dt / steps);
    losses.push(loss);
    rssMax = Math.max(rssMax, process.memoryUsage().rss);
  }
  // let the observer deliver the last entries
  await new Promise((r) => setTimeout(r, 20));
  obs.disconnect();
  gc();
  const heapAfter = process.memoryUsage().heapUsed;
  const sorted = [...ms].sort((a, b) => a - b);
  const q = (f: number) => sorted[Math.min(sorted.length - 1, Math.floor(f * (sorted.length - 1) + 0.5))]!;
  const result = {
    workload: w.name,
    impl: implName,
    checksum: sum,
    info: impl.info,
    setupMs,
    verifySteps,
    firstLoss,
    verifyLoss,
    warmSteps,
    stepsPerRepeat: steps,
    repeats,
    msPerStep: ms,
    median: q(0.5),
    p25: q(0.25),
    p75: q(0.75),
    min: sorted[0],
    // every timed run starts from the same weights: its final loss must be the same each time
    timedLossSpread: Math.max(...losses) - Math.min(...losses),
    rssStartMB: mb(rssStart),
    rssBaseMB: mb(rssBase),
    rssTrainDeltaMB: mb(rssMax - rssBase),
    peakRssMB: mb(peakRssBytes()),
    heapRetainedDeltaMB: mb(heapAfter - heapBase),
    gcsDuringTimed: gcs,
  };
  console.log("RESULT " + JSON.stringify(result));
}

/** The C reference (impls/c.ts): built here, run as its own process, which runs the same protocol and reports the same numbers (its RSS is the C process's). */
async function runNative(sum: string, problem: ReturnType<typeof makeProblem>) {
  const c = await import("./impls/c.ts");
  const t0 = performance.now();
  const mode = implName === "c-blas" ? "blas" : "direct";
  const { bin, gcc, flags } = c.build(mode, w.batch);
  const r = c.runC(w, problem, bin, { verifySteps, repeats, targetMs, warmupMs });
  const setupMs = performance.now() - t0;
  const sorted = [...r.msPerStep].sort((a, b) => a - b);
  const q = (f: number) => sorted[Math.min(sorted.length - 1, Math.floor(f * (sorted.length - 1) + 0.5))]!;
  const result = {
    workload: w.name,
    impl: implName,
    checksum: sum,
    info: { compiler: gcc, flags: `${flags}${mode === "blas" ? " (OPENBLAS_NUM_THREADS=1, openblas_set_num_threads(1))" : ""}` },
    setupMs,
    verifySteps,
    firstLoss: r.firstLoss,
    verifyLoss: r.verifyLoss,
    warmSteps: r.warmSteps,
    stepsPerRepeat: r.stepsPerRepeat,
    repeats,
    msPerStep: r.msPerStep,
    median: q(0.5),
    p25: q(0.25),
    p75: q(0.75),
    min: sorted[0],
    timedLossSpread: r.timedLossSpread,
    rssStartMB: 0,
    rssBaseMB: 0,
    rssTrainDeltaMB: 0,
    peakRssMB: r.peakRssKB / 1024,
    heapRetainedDeltaMB: 0,
    gcsDuringTimed: 0,
  };
  console.log("RESULT " + JSON.stringify(result));
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
    process.exit(1);
  },
);
