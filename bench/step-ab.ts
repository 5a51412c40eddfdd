/**
 * The user's step, side by side in ONE process (issue #13): the generated
 * module's own SGD step, gradc's `trainStep` with SGD and with Adam, `fit` with
 * Adam (epochs of shuffled batches), TF.js wasm with `tf.train.adam` and jax-js
 * wasm with Adam inside its jitted step — interleaved (A B C … then rotated,
 * every run from the initial weights), so every row sees the same machine load.
 * On a shared 2-core machine that makes the ratios far steadier than separate
 * processes' medians.
 *
 *   npx tsx bench/step-ab.ts [workload ...] [--runs 15] [--ms 60] [--impls a,b,…] [--js-dir DIR] [--json]
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import path from "node:path";
import { compileSpec } from "./lib/compile.ts";
import type { Impl } from "./lib/impl.ts";
import { makeProblem, REPO, workload } from "./lib/workloads.ts";

const argv = process.argv.slice(2);
const opt = (f: string) => (argv.includes(`--${f}`) ? argv[argv.indexOf(`--${f}`) + 1] : undefined);
const runs = Number(opt("runs") ?? 15);
const ms = Number(opt("ms") ?? 60);
const jsDir = opt("js-dir");
const json = argv.includes("--json");
const ROWS = ["gradc", "gradc-sgd", "gradc-adam", "gradc-fit", "tfjs-wasm-adam", "jax-wasm-adam"] as const;
type Row = (typeof ROWS)[number];
const rows = (opt("impls")?.split(",") ?? [...ROWS]) as Row[];
const LABEL: Record<Row, string> = {
  gradc: "gradc module step, plain SGD (its own sgd)",
  "gradc-sgd": "gradc trainStep, SGD",
  "gradc-adam": "gradc trainStep, Adam",
  "gradc-fit": "gradc fit, Adam (shuffled epochs)",
  "tfjs-wasm-adam": "tfjs wasm, tf.train.adam",
  "jax-wasm-adam": "jax-js wasm jit, Adam",
};
const names = argv.filter((a, i) => !a.startsWith("--") && !(argv[i - 1]?.startsWith("--") && argv[i - 1] !== "--json"));
const dir = mkdtempSync(path.join(tmpdir(), "gradc-step-ab-"));
const med = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1]!;

try {
  for (const w of (names.length ? names : ["mnist", "deep"]).map(workload)) {
    const js = path.join(dir, `${w.name}.js`);
    writeFileSync(js, jsDir ? readFileSync(path.join(jsDir, `${w.name}.js`), "utf8") : (await compileSpec(path.join(REPO, w.spec))).js);
    const p = makeProblem(w);
    const impls: Impl[] = [];
    for (const r of rows) {
      if (r === "gradc") impls.push(await (await import("./impls/gradc.ts")).create(w, p, js));
      else if (r === "gradc-sgd") impls.push(await (await import("./impls/gradc-trainer.ts")).create(w, p, js, "step", "sgd"));
      else if (r === "gradc-adam") impls.push(await (await import("./impls/gradc-trainer.ts")).create(w, p, js, "step"));
      else if (r === "gradc-fit") impls.push(await (await import("./impls/gradc-trainer.ts")).create(w, p, js, "fit"));
      else if (r === "tfjs-wasm-adam") impls.push(await (await import("./impls/tfjs.ts")).create(w, p, "wasm", "adam"));
      else impls.push(await (await import("./impls/jax.ts")).create(w, p, "adam"));
    }
    const loadStart = loadavg()[0]!;
    // warm-up, then steps per run: about `ms` of each row's own time
    const steps = impls.map((I) => {
      I.reset();
      I.run(Math.ceil(4000 / w.batch));
      I.lastLoss();
      let n = 4;
      for (;;) {
        I.reset();
        const t0 = performance.now();
        I.run(n);
        I.lastLoss();
        const dt = performance.now() - t0;
        if (dt > ms / 4 || n >= 1 << 20) return Math.max(4, Math.round((n * ms) / Math.max(dt, 1e-3) / 4) * 4);
        n *= 4;
      }
    });
    const t: number[][] = impls.map(() => []);
    const losses: number[] = impls.map(() => NaN);
    for (let r = 0; r < runs; r++)
      for (let j = 0; j < impls.length; j++) {
        const i = (r + j) % impls.length;
        const I = impls[i]!;
        I.reset();
        const t0 = performance.now();
        I.run(steps[i]!);
        losses[i] = I.lastLoss();
        t[i]!.push((performance.now() - t0) / steps[i]!);
      }
    const base = med(t[0]!);
    const adam = rows.indexOf("gradc-adam");
    const result = rows.map((r, i) => ({ impl: r, label: LABEL[r], median: med(t[i]!), min: Math.min(...t[i]!), steps: steps[i]!, loss: losses[i]! }));
    const load = `${loadStart.toFixed(2)} → ${loadavg()[0]!.toFixed(2)}`;
    if (json) console.log("RESULT " + JSON.stringify({ workload: w.name, runs, load, rows: result }));
    else {
      console.log(`${w.name}: ${runs} interleaved runs per row, load average (1 min) ${load}`);
      for (const x of result)
        console.log(
          `  ${x.label.padEnd(44)} ${x.median.toPrecision(3).padStart(7)} ms/step (min ${x.min.toPrecision(3)})  ` +
            `÷ module SGD ${(x.median / base).toFixed(2)}×` +
            (adam >= 0 ? `  ÷ gradc Adam ${(x.median / med(t[adam]!)).toFixed(2)}×` : ""),
        );
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
