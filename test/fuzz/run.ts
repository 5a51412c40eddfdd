/**
 * `npm run fuzz [-- --runs N --seed S --batch K --workers W --start B --keep-going]`
 *
 * The long fuzz run: N random graphs (default 100,000) in batches of K
 * (default 50), each batch one model compiled five ways (float64/float32 ×
 * unrolled/loops, and float32 with every matmul of 4+ rows a wasm SIMD
 * kernel) plus Hessian-vector products on every 4th graph and K
 * random formulas against mathjs — see test/fuzz/check.ts for the checks.
 * Batch b of seed S is always the same graphs, so a failure replays with
 * `--seed S --start b`; a failing graph is shrunk by fast-check and printed
 * as a case for test/fuzz/regressions.test.ts. Graphs that hit a known,
 * reported bug (test/fuzz/known.ts) are counted, not failed.
 */
import { fork } from "node:child_process";

const { batchAt } = await import("./batch.ts");
const { checkFormula } = await import("./formulas.ts");
const { triage, shrinkGroup, buildsOf } = await import("./shrink.ts");
const { KNOWN_BUGS } = await import("./known.ts");
type BuildName = import("./check.ts").BuildName;

interface Args {
  runs: number;
  seed: number;
  batch: number;
  workers: number;
  start: number;
  keepGoing: boolean;
  worker?: number;
}

function parse(argv: string[]): Args {
  const a: Args = { runs: 100_000, seed: Math.floor(Math.random() * 2 ** 31), batch: 50, workers: 1, start: 0, keepGoing: false };
  for (let i = 0; i < argv.length; i++) {
    const [k, inline] = argv[i]!.split("=", 2) as [string, string | undefined];
    const val = () => Number(inline ?? argv[++i]);
    if (k === "--runs") a.runs = val();
    else if (k === "--seed") a.seed = val();
    else if (k === "--batch") a.batch = val();
    else if (k === "--workers") a.workers = val();
    else if (k === "--start") a.start = val();
    else if (k === "--worker") a.worker = val();
    else if (k === "--keep-going") a.keepGoing = true;
    else {
      process.stderr.write(`unknown option ${k}\nusage: npm run fuzz -- [--runs N] [--seed S] [--batch K] [--workers W] [--start B] [--keep-going]\n`);
      process.exit(2);
    }
  }
  for (const k of ["runs", "seed", "batch", "workers", "start"] as const)
    if (!Number.isInteger(a[k]) || a[k] < (k === "seed" || k === "start" ? 0 : 1)) {
      process.stderr.write(`--${k} must be a whole number\n`);
      process.exit(2);
    }
  return a;
}


type Msg =
  | { t: "batch"; graphs: number; formulas: number; known: Record<string, number>; f32Worst: number }
  | { t: "fail"; text: string };

/** Runs the batches b = start + worker, start + worker + workers, … ; reports each through `report`. */
async function work(a: Args, worker: number, report: (m: Msg) => void): Promise<number> {
  const batches = Math.ceil(a.runs / a.batch);
  let failed = 0;
  for (let b = a.start + worker; b < a.start + batches; b += a.workers) {
    const k = Math.min(a.batch, a.runs - (b - a.start) * a.batch);
    const { recipes, formulas } = batchAt(a.seed, b, a.batch);
    const opts = { hvpEvery: 4, builds: ["f64", "f64 loops", "f32", "f32 loops", "f32 wasm"] as BuildName[] };
    const t = await triage(recipes.slice(0, k), opts);
    const known: Record<string, number> = {};
    for (const x of t.known) known[x.bug.id] = (known[x.bug.id] ?? 0) + 1;
    const formulaProblems = formulas.slice(0, k).flatMap((f) => checkFormula(f).map((p) => ({ f, p })));
    report({ t: "batch", graphs: k, formulas: k, known, f32Worst: t.result.f32Worst });
    for (const f of t.failures) {
      failed++;
      const log = (m: string) => process.stderr.write(`  ${m}\n`);
      const sOpts = { ...opts, hvpEvery: f.problems.some((p) => p.includes("H v")) ? 1 : 0, builds: buildsOf(f.problems) };
      // Alone first; a failure that needs other graphs of the batch (a shared arena, say) is shrunk with them.
      let s = await shrinkGroup([f.recipe], sOpts, log);
      if (!s.problems.length) s = await shrinkGroup(recipes.slice(0, k), sOpts, log);
      report({
        t: "fail",
        text:
          `FAILURE in batch ${b} (replay: npm run fuzz -- --seed ${a.seed} --start ${b} --runs ${a.batch}), graph ${f.index}:\n` +
          f.problems.slice(0, 8).map((p) => `  ${p}`).join("\n") +
          `\nshrunk to ${s.recipes.length} graph(s) compiled together (add to test/fuzz/regressions.test.ts):\n  ${JSON.stringify(s.recipes)}\n` +
          s.problems.slice(0, 4).map((p) => `  ${p}`).join("\n"),
      });
    }
    for (const { f, p } of formulaProblems) {
      failed++;
      report({ t: "fail", text: `FORMULA FAILURE in batch ${b}: ${p}\n  recipe ${JSON.stringify(f)}` });
    }
    if (failed && !a.keepGoing) break;
  }
  return failed;
}

const args = parse(process.argv.slice(2));

if (args.worker !== undefined) {
  // A child of a multi-worker run: report to the parent.
  const failed = await work(args, args.worker, (m) => process.send!(m));
  process.exit(failed ? 1 : 0);
} else {
  const replay = `npm run fuzz -- --runs ${args.runs} --seed ${args.seed}${args.batch !== 50 ? ` --batch ${args.batch}` : ""}${args.start ? ` --start ${args.start}` : ""}`;
  process.stdout.write(`gradc fuzz: ${args.runs} graphs + ${args.runs} formulas, batches of ${args.batch}, seed ${args.seed}, ${args.workers} worker(s)\n  replay: ${replay}\n`);
  const t0 = performance.now();
  let graphs = 0;
  let formulas = 0;
  let fails = 0;
  let f32Worst = 0;
  const known: Record<string, number> = {};
  const tty = process.stderr.isTTY;
  let lastLine = 0;
  const progress = (final = false) => {
    const s = (performance.now() - t0) / 1000;
    const rate = graphs / s;
    const eta = rate > 0 ? (args.runs - graphs) / rate : NaN;
    const kn = Object.values(known).reduce((x, y) => x + y, 0);
    const line = `[${String(graphs).padStart(String(args.runs).length)}/${args.runs} graphs, ${formulas} formulas] ${s.toFixed(0)} s, ${rate.toFixed(1)} graphs/s, eta ${Number.isFinite(eta) ? `${Math.ceil(eta / 60)} min` : "?"}, ${fails} failures, ${kn} known-bug hits, float32 worst ${(f32Worst * 100).toFixed(0)}% of tolerance`;
    if (tty) process.stderr.write(`\r${line}${final ? "\n" : ""}`);
    else if (final || performance.now() - lastLine > 10_000) {
      process.stderr.write(`${line}\n`);
      lastLine = performance.now();
    }
  };
  const onMsg = (m: Msg) => {
    if (m.t === "batch") {
      graphs += m.graphs;
      formulas += m.formulas;
      f32Worst = Math.max(f32Worst, m.f32Worst);
      for (const [k, v] of Object.entries(m.known)) known[k] = (known[k] ?? 0) + v;
      progress();
    } else {
      fails++;
      process.stderr.write(`${tty ? "\n" : ""}${m.text}\n`);
    }
  };
  if (args.workers === 1) await work(args, 0, onMsg);
  else
    await Promise.all(
      Array.from({ length: args.workers }, (_, w) => {
        const child = fork(process.argv[1]!, [...process.argv.slice(2), "--worker", String(w)], { execArgv: process.execArgv });
        child.on("message", (m) => onMsg(m as Msg));
        return new Promise<void>((resolve) => child.on("exit", () => resolve()));
      }),
    );
  progress(true);
  const secs = (performance.now() - t0) / 1000;
  process.stdout.write(
    `${graphs} graphs and ${formulas} formulas in ${secs.toFixed(0)} s (${(graphs / secs).toFixed(1)} graphs/s), seed ${args.seed}: ${fails} failure(s)\n`,
  );
  for (const b of KNOWN_BUGS) if (known[b.id]) process.stdout.write(`  known bug ${b.id}: ${known[b.id]} graph(s) set aside\n`);
  process.stdout.write(`  float32 vs float64: worst error ${(f32Worst * 100).toFixed(1)}% of the tolerance\n`);
  if (fails) process.stdout.write(`  replay: ${replay}\n`);
  process.exitCode = fails ? 1 : 0;
}
