/**
 * The wasm kernels as gradc's encoder writes them against the same bytes
 * after binaryen's -O3, interleaved in ONE process (A B C … rotated, every
 * run from the initial weights): does a module's training step gain anything
 * from an optimizer pass? binaryen is a devDependency, used here and in
 * test/emit/wasm-encoder.test.ts only.
 *
 *   npx tsx bench/wasm-ab.ts [workload ...] [--runs 30] [--ms 40] [--vs DIR ...]
 *
 * Rows: "encoder" (the module compiled from this checkout), "encoder + -O3"
 * (its wasm bytes through binaryen's optimizer, levels 3/0 as gradc used
 * before), and for each --vs DIR the module DIR/<workload>.js (another build,
 * e.g. one from before a change). Default workloads: mnist, deep.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import path from "node:path";
import { create as createGradc } from "./impls/gradc.ts";
import { compileSpec } from "./lib/compile.ts";
import type { Impl } from "./lib/impl.ts";
import { makeProblem, REPO, workload } from "./lib/workloads.ts";

const argv = process.argv.slice(2);
const opt = (f: string) => (argv.includes(`--${f}`) ? argv[argv.indexOf(`--${f}`) + 1] : undefined);
const runs = Number(opt("runs") ?? 30);
const ms = Number(opt("ms") ?? 40);
const vs = argv.flatMap((a, i) => (argv[i - 1] === "--vs" ? [a] : []));
const names = argv.filter((a, i) => !a.startsWith("--") && !argv[i - 1]?.startsWith("--"));
const dir = mkdtempSync(path.join(tmpdir(), "gradc-wasm-ab-"));
const med = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1]!;

/** The module's JS with its embedded wasm replaced by binaryen's -O3 of it. */
async function optimized(js: string): Promise<string> {
  const { default: binaryen } = await import("binaryen");
  const b64 = /atob\(\s*"([^"]+)"/.exec(js)![1]!;
  const m = binaryen.readBinary(Buffer.from(b64, "base64"));
  m.setFeatures(binaryen.Features.MVP | binaryen.Features.SIMD128);
  binaryen.setOptimizeLevel(3);
  binaryen.setShrinkLevel(0);
  m.optimize();
  const out = Buffer.from(m.emitBinary()).toString("base64");
  m.dispose();
  return js.replace(b64, out);
}

const wasmBytes = (js: string) => Buffer.from(/atob\(\s*"([^"]+)"/.exec(js)![1]!, "base64").length;

try {
  console.log(`load ${loadavg().map((x) => x.toFixed(2)).join(" ")}`);
  for (const w of (names.length ? names : ["mnist", "deep"]).map(workload)) {
    const own = (await compileSpec(path.join(REPO, w.spec))).js;
    const rows: [string, string][] = [
      ["encoder", own],
      ["encoder + binaryen -O3", await optimized(own)],
      ...vs.map((d): [string, string] => [d, readFileSync(path.join(d, `${w.name}.js`), "utf8")]),
    ];
    const p = makeProblem(w);
    const impls: Impl[] = [];
    for (const [i, [, js]] of rows.entries()) {
      const file = path.join(dir, `${w.name}-${i}.js`);
      writeFileSync(file, js);
      impls.push(await createGradc(w, p, file));
    }
    for (const I of impls) {
      I.reset();
      I.run(Math.ceil(20000 / w.batch));
    }
    // steps per run: about `ms` of the first row's time
    let steps = 1;
    for (;;) {
      const t0 = performance.now();
      impls[0]!.run(steps);
      const dt = performance.now() - t0;
      if (dt > ms / 4 || steps >= 1 << 20) {
        steps = Math.max(1, Math.round((steps * ms) / Math.max(dt, 1e-3)));
        break;
      }
      steps *= 4;
    }
    const t: number[][] = impls.map(() => []);
    const losses = impls.map(() => 0);
    for (let r = 0; r < runs; r++)
      for (let j = 0; j < impls.length; j++) {
        const i = (r + j) % impls.length;
        impls[i]!.reset();
        const t0 = performance.now();
        impls[i]!.run(steps);
        t[i]!.push((performance.now() - t0) / steps);
        losses[i] = impls[i]!.lastLoss();
      }
    const base = med(t[0]!);
    console.log(`${w.name}: ${steps} steps a run, ${runs} runs each; ms per step (median, min), ratio to the first row`);
    rows.forEach(([label, js], i) =>
      console.log(
        `  ${label.padEnd(28)} ${med(t[i]!).toFixed(4)}  ${Math.min(...t[i]!).toFixed(4)}  ${(med(t[i]!) / base).toFixed(3)}×  ` +
          `wasm ${wasmBytes(js)} B  loss ${losses[i]!.toPrecision(7)}`,
      ),
    );
  }
  console.log(`load ${loadavg().map((x) => x.toFixed(2)).join(" ")}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
