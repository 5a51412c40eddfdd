/**
 * gradc vs the hand-written implementation in ONE process, interleaved
 * (A B A B …, each run from the initial weights): on a shared, noisy machine
 * the ratio is far steadier than two separate processes' medians. For
 * compiler work on the "≥ 1.0× hand-written" target.
 *
 *   npx tsx bench/ab.ts [workload ...] [--runs 40] [--ms 20] [--js-dir DIR] [--json]
 *
 * --js-dir: take gradc's module from DIR/<workload>.js instead of compiling
 * (bench.ts passes what it compiled); --json: one `RESULT {json}` line each.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { create as createGradc } from "./impls/gradc.ts";
import { create as createHand } from "./impls/hand.ts";
import { compileSpec } from "./lib/compile.ts";
import type { Impl } from "./lib/impl.ts";
import { REPO, WORKLOADS, makeProblem, workload } from "./lib/workloads.ts";

const argv = process.argv.slice(2);
const opt = (f: string, d: number) =>
  argv.includes(`--${f}`) ? Number(argv[argv.indexOf(`--${f}`) + 1]) : d;
const runs = opt("runs", 40);
const ms = opt("ms", 20);
const jsDir = argv.includes("--js-dir")
  ? argv[argv.indexOf("--js-dir") + 1]
  : undefined;
const json = argv.includes("--json");
const names = argv.filter(
  (a, i) =>
    !a.startsWith("--") &&
    !(argv[i - 1]?.startsWith("--") && argv[i - 1] !== "--json"),
);
const dir = mkdtempSync(path.join(tmpdir(), "gradc-ab-"));
const med = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1]!;

try {
  for (const w of names.length ? names.map(workload) : WORKLOADS) {
    const js = path.join(dir, `${w.name}.js`);
    writeFileSync(
      js,
      jsDir
        ? readFileSync(path.join(jsDir, `${w.name}.js`), "utf8")
        : (await compileSpec(path.join(REPO, w.spec))).js,
    );
    const p = makeProblem(w);
    const impls: Impl[] = [await createGradc(w, p, js), createHand(w, p)];
    for (const I of impls) {
      I.reset();
      I.run(Math.ceil(20000 / w.batch));
    }
    // steps per run: about `ms` of gradc's time (min of 3 probes, so one hiccup cannot stop the search early)
    const probe = (n: number) =>
      Math.min(
        ...[0, 1, 2].map(() => {
          const t0 = performance.now();
          impls[0]!.run(n);
          return performance.now() - t0;
        }),
      );
    let steps = 1;
    for (;;) {
      const dt = probe(steps);
      if (dt > ms / 4 || steps >= 1 << 24) {
        steps = Math.max(1, Math.round((steps * ms) / Math.max(dt, 1e-3)));
        break;
      }
      steps *= 4;
    }
    const t: number[][] = [[], []];
    for (let r = 0; r < runs; r++)
      for (let j = 0; j < 2; j++) {
        const i = (r + j) % 2;
        impls[i]!.reset();
        const t0 = performance.now();
        impls[i]!.run(steps);
        impls[i]!.lastLoss();
        t[i]!.push((performance.now() - t0) / steps);
      }
    const [g, h] = [med(t[0]!), med(t[1]!)];
    const [gm, hm] = [Math.min(...t[0]!), Math.min(...t[1]!)];
    if (json)
      console.log(
        "RESULT " +
          JSON.stringify({
            workload: w.name,
            steps,
            runs,
            gradc: g,
            hand: h,
            gradcMin: gm,
            handMin: hm,
          }),
      );
    else
      console.log(
        `${w.name.padEnd(8)} gradc ${g.toPrecision(3)} ms (min ${gm.toPrecision(3)})  hand ${h.toPrecision(3)} ms (min ${hm.toPrecision(3)})  ` +
          `hand/gradc ${(h / g).toFixed(2)}× (of minima ${(hm / gm).toFixed(2)}×)`,
      );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
