import { checkModel, formatReport } from "../check.ts";
import { parseArgs } from "./args.ts";
import { GradcError } from "../errors.ts";
import { loadSpec, specTimeoutMs } from "../frontend/load.ts";

/**
 * `gradc check <spec.ts> [--seed N] [--points N] [--samples N] [--json]`: every element of a
 * param up to --samples elements, else --samples random ones, at --points random points.
 */
export async function checkCommand(argv: string[]): Promise<number> {
  const { flags, bools, positional } = parseArgs(argv, { flags: ["seed", "points", "samples", "spec-timeout"], bools: ["json"] });
  if (positional.length !== 1) throw new GradcError("E_CLI", "check takes one spec file", { hint: "gradc check examples/xor/model.ts" });
  const int = (k: string, d: number) => {
    const v = flags.get(k)?.at(-1);
    if (v === undefined) return d;
    if (!/^\d+$/.test(v)) throw new GradcError("E_CLI", `--${k} must be a whole number, got '${v}'`);
    return Number(v);
  };
  const timeout = flags.get("spec-timeout")?.at(-1);
  const model = await loadSpec(positional[0]!, timeout === undefined ? {} : { timeoutMs: specTimeoutMs(timeout) });
  // A progress line for long checks, on a terminal only.
  const tty = process.stderr.isTTY && !process.env.CI;
  const onProgress = tty
    ? (done: number, total: number) => {
        if (done % 8 === 0 || done === total) process.stderr.write(`\rcentral differences ${done}/${total}${done === total ? "\n" : ""}`);
      }
    : undefined;
  const report = await checkModel(model, { seed: int("seed", 1), points: int("points", 2), maxPerParam: int("samples", 64), onProgress });
  process.stdout.write(bools.has("json") ? `${JSON.stringify(report)}\n` : `${formatReport(model.source, report)}\n`);
  return report.ok ? 0 : 1;
}
