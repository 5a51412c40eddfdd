/**
 * The C reference of the lenet workload (bench/c/lenet.c), built with the
 * machine's gcc at bench time (-O3 -march=native) as direct convolution loops
 * ("direct") or im2col + OpenBLAS sgemm on 1 thread ("blas"), and run as its
 * own process: it implements run-one.ts's protocol itself (verification,
 * warm-up, calibration, timed runs from the initial weights) on the problem
 * this file writes for it (the same weights and digits as every other row).
 *
 * Without gcc, or (blas) without OpenBLAS's headers and library (Debian:
 * `apt-get install libopenblas-dev`), `build` throws an error whose message
 * starts with "skipped:" and says why; bench.ts prints the row as skipped.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { REPO, flatParams, type Problem, type Workload } from "../lib/workloads.ts";

export type CMode = "direct" | "blas";
export const SOURCE = path.join(REPO, "bench", "c", "lenet.c");

const run = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });

/** gcc's command line for one mode (printed in the bench's info). */
export const gccArgs = (mode: CMode, batch: number, out: string): string[] => [
  "-O3",
  "-march=native",
  `-DBATCH=${batch}`,
  ...(mode === "blas" ? ["-DUSE_BLAS"] : []),
  "-o",
  out,
  SOURCE,
  ...(mode === "blas" ? ["-lopenblas"] : []),
  "-lm",
];

/** Builds (or reuses, keyed by source, mode, batch and gcc version) the binary; throws "skipped: …" when it cannot. */
export function build(mode: CMode, batch: number): { bin: string; gcc: string; flags: string } {
  let gcc: string;
  try {
    gcc = run("gcc", ["--version"]).split("\n")[0]!.trim();
  } catch {
    throw new Error("skipped: gcc not found on this machine (Debian: apt-get install gcc)");
  }
  const key = createHash("sha256").update(readFileSync(SOURCE)).update(`${mode} ${batch} ${gcc}`).digest("hex").slice(0, 16);
  const dir = path.join(os.tmpdir(), "gradc-bench-c");
  mkdirSync(dir, { recursive: true });
  const bin = path.join(dir, `lenet-${mode}-${key}`);
  const flags = gccArgs(mode, batch, "lenet").filter((a) => a.startsWith("-") && a !== "-o").join(" ");
  if (existsSync(bin)) return { bin, gcc, flags };
  const tmp = `${bin}.${process.pid}.tmp`;
  try {
    run("gcc", gccArgs(mode, batch, tmp));
  } catch (e) {
    rmSync(tmp, { force: true });
    const err = String((e as { stderr?: string }).stderr ?? (e as Error).message);
    if (mode === "blas" && /cblas\.h|-lopenblas|openblas/i.test(err))
      throw new Error("skipped: OpenBLAS not installed (Debian: apt-get install libopenblas-dev)");
    throw new Error(`gcc failed: ${err.trim().split("\n").slice(0, 3).join(" | ")}`);
  }
  renameSync(tmp, bin);
  return { bin, gcc, flags };
}

export interface CResult {
  firstLoss: number;
  verifyLoss: number;
  warmSteps: number;
  stepsPerRepeat: number;
  timedLossSpread: number;
  peakRssKB: number;
  msPerStep: number[];
}

/** Writes the problem (weights in spec order, then x, y per batch) and runs the binary's protocol. */
export function runC(
  w: Workload,
  p: Problem,
  bin: string,
  o: { verifySteps: number; repeats: number; targetMs: number; warmupMs: number },
): CResult {
  if (!w.convs) throw new Error(`${w.name}: the C reference is the lenet workload's only`);
  const file = path.join(os.tmpdir(), `gradc-bench-lenet-${process.pid}.f32`);
  const parts = [flatParams(p), ...p.batches.flatMap((b) => [b.x, b.y])];
  writeFileSync(file, Buffer.concat(parts.map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength))));
  try {
    const env = { ...process.env, OPENBLAS_NUM_THREADS: "1", OMP_NUM_THREADS: "1" };
    const out = execFileSync(
      bin,
      [file, String(p.batches.length), String(w.lr), String(o.verifySteps), String(o.repeats), String(o.targetMs), String(o.warmupMs)],
      { encoding: "utf8", env, stdio: ["ignore", "pipe", "pipe"], timeout: 300_000 },
    );
    const line = out.split("\n").find((l) => l.startsWith("RESULT "));
    if (!line) throw new Error(`${path.basename(bin)} printed no RESULT line`);
    return JSON.parse(line.slice(7)) as CResult;
  } finally {
    rmSync(file, { force: true });
  }
}
