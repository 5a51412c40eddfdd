/**
 * `npm run bench:compile`: how long a compile takes, and how it grows.
 *
 * - cold: a fresh `node bin/gradc.js compile <spec> -o <tmp>` process, wall
 *   time (module loading included) — what a user waits for at the terminal;
 * - warm: loadSpec + compile in this process after a warm-up compile (JIT hot,
 *   modules loaded) — what `gradc compile --watch` pays per save;
 * for every example and for synthetic chains (bench/lib/chains.ts) of 1k, 10k
 * and 100k ops (the mix chain: 1k and 10k), with the growth exponent of time and of generated size in
 * the chain length (least-squares slope of log t against log n: 1 is
 * linear). Medians of --runs runs (the 100k chains: one run each).
 *
 *   npm run bench:compile                  everything, writes bench/COMPILE.md and its section of BENCHMARKS.md
 *   npm run bench:compile -- --sizes 1000,10000 --runs 3 --no-write
 *   npm run bench:compile -- --timeout 120   give up on one compile after 120 s
 *   npm run bench:compile -- --mix-sizes 1000,10000,100000   the mix chain at 100k too (~200 MB of TS)
 *
 * Needs none of the bench/ peer packages (only gradc's own dependencies).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { exampleSpecs } from "../compiler/cli/compile.ts";
import { loadSpec } from "../compiler/frontend/load.ts";
import { compile } from "../compiler/index.ts";
import { type ChainKind, chainSpec } from "./lib/chains.ts";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
process.chdir(REPO);
const argv = process.argv.slice(2);
const val = (k: string) => {
  const i = argv.indexOf(`--${k}`);
  return i >= 0 ? argv[i + 1] : undefined;
};
const runs = Number(val("runs") ?? 3);
const sizes = (val("sizes") ?? "1000,10000,100000").split(",").map(Number);
// The mix chain writes ~2 KB of TypeScript per op: at 100k that is ~200 MB, several minutes and GBs of heap.
const mixSizes = (val("mix-sizes") ?? "1000,10000").split(",").map(Number);
const kinds = (val("kinds") ?? "tanh,mix").split(",") as ChainKind[];
const timeoutS = Number(val("timeout") ?? 300);
const write = !argv.includes("--no-write");
const skipExamples = argv.includes("--no-examples");

const load = () => loadavg().map((x) => x.toFixed(2)).join(" ");
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2) : NaN;
};
const log = (s: string) => process.stderr.write(`${s}\n`);
const tmp = mkdtempSync(path.join(tmpdir(), "gradc-bench-compile-"));
const loadStart = load();
const t0 = performance.now();

interface Row {
  readonly what: string;
  readonly n?: number;
  readonly kind?: ChainKind;
  cold?: number;
  warm?: number;
  tsBytes?: number;
  tsLines?: number;
  error?: string;
}

/** One fresh CLI process: wall ms, or the error line it printed. */
function cold(spec: string): { ms?: number; error?: string } {
  const t = performance.now();
  const r = spawnSync(process.execPath, ["bin/gradc.js", "compile", spec, "-o", path.join(tmp, "out")], {
    encoding: "utf8",
    timeout: timeoutS * 1000,
    maxBuffer: 1 << 26,
  });
  const ms = performance.now() - t;
  if (r.status === 0) return { ms };
  return { error: r.error ? `${r.error.message}` : (r.stderr.split("\n").find((l) => l.startsWith("error")) ?? r.stderr.slice(0, 200)).trim() };
}

/** In-process compiles (loadSpec + compile) after `warmups` discarded ones: median ms and the output size. */
async function warm(spec: string, n: number, warmups: number) {
  const times: number[] = [];
  let ts = "";
  for (let i = 0; i < warmups + n; i++) {
    const t = performance.now();
    const c = await compile(await loadSpec(spec), { trainer: true });
    if (i >= warmups) times.push(performance.now() - t);
    ts = c.ts;
  }
  return { ms: median(times), tsBytes: Buffer.byteLength(ts), tsLines: ts.split("\n").length };
}

const rows: Row[] = [];
async function measure(row: Row, spec: string, coldRuns: number, warmRuns: number, warmups: number) {
  rows.push(row);
  const cs: number[] = [];
  for (let i = 0; i < coldRuns && !row.error; i++) {
    const r = cold(spec);
    if (r.error) row.error = r.error;
    else cs.push(r.ms!);
  }
  if (cs.length) row.cold = median(cs);
  if (!row.error) {
    try {
      const w = await warm(spec, warmRuns, warmups);
      Object.assign(row, { warm: w.ms, tsBytes: w.tsBytes, tsLines: w.tsLines });
    } catch (e) {
      row.error = `in process: ${(e as Error).message.split("\n")[0]}`;
    }
  }
  log(
    `${row.what.padEnd(22)} cold ${row.cold?.toFixed(0) ?? "-"} ms, warm ${row.warm?.toFixed(1) ?? "-"} ms` +
      `${row.tsBytes ? `, ${row.tsLines} lines / ${(row.tsBytes / 1024).toFixed(0)} KiB TS` : ""}${row.error ? `  FAILED: ${row.error}` : ""}  (load ${load()})`,
  );
}

if (!skipExamples) for (const spec of exampleSpecs()) await measure({ what: spec.split(path.sep)[1]! }, spec, runs, runs, 1);
for (const kind of kinds)
  for (const n of kind === "mix" ? mixSizes : sizes) {
    const spec = path.join(tmp, `chain_${kind}_${n}.ts`);
    writeFileSync(spec, chainSpec(kind, n));
    const big = n >= 100_000;
    await measure({ what: `${kind} chain ${n}`, n, kind }, spec, big ? 1 : runs, big ? 1 : runs, big ? 0 : 1);
  }
rmSync(tmp, { recursive: true, force: true });

/** Least-squares slope of log y over log x. */
function slope(pts: [number, number][]): number | undefined {
  if (pts.length < 2) return undefined;
  const xs = pts.map(([x]) => Math.log(x)), ys = pts.map(([, y]) => Math.log(y));
  const mx = xs.reduce((a, b) => a + b) / xs.length, my = ys.reduce((a, b) => a + b) / ys.length;
  const num = xs.reduce((a, x, i) => a + (x - mx) * (ys[i]! - my), 0);
  const den = xs.reduce((a, x) => a + (x - mx) ** 2, 0);
  return num / den;
}
const f = (x: number | undefined, d = 0) => (x === undefined || Number.isNaN(x) ? "—" : x.toFixed(d));
const table = [
  "| spec | cold CLI ms | warm ms | TS lines | TS KiB | note |",
  "|:---|---:|---:|---:|---:|:---|",
  ...rows.map((r) => `| ${r.what} | ${f(r.cold)} | ${f(r.warm, 1)} | ${f(r.tsLines)} | ${r.tsBytes ? f(r.tsBytes / 1024) : "—"} | ${r.error ? `FAILED: ${r.error.replace(/\|/g, "\\|")}` : ""} |`),
];
const growth = kinds.map((kind) => {
  const ok = rows.filter((r) => r.kind === kind && !r.error);
  const g = (k: "cold" | "warm" | "tsBytes") => slope(ok.filter((r) => r[k] !== undefined).map((r) => [r.n!, r[k]!]));
  return `| ${kind} | ${ok.map((r) => r.n).join(", ") || "—"} | ${f(g("cold"), 2)} | ${f(g("warm"), 2)} | ${f(g("tsBytes"), 2)} |`;
});
const elapsed = (performance.now() - t0) / 1000;
let commit = "";
try {
  commit = spawnSync("git", ["rev-parse", "--short", "HEAD"], { encoding: "utf8" }).stdout.trim();
} catch {}
const md = `## Compile time (\`npm run bench:compile\`, bench/compile.ts)

- ${new Date().toISOString().replace(/\.\d+Z$/, "Z")}, gradc at ${commit || "?"}; ${cpus().length} cores, Node ${process.version}
- Load average (1/5/15 min) at start ${loadStart}, at end ${load()} — shared machine: treat ±20% as noise; ${elapsed.toFixed(0)} s in all
- **cold** = a fresh \`node bin/gradc.js compile <spec>\` process (wall, module loading included); **warm** = loadSpec + compile
  in one process after a warm-up compile (what \`gradc compile --watch\` pays per save). Medians of ${runs} runs; 100k chains: one run.
  A warm recompile of the same spec reuses the statements prettier formatted and the wasm modules built before, as
  \`--watch\` does; a save that changes the kernels builds them again.
- Chains (bench/lib/chains.ts): **tanh** = n scalar \`tanh\` nodes in a row; **mix** = n ops on a [4, 8] tensor, every 10th a
  matmul with one shared [8, 8] weight, the rest \`tanh\` (loop kernels with fused epilogues); up to ${Math.max(...mixSizes)} ops by default
  (~2 KB of TypeScript per op: \`--mix-sizes 1000,10000,100000\` for more).

${table.join("\n")}

Growth exponent (least-squares slope of log value over log n; 1 = linear):

| chain | n | cold | warm | TS size |
|:---|:---|---:|---:|---:|
${growth.join("\n")}
`;
process.stdout.write(`\n${md}\n`);
if (write) {
  writeFileSync(path.join(REPO, "bench", "COMPILE.md"), md);
  // BENCHMARKS.md: replace (or append) this section; bench/bench.ts includes bench/COMPILE.md when it rewrites the file.
  const file = path.join(REPO, "BENCHMARKS.md");
  const old = existsSync(file) ? readFileSync(file, "utf8") : "# Benchmarks\n";
  const start = old.indexOf("## Compile time (`npm run bench:compile`");
  const rest = start >= 0 ? old.slice(start).search(/\n## (?!Compile time)/) : -1;
  const next = start < 0 ? `${old.trimEnd()}\n\n${md}` : `${old.slice(0, start)}${md}${rest >= 0 ? old.slice(start + rest) : ""}`;
  writeFileSync(file, next);
  log(`wrote bench/COMPILE.md and its section of BENCHMARKS.md`);
}
