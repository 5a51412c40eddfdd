/**
 * `npm run bench`: gradc's generated training step against a hand-written
 * Float32Array implementation, TensorFlow.js (cpu and wasm backends) and
 * jax-js (wasm, jit) on five workloads, plus compile time / code size
 * against layer width and depth. Writes BENCHMARKS.md at the repo root.
 *
 *   npm run bench                              full run (~6-9 min on 2 cores), writes BENCHMARKS.md
 *   npm run bench -- --quick                   smoke run (few steps, 3 repeats), prints only
 *   npm run bench -- --only mnist[,deep]       some workloads
 *   npm run bench -- --impls gradc,hand        some implementations
 *   npm run bench -- --only lenet              the conv workload only: replaces just the conv section of BENCHMARKS.md
 *   flags: --repeats N  --target-ms MS  --warmup-ms MS  --verify-steps N  --rounds N
 *          --rtol X  --no-codesize  --codesize-only  --write | --no-write  --out FILE
 *
 * Every (workload, implementation) pair runs in its own Node process
 * (bench/run-one.ts). See BENCHMARKS.md "Method" for what is measured how.
 */
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { bundleSizeMarkdown, bundleSizes } from "../examples/browser/size.ts";
import { codesizeMarkdown, runCodesize, type SizeRow } from "./codesize.ts";
import { type CompileResult, compileSpec } from "./lib/compile.ts";
import { ADAM_IMPLS, IMPL_LABEL, IMPLS, implApplies, type ImplName } from "./lib/impl.ts";
import { REPO, WORKLOADS, type Workload } from "./lib/workloads.ts";

// ---------------------------------------------------------------- flags
const argv = process.argv.slice(2);
const has = (f: string) => argv.includes(`--${f}`);
const val = (f: string): string | undefined => {
  const i = argv.indexOf(`--${f}`);
  return i >= 0 ? argv[i + 1] : undefined;
};
const num = (f: string, d: number) => (val(f) === undefined ? d : Number(val(f)));
const quick = has("quick");
const only = val("only")?.split(",");
const impls = (val("impls")?.split(",") ?? [...IMPLS]) as ImplName[];
for (const i of impls) if (!IMPLS.includes(i)) throw new Error(`unknown impl '${i}' (${IMPLS.join(", ")})`);
const workloads = WORKLOADS.filter((w) => !only || only.includes(w.name));
if (only) for (const o of only) if (!WORKLOADS.some((w) => w.name === o)) throw new Error(`unknown workload '${o}' (${WORKLOADS.map((w) => w.name).join(", ")})`);
const repeats = num("repeats", quick ? 3 : 9);
const targetMs = num("target-ms", quick ? 40 : 150);
const warmupMs = num("warmup-ms", quick ? 100 : 500);
const rounds = num("rounds", quick ? 1 : 2);
const rtol = num("rtol", 1e-4);
const atol = 1e-6;
// a run of only the conv workload skips the MLP code-size sweep (it writes only BENCHMARKS.md's conv section)
const codesize = !has("no-codesize") && !(only && workloads.length > 0 && workloads.every((w) => w.convs));
const codesizeOnly = has("codesize-only");
const partial = quick || !!only || !!val("impls") || codesizeOnly;
const write = has("write") || (!partial && !has("no-write"));
const outFile = path.resolve(REPO, val("out") ?? "BENCHMARKS.md");
const verifySteps = (w: Workload) => num("verify-steps", quick ? w.quickVerifySteps : w.verifySteps);
const command = `npm run bench${argv.length ? " -- " + argv.join(" ") : ""}`;

const log = (s: string) => process.stderr.write(s + "\n");

// ---------------------------------------------------------------- machine
const sh = (cmd: string, args: string[]) => {
  try {
    return execFileSync(cmd, args, { cwd: REPO, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return "";
  }
};
const cpuModel = (() => {
  try {
    return /model name\s*:\s*(.*)/.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1]?.trim() ?? os.cpus()[0]?.model ?? "?";
  } catch {
    return os.cpus()[0]?.model ?? "?";
  }
})();
const machine = {
  nproc: sh("nproc", []) || String(os.availableParallelism()),
  cpu: cpuModel,
  node: process.version,
  memGiB: (os.totalmem() / 2 ** 30).toFixed(0),
  date: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
  commit: sh("git", ["rev-parse", "--short", "HEAD"]),
  dirty: sh("git", ["status", "--porcelain", "--", "compiler"]) !== "",
  loadStart: os.loadavg().map((x) => x.toFixed(2)).join(" "),
};

// ---------------------------------------------------------------- children
interface Result {
  workload: string;
  impl: ImplName;
  checksum: string;
  info: Record<string, string>;
  setupMs: number;
  verifySteps: number;
  firstLoss: number;
  verifyLoss: number;
  stepsPerRepeat: number;
  msPerStep: number[];
  median: number;
  p25: number;
  p75: number;
  min: number;
  timedLossSpread: number;
  rssStartMB: number;
  rssBaseMB: number;
  rssTrainDeltaMB: number;
  peakRssMB: number;
  heapRetainedDeltaMB: number;
  gcsDuringTimed: number;
}
interface StepAb {
  workload: string;
  runs: number;
  load: string;
  rows: { impl: string; label: string; median: number; min: number; steps: number; loss: number }[];
}
type Outcome = { ok: true; r: Result; rounds: Result[] } | { ok: false; error: string };

function runChild(w: Workload, impl: ImplName, jsFile: string | undefined, verify: number): Promise<Result> {
  const args = [
    "--import",
    "tsx",
    "--expose-gc",
    path.join("bench", "run-one.ts"),
    "--workload",
    w.name,
    "--impl",
    impl,
    "--verify-steps",
    String(verify),
    "--repeats",
    String(repeats),
    "--target-ms",
    String(targetMs),
    "--warmup-ms",
    String(warmupMs),
  ];
  if (jsFile) args.push("--gradc-js", jsFile);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: REPO, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), 300_000);
    child.on("close", (code) => {
      clearTimeout(timer);
      const line = out.split("\n").find((l) => l.startsWith("RESULT "));
      if (code === 0 && line) resolve(JSON.parse(line.slice(7)) as Result);
      else reject(new Error((err.trim().split("\n").slice(0, 3).join(" | ") || `exit ${code}`).slice(0, 300)));
    });
  });
}

// ---------------------------------------------------------------- formatting
const fmtMs = (ms: number) => (ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms >= 1 ? ms.toFixed(2) : ms >= 0.01 ? ms.toFixed(4) : ms.toPrecision(3));
const fmtRate = (x: number) => (x >= 1e6 ? `${(x / 1e6).toFixed(2)}M` : x >= 1e3 ? `${(x / 1e3).toFixed(1)}k` : x.toFixed(0));
const fmtRatio = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2)) + "×";
const fmtLoss = (x: number) => (Number.isFinite(x) ? x.toPrecision(7) : String(x));

function table(header: string[], rows: string[][], align: ("l" | "r")[]): { md: string; text: string } {
  const md = [
    `| ${header.join(" | ")} |`,
    `|${align.map((a) => (a === "r" ? "---:" : ":---")).join("|")}|`,
    ...rows.map((r) => `| ${r.join(" | ")} |`),
  ].join("\n");
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => (align[i] === "r" ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join("  ");
  const text = [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
  return { md, text };
}

// ---------------------------------------------------------------- main
async function main() {
  const t0 = Date.now();
  log(`gradc bench: ${workloads.map((w) => w.name).join(", ")} × ${impls.join(", ")}; ${repeats} repeats × ~${targetMs} ms, ${rounds} round(s)${quick ? " (quick)" : ""}`);
  log(`machine: ${machine.nproc} cores, ${machine.cpu}, node ${machine.node}, load ${machine.loadStart}`);
  const tmp = mkdtempSync(path.join(os.tmpdir(), "gradc-bench-"));
  const compiled = new Map<string, CompileResult>();
  const outcomes = new Map<string, Outcome>();
  const compileErrors = new Map<string, string>();
  let cold: CompileResult | undefined;
  let coldWasm: CompileResult | undefined;
  const ab = new Map<string, { workload: string; gradc: number; hand: number; gradcMin: number; handMin: number; steps: number; runs: number }>();
  let sizeRows: SizeRow[] = [];
  const stepAb: StepAb[] = [];
  try {
    if (!codesizeOnly) {
      // --- gradc, in process: loadSpec + compile + importModule
      if (impls.includes("gradc")) {
        cold = await compileSpec(path.join(REPO, "examples/xor/model.ts")); // first compile in the process: cold start
        log(`gradc cold start (first compile in a fresh process, xor): ${cold.ms.toFixed(0)} ms`);
        coldWasm = await compileSpec(path.join(REPO, "bench/specs/small.ts")); // first model with wasm kernels: loads the wasm encoder
        log(`gradc first compile with wasm kernels (small): ${coldWasm.ms.toFixed(0)} ms`);
        for (const w of workloads) {
          try {
            const r = await compileSpec(path.join(REPO, w.spec));
            compiled.set(w.name, r);
            writeFileSync(path.join(tmp, `${w.name}.js`), r.js);
            log(`gradc compile ${w.name}: ${r.ms.toFixed(0)} ms, ${r.tsLines} TS lines / ${r.tsBytes} bytes, JS ${r.jsBytes} bytes`);
          } catch (e) {
            // a spec that does not compile (yet) costs its gradc rows, not the run
            compileErrors.set(w.name, (e as Error).message.split("\n")[0]!.slice(0, 300));
            log(`gradc compile ${w.name} FAILED: ${compileErrors.get(w.name)}`);
          }
        }
      }
      // --- the training runs, one process each, `rounds` times (alternating order)
      for (const w of workloads) {
        const list = impls.filter((i) => implApplies(i, w));
        const perImpl = new Map<ImplName, Result[]>();
        const errors = new Map<ImplName, string>();
        for (let round = 0; round < rounds; round++) {
          const order = round % 2 === 0 ? list : [...list].reverse();
          for (const impl of order) {
            if (errors.has(impl)) continue;
            if (impl.startsWith("gradc") && compileErrors.has(w.name)) {
              errors.set(impl, `the spec did not compile: ${compileErrors.get(w.name)}`);
              continue;
            }
            const t = Date.now();
            try {
              // the verification run counts in round 1; later rounds only time (a few steps of it warm up)
              const verify = round === 0 ? verifySteps(w) : Math.min(verifySteps(w), 5);
              const r = await runChild(w, impl, impl.startsWith("gradc") ? path.join(tmp, `${w.name}.js`) : undefined, verify);
              (perImpl.get(impl) ?? perImpl.set(impl, []).get(impl)!).push(r);
              log(`  ${w.name.padEnd(8)} ${impl.padEnd(11)} ${fmtMs(r.median).padStart(9)} ms/step  loss ${fmtLoss(r.verifyLoss)}  (${((Date.now() - t) / 1000).toFixed(1)} s)`);
            } catch (e) {
              errors.set(impl, (e as Error).message);
              log(`  ${w.name.padEnd(8)} ${impl.padEnd(11)} ${(e as Error).message.includes("skipped:") ? "" : "FAILED: "}${(e as Error).message}`);
            }
          }
        }
        for (const impl of list) {
          const rs = perImpl.get(impl);
          if (rs && rs.length) {
            const best = rs.reduce((a, b) => (b.median < a.median ? b : a)); // the least disturbed round
            // losses from round 1's full verification run
            const r = { ...best, firstLoss: rs[0]!.firstLoss, verifyLoss: rs[0]!.verifyLoss, verifySteps: rs[0]!.verifySteps };
            outcomes.set(`${w.name}/${impl}`, { ok: true, r, rounds: rs });
          } else outcomes.set(`${w.name}/${impl}`, { ok: false, error: errors.get(impl) ?? "no result" });
        }
      }
    }
    // --- gradc vs hand-written, interleaved in one process (steadier ratios on a noisy machine)
    if (!codesizeOnly && impls.includes("gradc") && impls.includes("hand") && workloads.some((w) => implApplies("hand", w) && !compileErrors.has(w.name))) {
      log("gradc vs hand-written, interleaved in one process …");
      const abRuns = quick ? 10 : 30;
      await new Promise<void>((resolve) => {
        const child = spawn(
          process.execPath,
          ["--import", "tsx", path.join("bench", "ab.ts"), ...workloads.filter((w) => implApplies("hand", w) && !compileErrors.has(w.name)).map((w) => w.name), "--js-dir", tmp, "--json", "--runs", String(abRuns), "--ms", quick ? "10" : "20"],
          { cwd: REPO, stdio: ["ignore", "pipe", "pipe"] },
        );
        let out = "";
        let err = "";
        child.stdout.on("data", (d) => (out += d));
        child.stderr.on("data", (d) => (err += d));
        child.on("close", (code) => {
          for (const line of out.split("\n"))
            if (line.startsWith("RESULT ")) {
              const r = JSON.parse(line.slice(7));
              ab.set(r.workload, r);
              log(`  ${r.workload.padEnd(8)} hand/gradc ${(r.hand / r.gradc).toFixed(2)}× (minima ${(r.handMin / r.gradcMin).toFixed(2)}×)`);
            }
          if (code !== 0) log(`  interleaved comparison failed: ${err.trim().split("\n").slice(0, 3).join(" | ")}`);
          resolve();
        });
      });
    }
    // --- the user's step (issue #13): module SGD, trainStep SGD/Adam, fit, TF.js Adam, jax-js Adam interleaved in one process
    const stepWorkloads = workloads.filter((w) => w.name === "mnist" || w.name === "deep").map((w) => w.name);
    if (!codesizeOnly && impls.includes("gradc") && impls.includes("gradc-adam") && stepWorkloads.length) {
      log("the user's step, interleaved in one process …");
      const rows = ["gradc", "gradc-sgd", "gradc-adam", "gradc-fit", ...impls.filter((i) => i === "tfjs-wasm-adam" || i === "jax-wasm-adam")];
      await new Promise<void>((resolve) => {
        const child = spawn(
          process.execPath,
          ["--import", "tsx", path.join("bench", "step-ab.ts"), ...stepWorkloads, "--js-dir", tmp, "--json", "--impls", rows.join(","), "--runs", quick ? "5" : "15", "--ms", quick ? "20" : "60"],
          { cwd: REPO, stdio: ["ignore", "pipe", "pipe"] },
        );
        let out = "";
        let err = "";
        child.stdout.on("data", (d) => (out += d));
        child.stderr.on("data", (d) => (err += d));
        child.on("close", (code) => {
          for (const line of out.split("\n"))
            if (line.startsWith("RESULT ")) {
              const r = JSON.parse(line.slice(7)) as StepAb;
              stepAb.push(r);
              const adamRow = r.rows.find((x) => x.impl === "gradc-adam");
              log(`  ${r.workload.padEnd(8)} trainStep+Adam ÷ module SGD ${adamRow ? (adamRow.median / r.rows[0]!.median).toFixed(2) : "—"}× (load ${r.load})`);
            }
          if (code !== 0) log(`  interleaved step comparison failed: ${err.trim().split("\n").slice(0, 3).join(" | ")}`);
          resolve();
        });
      });
    }
    if (codesize) {
      log("code size vs width and depth …");
      sizeRows = await runCodesize({ ...(quick ? { widths: [64, 256], depths: [1, 2, 4], reps: 1 } : {}), log });
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  const loadEnd = os.loadavg().map((x) => x.toFixed(2)).join(" ");
  const elapsed = (Date.now() - t0) / 1000;

  // ------------------------------------------------------------ tables
  const warnings: string[] = [];
  const notes: string[] = [];
  const mainRows: string[][] = [];
  const convRows: string[][] = [];
  const targets: string[] = [];
  const ratioOf = (w: string, impl: ImplName): number | undefined => {
    const g = outcomes.get(`${w}/gradc`);
    const o = outcomes.get(`${w}/${impl}`);
    return g?.ok && o?.ok ? o.r.median / g.r.median : undefined;
  };
  for (const w of codesizeOnly ? [] : workloads) {
    // the SGD rows' loss reference: the C reference where there is one (lenet), else gradc's module step, else hand-written
    const sgdRef = [...(w.convs ? [outcomes.get(`${w.name}/c-direct`)] : []), outcomes.get(`${w.name}/gradc`), outcomes.get(`${w.name}/hand`)].find((o) => o?.ok) as
      | { ok: true; r: Result }
      | undefined;
    const adamRef = outcomes.get(`${w.name}/gradc-adam`);
    for (const impl of impls) {
      // Adam rows agree with gradc's Adam; the fit row walks shuffled epochs (another path): its loss is not compared
      const ref = impl === "gradc-fit" ? undefined : ADAM_IMPLS.includes(impl) ? (adamRef?.ok ? adamRef : undefined) : sgdRef;
      const o = outcomes.get(`${w.name}/${impl}`);
      if (!o) continue;
      if (!o.ok) {
        const skipped = o.error.includes("skipped:");
        if (w.convs) convRows.push([IMPL_LABEL[impl], skipped ? "skipped" : "FAILED", "", "", "", "", "", "", "", "", ""]);
        else mainRows.push([w.name, IMPL_LABEL[impl], skipped ? "skipped" : "FAILED", "", "", "", "", "", "", "", "", ""]);
        (skipped ? notes : warnings).push(`${w.name} / ${IMPL_LABEL[impl]}: ${skipped ? "" : "failed — "}${o.error}`);
        continue;
      }
      const r = o.r;
      // Adam rows against gradc's Adam row; the SGD rows against gradc's module step
      const adamBase = adamRef?.ok ? adamRef.r.median : undefined;
      const ratio = ADAM_IMPLS.includes(impl) ? (adamBase === undefined ? undefined : r.median / adamBase) : ratioOf(w.name, impl);
      let agree = "—";
      if (ref && ref.r !== r) {
        const d = Math.abs(r.verifyLoss - ref.r.verifyLoss);
        const rel = d / Math.max(Math.abs(ref.r.verifyLoss), 1e-30);
        const d0 = Math.abs(r.firstLoss - ref.r.firstLoss) / Math.max(Math.abs(ref.r.firstLoss), 1e-30);
        agree = rel.toExponential(1);
        if (!(d <= rtol * Math.abs(ref.r.verifyLoss) + atol) || !(d0 <= rtol)) {
          agree += " ⚠";
          warnings.push(
            `${w.name} / ${IMPL_LABEL[impl]}: loss after ${r.verifySteps} steps ${fmtLoss(r.verifyLoss)} vs ${IMPL_LABEL[ref.r.impl]} ${fmtLoss(ref.r.verifyLoss)} ` +
              `(rel ${rel.toExponential(2)}; first-step loss rel ${d0.toExponential(2)}) — outside rtol ${rtol} + atol ${atol}`,
          );
        }
        if (r.checksum !== ref.r.checksum) warnings.push(`${w.name} / ${IMPL_LABEL[impl]}: data/init checksum ${r.checksum} ≠ ${ref.r.checksum}`);
      }
      if (r.timedLossSpread !== 0 && !impl.startsWith("jax") && !impl.startsWith("tfjs"))
        warnings.push(`${w.name} / ${IMPL_LABEL[impl]}: timed runs from the same weights ended with different losses (spread ${r.timedLossSpread})`);
      if (w.convs) {
        const c = outcomes.get(`${w.name}/c-direct`);
        const g = outcomes.get(`${w.name}/gradc`);
        convRows.push([
          IMPL_LABEL[impl],
          fmtMs(r.median),
          `${fmtMs(r.p25)}–${fmtMs(r.p75)}`,
          fmtMs(r.min),
          fmtRate((w.batch * 1000) / r.median),
          c?.ok ? (impl === "c-direct" ? "1 (ref)" : fmtRatio(r.median / c.r.median)) : "—",
          g?.ok && !ADAM_IMPLS.includes(impl) ? (impl === "gradc" ? "1" : fmtRatio(r.median / g.r.median)) : "—",
          fmtLoss(r.verifyLoss),
          ref && ref.r === r ? "(ref)" : agree,
          r.peakRssMB.toFixed(0),
          impl.startsWith("c-") ? "—" : String(r.gcsDuringTimed),
        ]);
        continue;
      }
      mainRows.push([
        w.name,
        IMPL_LABEL[impl],
        fmtMs(r.median),
        `${fmtMs(r.p25)}–${fmtMs(r.p75)}`,
        fmtMs(r.min),
        fmtRate((w.batch * 1000) / r.median),
        impl === "gradc" || impl === "gradc-adam" ? "1 (ref)" : ratio === undefined ? "—" : fmtRatio(ratio),
        fmtLoss(r.verifyLoss),
        agree,
        r.peakRssMB.toFixed(0),
        r.rssTrainDeltaMB.toFixed(1),
        String(r.gcsDuringTimed),
      ]);
    }
  }
  const convTable = table(
    ["implementation", "ms/step", "IQR", "min", "examples/s", "÷ C direct", "÷ gradc", "loss after N", "rel. diff vs C", "peak RSS MB", "GCs"],
    convRows,
    ["l", "r", "r", "r", "r", "r", "r", "r", "r", "r", "r"],
  );
  const mainTable = table(
    ["workload", "implementation", "ms/step", "IQR", "min", "examples/s", "peer/gradc", "loss after N", "rel. diff", "peak RSS MB", "ΔRSS MB", "GCs"],
    mainRows,
    ["l", "l", "r", "r", "r", "r", "r", "r", "r", "r", "r", "r"],
  );

  // targets
  const check = (ok: boolean | undefined, text: string) => targets.push(`- ${ok === undefined ? "n/a " : ok ? "PASS" : "**FAIL**"} — ${text}`);
  if (!codesizeOnly) {
    for (const w of workloads.filter((w) => implApplies("hand", w))) {
      const r = ratioOf(w.name, "hand");
      const a = ab.get(w.name);
      const ar = a ? a.hand / a.gradc : undefined;
      const judged = ar ?? r; // the interleaved ratio when there is one
      check(
        judged === undefined ? undefined : judged >= 1,
        `${w.name}: gradc ≥ 1.0× hand-written JS (interleaved in one process: ${ar === undefined ? "—" : fmtRatio(ar)}; separate processes: ${r === undefined ? "—" : fmtRatio(r)})`,
      );
    }
    for (const wn of ["xor", "lecture"]) {
      if (!workloads.some((w) => w.name === wn)) continue;
      for (const impl of ["tfjs-cpu", "jax-wasm"] as ImplName[]) {
        const r = ratioOf(wn, impl);
        check(r === undefined ? undefined : r >= 300, `${wn}: gradc ≥ 300× ${IMPL_LABEL[impl]} (measured ${r === undefined ? "—" : fmtRatio(r)})`);
      }
    }
    if (workloads.some((w) => w.name === "mnist")) {
      const h = ratioOf("mnist", "hand");
      const t = ratioOf("mnist", "tfjs-cpu");
      check(h === undefined || t === undefined ? undefined : h >= 1 && t > 1, `mnist: as fast as hand-written JS and faster than tfjs cpu (measured ${h === undefined ? "—" : fmtRatio(h)} and ${t === undefined ? "—" : fmtRatio(t)})`);
    }
    // The user's step, interleaved in one process (bench/step-ab.ts): the steadier measurement of the same targets.
    for (const r of stepAb) {
      const at = (impl: string) => r.rows.find((x) => x.impl === impl)?.median;
      const g = at("gradc");
      const a = at("gradc-adam");
      if (g !== undefined && a !== undefined)
        check(a / g <= 1.15, `${r.workload} (interleaved): gradc trainStep with Adam ≤ 1.15× the module's own SGD step (measured ${fmtRatio(a / g)})`);
      for (const [impl, want] of [["jax-wasm-adam", 2.5], ["tfjs-wasm-adam", 10]] as [ImplName, number][]) {
        const o = at(impl);
        if (o !== undefined && a !== undefined) check(o / a >= want, `${r.workload} (interleaved): gradc trainStep with Adam ≥ ${want}× ${IMPL_LABEL[impl]} (measured ${fmtRatio(o / a)})`);
      }
    }
    // The user's step (issue #13): trainStep with Adam within 1.15× of the module's own SGD step, ≥ 2.5× jax-js Adam, ≥ 10× TF.js wasm Adam.
    for (const wn of ["mnist", "deep"]) {
      if (!workloads.some((w) => w.name === wn)) continue;
      const g = outcomes.get(`${wn}/gradc`);
      const a = outcomes.get(`${wn}/gradc-adam`);
      const over = g?.ok && a?.ok ? a.r.median / g.r.median : undefined;
      if (impls.includes("gradc-adam") && impls.includes("gradc"))
        check(over === undefined ? undefined : over <= 1.15, `${wn}: gradc trainStep with Adam ≤ 1.15× the module's own SGD step (measured ${over === undefined ? "—" : fmtRatio(over)})`);
      for (const [impl, want] of [["jax-wasm-adam", 2.5], ["tfjs-wasm-adam", 10]] as [ImplName, number][]) {
        const o = outcomes.get(`${wn}/${impl}`);
        const r = a?.ok && o?.ok ? o.r.median / a.r.median : undefined;
        if (impls.includes(impl) && impls.includes("gradc-adam"))
          check(r === undefined ? undefined : r >= want, `${wn}: gradc trainStep with Adam ≥ ${want}× ${IMPL_LABEL[impl]} (measured ${r === undefined ? "—" : fmtRatio(r)})`);
      }
    }
    // The conv issue's targets (#16): the LeNet step ≥ 50× TF.js wasm, ≥ 100× jax-js wasm, within 1.5× of the C -O3 -march=native reference.
    for (const w of workloads.filter((w) => w.convs)) {
      const g = outcomes.get(`${w.name}/gradc`);
      for (const [impl, want] of [["tfjs-wasm", 50], ["jax-wasm", 100]] as [ImplName, number][]) {
        if (!impls.includes(impl) || !impls.includes("gradc")) continue;
        const r = ratioOf(w.name, impl);
        check(r === undefined ? undefined : r >= want, `${w.name}: gradc ≥ ${want}× ${IMPL_LABEL[impl]} (measured ${r === undefined ? "—" : fmtRatio(r)})`);
      }
      const c = outcomes.get(`${w.name}/c-direct`);
      if (impls.includes("c-direct") && impls.includes("gradc")) {
        const r = g?.ok && c?.ok ? g.r.median / c.r.median : undefined;
        check(r === undefined ? undefined : r <= 1.5, `${w.name}: gradc within 1.5× of ${IMPL_LABEL["c-direct"]} (gradc ÷ C measured ${r === undefined ? "—" : fmtRatio(r)})`);
      }
    }
    // The wasm issue's targets: at MNIST scale, at least 2× jax-js and 6× TensorFlow.js wasm.
    for (const wn of ["mnist", "deep"]) {
      if (!workloads.some((w) => w.name === wn)) continue;
      for (const [impl, want] of [["jax-wasm", 2], ["tfjs-wasm", 6]] as [ImplName, number][]) {
        const r = ratioOf(wn, impl);
        check(r === undefined ? undefined : r >= want, `${wn}: gradc ≥ ${want}× ${IMPL_LABEL[impl]} (measured ${r === undefined ? "—" : fmtRatio(r)})`);
      }
    }
  }

  const compileRows = [...compiled.entries()].map(([name, c]) => [
    name,
    c.ms.toFixed(0),
    c.loadMs.toFixed(0),
    c.compileMs.toFixed(0),
    c.importMs.toFixed(0),
    String(c.tsLines),
    c.tsBytes.toLocaleString("en-US"),
    String(c.jsLines),
    c.jsBytes.toLocaleString("en-US"),
    String(Number(/(\d+) WebAssembly SIMD kernel/.exec(c.ts)?.[1] ?? 0)),
  ]);
  const comp = table(
    ["workload", "total ms", "loadSpec", "compile", "import", "TS lines", "TS bytes", "JS lines", "JS bytes", "wasm kernels"],
    compileRows,
    ["l", "r", "r", "r", "r", "r", "r", "r", "r", "r"],
  );
  const sizes = sizeRows.length ? codesizeMarkdown(sizeRows) : "";
  const bundles = bundleSizeMarkdown(await bundleSizes()); // esbuild, under a second
  const abTable = table(
    ["workload", "gradc ms/step", "hand ms/step", "hand/gradc (medians)", "hand/gradc (minima)", "steps × runs each"],
    [...ab.values()].map((a) => [
      a.workload,
      fmtMs(a.gradc),
      fmtMs(a.hand),
      fmtRatio(a.hand / a.gradc),
      fmtRatio(a.handMin / a.gradcMin),
      `${a.steps} × ${a.runs}`,
    ]),
    ["l", "r", "r", "r", "r", "r"],
  );

  const stepTables = stepAb.map((r) => {
    const base = r.rows[0]!.median;
    const adam = r.rows.find((x) => x.impl === "gradc-adam")?.median;
    return {
      title: `${r.workload}: ${r.runs} interleaved runs per row, load average (1 min) ${r.load}`,
      t: table(
        ["implementation", "ms/step", "min", "÷ module SGD", "÷ gradc trainStep Adam", "loss at the end of a run"],
        r.rows.map((x) => [x.label, fmtMs(x.median), fmtMs(x.min), fmtRatio(x.median / base), adam === undefined ? "—" : fmtRatio(x.median / adam), fmtLoss(x.loss)]),
        ["l", "r", "r", "r", "r", "r"],
      ),
    };
  });

  // ------------------------------------------------------------ stdout
  const say = (s = "") => process.stdout.write(s + "\n");
  if (!codesizeOnly) {
    say();
    if (mainRows.length) say(mainTable.text + "\n");
    say(`peer/gradc = peer ms/step ÷ gradc ms/step (> 1: gradc is faster). Loss agreement: rtol ${rtol} + atol ${atol} vs ${"gradc"}.`);
    if (convRows.length) {
      say();
      say(`Convolutional network (lenet), load average at the end ${os.loadavg().map((x) => x.toFixed(2)).join(" ")}:`);
      say(convTable.text);
      say(`÷ C direct = row ms/step ÷ the C direct reference's; loss agreement: rtol ${rtol} + atol ${atol} vs the C reference.`);
    }
    if (ab.size) {
      say();
      say("gradc vs hand-written, interleaved in one process:");
      say(abTable.text);
    }
    for (const st of stepTables) {
      say();
      say(`The user's step, ${st.title}:`);
      say(st.t.text);
    }
    if (compileRows.length) {
      say();
      say(comp.text);
      if (cold) say(`(first compile in a fresh process, xor: ${cold.ms.toFixed(0)} ms — module loading and JIT warm-up of the compiler)`);
      if (coldWasm) {
        const again = compiled.get("small");
        say(`(first compile of a model with wasm kernels, small: ${coldWasm.ms.toFixed(0)} ms${again ? ` vs ${again.ms.toFixed(0)} ms again` : ""} — it loads the wasm encoder)`);
      }
    }
    say();
    say("Targets:");
    for (const t of targets) say(t.replace(/\*\*/g, ""));
  }
  if (sizes) {
    say();
    say(sizes);
  }
  say();
  say(bundles);
  for (const wmsg of warnings) say(`WARNING: ${wmsg}`);
  for (const n of notes) say(`note: ${n}`);
  say();
  say(`${elapsed.toFixed(0)} s; load average ${machine.loadStart} → ${loadEnd}`);

  // ------------------------------------------------------------ the conv section (also written alone by a conv-only run)
  const convNames = workloads.filter((w) => w.convs).map((w) => w.name);
  const ofConv = (line: string) => convNames.some((n) => line.startsWith(`${n} /`) || line.startsWith(`${n}:`) || line.includes(` ${n}: `));
  const convWarnings = warnings.filter(ofConv);
  const convNotes = notes.filter(ofConv);
  const convTargets = targets.filter(ofConv);
  const CONV_BEGIN = "<!-- conv section: bench/bench.ts writes it; a run of only conv workloads (--only lenet) replaces just this part -->";
  const CONV_END = "<!-- end of the conv section -->";
  // bench/CONV-ANALYSIS.md (by hand, from the runs it quotes) follows the section's numbers
  const convAnalysisFile = path.join(REPO, "bench", "CONV-ANALYSIS.md");
  const convAnalysis = existsSync(convAnalysisFile) ? readFileSync(convAnalysisFile, "utf8").trim() + "\n" : "";
  const convSection = convRows.length
    ? `${CONV_BEGIN}
## Convolutional network: LeNet on MNIST digits

Measured by \`${command}\` on ${machine.date} (gradc at commit ${machine.commit || "?"}${machine.dirty ? " with uncommitted changes in compiler/" : ""}); load average (1/5/15 min)
${machine.loadStart} at the start of the run, ${loadEnd} at its end.

${convTable.md}

${workloads.find((w) => w.convs)!.what}; the same ${workloads.find((w) => w.convs)!.nBatches} batches of real digits (npm mnist, runtime/node.ts
\`loadMnist\` seed 0) and the same initial weights (He normal for the convolutions, fan-in C·R·S) in every row; one plain SGD step
(lr ${workloads.find((w) => w.convs)!.lr}) per step, the loss read every step. **÷ C direct** = the row's median ÷ the C reference's (> 1: slower than C);
**÷ gradc** = the row's median ÷ gradc's module step; **rel. diff vs C** = relative difference of the loss after N steps from the C
reference's (⚠ outside rtol ${rtol} + atol ${atol}). The C rows are bench/c/lenet.c built by bench/impls/c.ts with the machine's gcc at bench
time (\`-O3 -march=native\`, no -ffast-math): direct convolution loops register-blocked over output channels with 8-wide inner loops
over output columns, or (\`-DUSE_BLAS\`) im2col + OpenBLAS \`cblas_sgemm\` on 1 thread (skipped with a note when gcc or
libopenblas-dev is missing); they run the same protocol as run-one.ts in their own process (peak RSS is the C process's).
TF.js cpu uses \`tf.conv2d\` + \`tf.maxPool\`; TF.js wasm cannot train \`tf.conv2d\` ("Kernel 'Conv2DBackpropFilter' not registered for
backend 'wasm'"): its convolutions are \`tf.conv3d\` over a depth of 1, its pools \`tf.maxPool\` on the 4-D view (\`tf.maxPool3d\`'s
gradient on wasm gives other numbers: loss after 2 steps 2.710062 against 2.710039 for cpu, jax-js and C). jax-js: \`lax.conv\`
(NCHW/OIHW) and \`lax.reduceWindow(…, np.max, [2, 2], [2, 2])\` under one \`jit\` with the update; its ReLU is written
\`np.where(z > 0, z, 0)\` because jax-js's \`nn.relu\` (\`maximum(x, 0)\`) has derivative 1 at 0 (JAX's, TF.js's, gradc's and C's is 0),
and this workload has exact zeros there (blank pixels, zero initial biases).

${convWarnings.length ? convWarnings.map((w) => `- ⚠ ${w}`).join("\n") : "Every row reached the C reference's loss within tolerance."}${convNotes.length ? "\n" + convNotes.map((n) => `- note: ${n}`).join("\n") : ""}

Targets (issue #16):

${convTargets.length ? convTargets.join("\n") : "(gradc not run)"}
${convAnalysis ? "\n" + convAnalysis : ""}${CONV_END}

`
    : "";
  // a run of only conv workloads (npm run bench -- --only lenet) replaces the conv section of BENCHMARKS.md in place
  const convOnly = !codesizeOnly && workloads.length > 0 && workloads.every((w) => w.convs);
  if (convOnly && convSection && !quick && !val("impls") && !write && !has("no-write") && existsSync(outFile)) {
    const old = readFileSync(outFile, "utf8");
    const i = old.indexOf(CONV_BEGIN);
    const j = old.indexOf(CONV_END);
    const anchor = old.indexOf("## Compile time and code size vs width and depth");
    const next =
      i >= 0 && j > i
        ? old.slice(0, i) + convSection.trimEnd() + old.slice(j + CONV_END.length)
        : anchor >= 0
          ? old.slice(0, anchor) + convSection + old.slice(anchor)
          : old.trimEnd() + "\n\n" + convSection;
    writeFileSync(outFile, next);
    log(`wrote the conv section of ${path.relative(REPO, outFile)} (the rest is the last full run's)`);
    return;
  }

  // ------------------------------------------------------------ BENCHMARKS.md
  if (!write) {
    log(`(not writing ${path.relative(REPO, outFile)}: partial run; pass --write to write it anyway)`);
    return;
  }
  const workloadTable = table(
    ["workload", "spec", "network", "lr", "batches", "verify steps"],
    workloads.map((w) => [w.name, `\`${w.spec}\``, w.what, String(w.lr), String(w.nBatches), String(verifySteps(w))]),
    ["l", "l", "l", "r", "r", "r"],
  );
  const infos = codesizeOnly
    ? []
    : [...new Set(impls)].flatMap((impl) => {
        const o = [...outcomes.entries()].find(([k, v]) => k.endsWith(`/${impl}`) && v.ok)?.[1];
        return o?.ok ? [`- ${IMPL_LABEL[impl]}: ${Object.entries(o.r.info).map(([k, v]) => `${k} ${v}`).join(", ")}`] : [];
      });
  const analysisFile = path.join(REPO, "bench", "ANALYSIS.md");
  const analysis = existsSync(analysisFile) ? readFileSync(analysisFile, "utf8").trim() + "\n" : "";
  // The compile-time table of `npm run bench:compile` (bench/compile.ts), kept across runs of this bench.
  const compileFile = path.join(REPO, "bench", "COMPILE.md");
  const compileMd = existsSync(compileFile) ? readFileSync(compileFile, "utf8").trim() + "\n" : "";
  // The threads table of `npm run bench:threads -- --write` (bench/threads-ab.ts), kept across runs of this bench.
  const threadsFile = path.join(REPO, "bench", "THREADS.md");
  const threadsMd = existsSync(threadsFile) ? readFileSync(threadsFile, "utf8").trim() + "\n" : "";
  const sizesFile = path.join(REPO, "bench", "SIZES.md"); // written by npm run test:consumer -- --write
  const packageSizes = existsSync(sizesFile) ? readFileSync(sizesFile, "utf8").trim() + "\n" : "";
  const md = `# Benchmarks

Generated by \`${command}\` (bench/bench.ts) — do not edit by hand; rerun it.

- Date: ${machine.date}
- Machine: ${machine.nproc} cores (\`nproc\`), ${machine.cpu} (/proc/cpuinfo), ${machine.memGiB} GiB; Node ${machine.node}
- Load average (1/5/15 min) at start ${machine.loadStart}, at end ${loadEnd} — the machine is shared: treat ±20% as noise
- gradc at commit ${machine.commit || "?"}${machine.dirty ? " with uncommitted changes in compiler/" : ""}
- Total time of the run: ${elapsed.toFixed(0)} s

## Training step: gradc vs the rest

${mainTable.md}

**ms/step** = median over the timed runs (**IQR** = 25th–75th percentile, **min** = fastest run).
**peer/gradc** = the peer's median ms/step ÷ gradc's (> 1 means gradc is faster); the Adam rows (same hyperparameters:
lr ${"1e-3"}, β ${"0.9/0.999"}, ε ${"1e-8"}) are divided by gradc's \`trainStep\` with Adam, the others by gradc's module step with plain SGD; the \`fit\` row is one
epoch of shuffled batches per \`fit\` call (ms/step = wall time ÷ steps), its loss not compared (another order of batches). **examples/s** = batch size ÷ median step time.
**loss after N** = the loss of the last of N SGD steps from the shared initial weights (N = "verify steps" below);
**rel. diff** = its relative difference from gradc's; ⚠ marks a difference outside rtol ${rtol} + atol ${atol}
(float32 everywhere, different summation orders and exp/log implementations, compounded over N steps).
**peak RSS** = the process's peak resident set (VmHWM) — the whole Node process with tsx, its library, data and training;
**ΔRSS** = RSS growth during the timed runs over the RSS after setup and warm-up (sampled after every run);
**GCs** = garbage collections during the timed runs (a PerformanceObserver on "gc"), 0 for a zero-allocation step.

${
  ab.size
    ? `### gradc vs hand-written, interleaved in one process

${abTable.md}

The same two step loops as above, alternating in ONE process (A B A B …, ${[...ab.values()][0]!.runs} runs each, every run from the initial
weights; bench/ab.ts): both see the same machine load, so on a shared machine this ratio is much steadier than the one from
separate processes. The ≥ 1.0× target below is judged on it.

`
    : ""
}${
  stepTables.length
    ? `### The user's step: the trainer with Adam, interleaved in one process

${stepTables.map((st) => `${st.title}\n\n${st.t.md}`).join("\n\n")}

The module's own SGD step (forward + backward + its wasm \`sgd\`, the batch copied into its input buffer), gradc's
\`trainStep\` with plain SGD and with Adam, \`fit\` with Adam over epochs of shuffled batches, TF.js wasm with
\`tf.train.adam\` and jax-js with Adam inside its jitted step — created in ONE process (bench/step-ab.ts) and run in
rotating order, every run from the initial weights, so every row sees the same machine load. Adam: lr 1e-3, β 0.9/0.999,
ε 1e-8 in every implementation. Each row's steps per run are calibrated to ~60 ms of its own time, so its end-of-run loss
is that of its own step count.

`
    : ""
}${convSection}${warnings.length ? "### Warnings\n\n" + warnings.map((w) => `- ${w}`).join("\n") + "\n" : "No warnings: every implementation reached its reference's loss within tolerance.\n"}${notes.length ? "\n" + notes.map((n) => `- note: ${n}`).join("\n") + "\n" : ""}
### Targets

${targets.join("\n")}

### gradc compile time and generated code size

${comp.md}

Wall ms in one process: \`loadSpec\` (esbuild bundles the spec) + \`compile\` (autodiff … emit, incl. esbuild and the wasm kernels) + \`importModule\`.
${cold ? `Each is measured after a first compile in the same process (xor, cold: ${cold.ms.toFixed(0)} ms, mostly loading the compiler's modules and warming the JIT)` : ""}${
    coldWasm
      ? ` and a first compile of a model with wasm kernels (small: ${coldWasm.ms.toFixed(0)} ms${compiled.get("small") ? `, against ${compiled.get("small")!.ms.toFixed(0)} ms the second time` : ""}: the difference is loading the wasm encoder and warming its JIT).`
      : "."
  }

## Compile time and code size vs width and depth

${sizes || "(not run)"}

## Browser bundle size

${bundles}

\`esbuild --bundle --minify --platform=browser\` of a page that imports generated/mnist.js and predicts (inference:
\`layout\`, \`buffers\`, \`forward\`) or trains it (training: the module's \`createTrainer\`, \`adam\`, \`fitAsync\`), from
examples/browser/size.ts (\`npx tsx examples/browser/size.ts\` lists every input). Of the generated module's part, the wasm
kernels' bytecode, embedded as base64 text, is the column before last; the rest is the layout and the JS that drives the
kernels: forward (inference), or forward, backward and sgd (training). In training, runtime/trainer.ts is the largest part; runtime/checkpoint.ts comes along because the trainer's
save/restore reference it. "stub:" parts are the temporary stubs for the Node-only modules that runtime/index.ts still
re-exports (examples/browser/build.ts; they go with the browser-safe runtime split).

## Workloads

${workloadTable.md}

Data: xor and lecture train on the XOR table (xor: all 4 patterns per step; lecture: one pattern per step, in order);
small, mnist and deep on 4 seeded batches of inputs uniform in [0,1) with random one-hot targets (bench/lib/workloads.ts).
Initial weights: He normal / Glorot uniform as the specs declare, zero biases, drawn once from a seeded PRNG; every
implementation copies the same Float32 values into its own layout (each process prints a checksum of weights + data and
the driver checks they agree).

## Method

- Each (workload, implementation) pair runs in a fresh Node process (\`bench/run-one.ts\`), ${rounds} time(s) in alternating
  order; the table shows the round with the lowest median.
- In a process: a verification run (N steps from the initial weights, recording the loss; in later rounds 5 steps), warm-up up to ${warmupMs} ms in all,
  then ${repeats} timed runs of a fixed step count calibrated to ~${targetMs} ms each, every run restarting from the initial weights
  (the reset is not timed). ms/step = run wall time ÷ steps; the table reports the median and the interquartile range.
- A step = forward + backward + plain SGD update + reading the loss, on the next batch.
  gradc and hand-written: the same \`p -= lr*g\` loop (bench/lib/sgd.ts). gradc modules with wasm kernels get their batch
  copied into the module's own input buffer every step (inside the timed step).
  TensorFlow.js: variables + \`tf.train.sgd(lr).minimize(loss, true, vars)\` + \`cost.dataSync()\`.
  jax-js: one \`jit\` around \`valueAndGrad(loss)\` and the update \`p - lr*g\`, loss read with \`dataSync()\` every step
  (letting jax-js's lazy dispatch queue up steps was much slower).
- gradc is compiled in the driver process (\`loadSpec\` + \`compile\` + \`importModule\`, as \`gradc check\` does) and its JS
  handed to the child.
- Implementations as run:
${infos.map((i) => "  " + i).join("\n")}
- hand-written JS (bench/handwritten/): scalar straight-line code for xor/lecture; for the MLPs register-blocked matmuls
  (4×4 output tiles in 16 locals, reduction innermost) with bias+ReLU fused into the epilogue, softmax-CE fused with its
  gradient, zero allocation per step. "hand-written, naive i-k-j" is the textbook loop order over the same buffers.

Reproduce: \`npm run bench\` (installs bench/'s pinned peers with \`npm ci\` first). Smoke run: \`npm run bench -- --quick\`.
${packageSizes ? `\n## Package size (bench/SIZES.md)\n\n${packageSizes}` : ""}${analysis ? `\n## Where the time goes, and where gradc falls short (bench/ANALYSIS.md)\n\n${analysis}` : ""}${compileMd ? `\n${compileMd}` : ""}${threadsMd ? `\n${threadsMd}` : ""}`;
  writeFileSync(outFile, md);
  log(`wrote ${path.relative(REPO, outFile)}`);
}

main().catch((e) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
  process.exit(1);
});
