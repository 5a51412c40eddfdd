/**
 * `gradc <command>`: compile, check, grad, regen. Every failure a user can
 * cause ends as one `error[CODE] file:line: message` plus a hint — never a
 * stack trace (set GRADC_DEBUG=1 to see one).
 */
import { GradcError } from "./errors.ts";

const USAGE = `usage: gradc <command> [options]

commands:
  compile <spec.ts> [-o dir]     compile a model spec to <dir>/<name>.ts and .js (default dir: generated/)
  check <spec.ts> [--points N] [--samples N] [--seed N] [--json]
                                 generated derivatives vs float64 central differences
  grad "<formula>" [--wrt a,b] [--at a=1,b=2 …] [--json] [--code]
                                 value and partial derivatives of one formula (mathjs syntax);
                                 --wrt defaults to every symbol in order of first appearance;
                                 every symbol needs a value in each --at; repeat --at for several points
  regen [--check]                recompile every examples/*/model.ts into generated/ and docs/ops.md
                                 (--check: fail on any difference instead of writing)
  graph <spec.ts> [-o file.svg|.png|.dot] [--backward] [--format svg|dot|png] [--scale N] [--force]
                                 the model's DAG as a picture; --backward adds the derivative graph
  summary <spec.ts> [--json]     a table of params (shape, count, init), named values, arena, wasm kernels
  demo [mnist|xor]               compile and train: MNIST to >= 93% test accuracy (default), or XOR;
                                 MNIST writes its loss plot to mnist-training.svg/.png (--plots DIR elsewhere)

Errors print as one line, error[CODE] file:line:col: message, and a hint; GRADC_DEBUG=1 adds a stack trace.
`;

type Command = (argv: string[]) => Promise<number>;

const COMMANDS: Record<string, () => Promise<Command>> = {
  compile: async () => (await import("./cli/compile.ts")).compileCommand,
  check: async () => (await import("./cli/check.ts")).checkCommand,
  grad: async () => (await import("./cli/grad.ts")).gradCommand,
  regen: async () => (await import("./cli/compile.ts")).regenCommand,
  demo: async () => (await import("./cli/demo.ts")).demoCommand,
  graph: async () => (await import("./cli/graph.ts")).graphCommand,
  summary: async () => (await import("./cli/summary.ts")).summaryCommand,
};

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === "-h" || cmd === "--help" || cmd === "help") {
    process.stdout.write(USAGE);
    return cmd ? 0 : 2;
  }
  const load = Object.hasOwn(COMMANDS, cmd) ? COMMANDS[cmd] : undefined;
  if (!load) {
    process.stderr.write(`error[E_CLI] unknown command '${cmd}'\n\n${USAGE}`);
    return 2;
  }
  try {
    return await (await load())(rest);
  } catch (e) {
    if (e instanceof GradcError) {
      process.stderr.write(`${e.format()}\n`);
      if (process.env.GRADC_DEBUG) process.stderr.write(`${e.stack}\n`);
      return 1;
    }
    throw e;
  }
}

/** Minimal flag parsing shared by the commands: `--flag value`, `--flag=value`, repeated flags, positionals. */
export function parseArgs(argv: string[], spec: { flags?: string[]; bools?: string[] }) {
  const flags = new Map<string, string[]>();
  const bools = new Set<string>();
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith("-") || a === "-") {
      positional.push(a);
      continue;
    }
    const [rawKey, inline] = a.split(/=(.*)/s, 2) as [string, string | undefined];
    const key = rawKey.replace(/^--?/, "");
    if (spec.bools?.includes(key)) {
      bools.add(key);
    } else if (spec.flags?.includes(key)) {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new GradcError("E_CLI", `--${key} needs a value`);
      (flags.get(key) ?? flags.set(key, []).get(key)!).push(v);
    } else {
      throw new GradcError("E_CLI", `unknown option '${a}'`, { hint: "run `gradc --help` for the options" });
    }
  }
  return { flags, bools, positional };
}
