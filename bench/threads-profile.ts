/**
 * Where a training step's time goes with `createTrainer({ threads })` (issue #13), in place: a copy of runtime/
 * with a timestamp at each phase of the trainer's step (stepOn for threads: 1, stepSplit for threads: 2) and of the
 * training thread's loop (woken, parameters copied in, chunk done, range reduced, range updated), stamped with
 * performance.timeOrigin + performance.now() so both threads' stamps share one clock. mnist 784-128-10, Adam,
 * batch 128 (threads: 1 on m.batch(128), threads: 2 on m.batch(64)), the steps back to back, the two trainers
 * alternating in stretches of `--stretch` steps like bench/threads-ab.ts. Prints, per phase, the quartiles of its
 * time since the step began (µs), and the runtime's own step time for comparison.
 *
 *   node --import tsx bench/threads-profile.ts [--steps 1000] [--stretch 100]
 *
 * The copy lives under node_modules/.cache (tsx resolves from there) and is removed at the end; a phase whose
 * anchor is gone from the source fails loudly, so the probe cannot silently time nothing.
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { mnistAt } from "./lib/mnist-at.ts";

const argv = process.argv.slice(2);
const opt = (f: string, d: number) => (argv.includes(`--${f}`) ? Number(argv[argv.indexOf(`--${f}`) + 1]) : d);
const steps = opt("steps", 1000);
const stretch = opt("stretch", 100);
const REPO = path.resolve(import.meta.dirname, "..");
const cache = path.join(REPO, "node_modules", ".cache");
mkdirSync(cache, { recursive: true });
const copy = mkdtempSync(path.join(cache, "gradc-threads-profile-"));
const dir = mkdtempSync(path.join(tmpdir(), "gradc-threads-profile-"));

/** [file, anchor, replacement] — each anchor must occur exactly once. `ST` stamps the trainer, `WT` the thread. */
const ST = "__st();";
const patches: [string, string, string][] = [
  [
    "trainer.ts",
    "import { sharedMemoryAvailable, ThreadPool }",
    "const __T = (globalThis as unknown as { __gradcT: { t: Float64Array; i: number } }).__gradcT;\n" +
      "const __st = () => { if (__T) __T.t[__T.i++] = performance.timeOrigin + performance.now(); };\n" +
      "import { sharedMemoryAvailable, ThreadPool }",
  ],
  // threads: 1
  ["trainer.ts", "    this.pack(feed, order, start, n, true);\n    const mod = this.module;\n", `    ${ST}\n    this.pack(feed, order, start, n, true);\n    ${ST}\n    const mod = this.module;\n`],
  ["trainer.ts", "    if (!mod.step) mod.backward!(params, this.inputs, arena, grads, n);\n", `    if (!mod.step) mod.backward!(params, this.inputs, arena, grads, n);\n    ${ST}\n`],
  ["trainer.ts", '    if (!this.optimizer.update(params, grads)) this.diverged("gradient", NaN);\n    stats[STAT_LOSS] = loss;\n    stats[STAT_SUM] += loss * n;\n    stats[STAT_ROWS] += n;\n    stats[STAT_CORRECT] += this.correct(n);\n',
    `    if (!this.optimizer.update(params, grads)) this.diverged("gradient", NaN);\n    ${ST}\n    stats[STAT_LOSS] = loss;\n    stats[STAT_SUM] += loss * n;\n    stats[STAT_ROWS] += n;\n    stats[STAT_CORRECT] += this.correct(n);\n`],
  // threads: 2, the trainer's side
  ["trainer.ts", "    const k = this.chunks;\n    const mod = this.module;\n    const mean = this.layout.split === \"mean\";\n", `    ${ST}\n    const k = this.chunks;\n    const mod = this.module;\n    const mean = this.layout.split === "mean";\n`],
  ["trainer.ts", "    const n0 = this.chunkRows(n, 0);\n    this.packPart(feed, order, start, n0, this.inputs, 0);\n", `    ${ST}\n    const n0 = this.chunkRows(n, 0);\n    this.packPart(feed, order, start, n0, this.inputs, 0);\n    ${ST}\n`],
  ["trainer.ts", "    let loss = (mean ? n0 / n : 1) * this.arena[this.lossAt]!;\n", `    ${ST}\n    let loss = (mean ? n0 / n : 1) * this.arena[this.lossAt]!;\n`],
  ["trainer.ts", "      hits += this.correct(nj, pool.arena[j]!, pool.inputs[j]!);\n    }\n    const stats = this.stats;\n", `      hits += this.correct(nj, pool.arena[j]!, pool.inputs[j]!);\n    }\n    ${ST}\n    const stats = this.stats;\n`],
  ["trainer.ts", "    let finite = part.reduce(n);\n", `    ${ST}\n    let finite = part.reduce(n);\n    ${ST}\n`],
  ["trainer.ts", '    if (!finite) this.diverged("gradient", NaN);', `    ${ST}\n    if (!finite) this.diverged("gradient", NaN);`],
  ["trainer.ts", "    part.apply();\n    for (let j = 1; j < k; j++) pool.finish(j);\n", `    ${ST}\n    part.apply();\n    ${ST}\n    for (let j = 1; j < k; j++) pool.finish(j);\n    ${ST}\n`],
  // the thread's side: a stamp buffer handed over in its init
  [
    "threads.ts",
    "          spawn(\n            split\n              ? { ...init, split: { memories, thread: i + 1, update: split.update, mean: split.mean } }\n              : init,\n          ),",
    "          spawn({\n            ...(split ? { ...init, split: { memories, thread: i + 1, update: split.update, mean: split.mean } } : init),\n" +
      "            trace: (globalThis as unknown as { __gradcW: SharedArrayBuffer[] }).__gradcW[i],\n          } as ThreadInit),",
  ],
  [
    "worker.ts",
    "  let seen = 0;\n  let spin = SPIN_MAX;\n",
    "  let seen = 0;\n  let spin = SPIN_MAX;\n  const __W = new Float64Array((init as unknown as { trace: SharedArrayBuffer }).trace);\n" +
      "  let __i = 0;\n  const __wt = () => { __W[__i++ & 63] = performance.timeOrigin + performance.now(); };\n",
  ],
  ["worker.ts", "    const op = Atomics.load(ctl, CTL.OP);\n", "    const op = Atomics.load(ctl, CTL.OP);\n    if (op === OP.STEP) __i = 0;\n    __wt();\n"],
  ["worker.ts", "        if (trainerParams !== undefined) params.set(trainerParams);", "        if (trainerParams !== undefined) params.set(trainerParams);\n        __wt();"],
  ["worker.ts", "    Atomics.store(ctl, CTL.DONE, seen);\n    Atomics.notify(ctl, CTL.DONE);\n  }", "    __wt();\n    Atomics.store(ctl, CTL.DONE, seen);\n    Atomics.notify(ctl, CTL.DONE);\n  }"],
];

try {
  cpSync(path.join(REPO, "runtime"), path.join(copy, "runtime"), { recursive: true });
  writeFileSync(path.join(copy, "package.json"), '{ "type": "module" }\n'); // ESM, as runtime/ is in the repo
  for (const [file, anchor, replacement] of patches) {
    const f = path.join(copy, "runtime", file);
    const text = readFileSync(f, "utf8");
    const at = text.indexOf(anchor);
    if (at < 0 || text.indexOf(anchor, at + 1) >= 0) throw new Error(`threads-profile: the anchor in runtime/${file} is ${at < 0 ? "gone" : "not unique"}:\n${anchor}`);
    writeFileSync(f, text.slice(0, at) + replacement + text.slice(at + anchor.length));
  }
  const T = { t: new Float64Array(64), i: 0 };
  const W = new SharedArrayBuffer(64 * 8);
  Object.assign(globalThis, { __gradcT: T, __gradcW: [W] });
  const rt = (await import(pathToFileURL(path.join(copy, "runtime", "node.ts")).href)) as typeof import("../runtime/node.ts");
  const one = await mnistAt(dir, 128);
  const per = await mnistAt(dir, 64);
  const { train } = rt.loadMnist({ train: 4096, test: 10 });
  const opts = { optimizer: rt.adam({ lr: 1e-3 }), batchSize: 128, seed: 1 } as const;
  const A = rt.createTrainer(one, { ...opts, threads: 1 });
  const B = rt.createTrainer(per, { ...opts, threads: 2, params: Float32Array.from(A.params) });
  await B.ready();
  const per128 = Math.floor(4096 / 128);
  for (let s = 0; s < 50; s++) {
    A.trainStep(train, (s % per128) * 128, 128);
    B.trainStep(train, (s % per128) * 128, 128);
  }
  const wt = new Float64Array(W);
  const rows: { A: number[][]; B: number[][] } = { A: [], B: [] };
  for (let s = 0; s < steps; s++) {
    const t = Math.floor(s / stretch) % 2 === 0 ? A : B;
    T.i = 0;
    const a = performance.timeOrigin + performance.now();
    t.trainStep(train, (s % per128) * 128, 128);
    const z = performance.timeOrigin + performance.now();
    const stamps = Array.from(T.t.subarray(0, T.i), (x) => x - a);
    if (t === A) rows.A.push([z - a, ...stamps]);
    else rows.B.push([z - a, ...stamps, ...Array.from(wt.subarray(0, 7), (x) => x - a)]);
  }
  const q = (r: number[][], i: number, f: number) => {
    const v = r.map((x) => x[i]!).sort((x, y) => x - y);
    return (v[Math.floor(v.length * f)]! * 1000).toFixed(1).padStart(8);
  };
  const show = (r: number[][], names: string[]) => {
    console.log(`  ${"µs since the step began".padEnd(40)}      p10      p25   median      p75      p90`);
    names.forEach((n, i) => console.log(`  ${n.padEnd(40)} ${[0.1, 0.25, 0.5, 0.75, 0.9].map((f) => q(r, i, f)).join(" ")}`));
  };
  console.log(`load ${loadavg()[0]!.toFixed(2)}; ${steps} steps, stretches of ${stretch}, alternating`);
  console.log("threads: 1, m.batch(128)");
  show(rows.A, ["step (trainStep, outside)", "stepOn entered", "packed 128 rows", "forward + backward done", "guard + L2 + check + Adam done"]);
  console.log("threads: 2, m.batch(64)");
  show(rows.B, [
    "step (trainStep, outside)", "trainer: stepSplit entered", "trainer: chunk 1 packed, thread started", "trainer: chunk 0 packed",
    "trainer: chunk 0 forward + backward done", "trainer: thread's chunk seen done", "trainer: guard, prepare, REDUCE sent",
    "trainer: range 0 reduced + checked", "trainer: thread's range seen checked", "trainer: UPDATE sent", "trainer: range 0 updated",
    "trainer: thread's range seen updated", "thread: woken for its chunk", "thread: parameters copied in", "thread: chunk done",
    "thread: woken for REDUCE", "thread: range 1 reduced + checked", "thread: woken for UPDATE", "thread: range 1 updated",
  ]);
  B.close();
} finally {
  rmSync(copy, { recursive: true, force: true });
  rmSync(dir, { recursive: true, force: true });
}
