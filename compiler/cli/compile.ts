import { type FSWatcher, existsSync, readdirSync, readFileSync, watch } from "node:fs";
import path from "node:path";
import { parseArgs } from "./args.ts";
import { GradcError } from "../errors.ts";
import { displayPath, loadSpec } from "../frontend/load.ts";
import { compile } from "../index.ts";
import { writeAtomically } from "./write.ts";
import { opsMarkdown } from "../docs.ts";

const outDirArg = (d: string) => `${displayPath(d)}/`;

async function build(spec: string, outDir: string, deps?: Set<string>) {
  const t0 = performance.now();
  const model = await loadSpec(spec, deps ? { deps } : {});
  const c = await compile(model, { command: `npx gradc compile ${model.source} -o ${outDirArg(outDir)}`, trainer: true });
  const ms = performance.now() - t0;
  const base = path.join(outDir, model.name);
  return { model, c, ms, files: { [`${base}.ts`]: c.ts, [`${base}.js`]: c.js } as Record<string, string> };
}

/** `gradc compile <spec.ts> [-o dir] [--watch]`: writes <dir>/<name>.ts and .js, both or neither. */
export async function compileCommand(argv: string[]): Promise<number> {
  const { flags, bools, positional } = parseArgs(argv, { flags: ["o", "out"], bools: ["watch", "w"] });
  if (positional.length !== 1)
    throw new GradcError("E_CLI", "compile takes one spec file", { hint: "gradc compile examples/xor/model.ts -o generated/" });
  const outDir = flags.get("o")?.at(-1) ?? flags.get("out")?.at(-1) ?? "generated";
  if (bools.has("watch") || bools.has("w")) return watchCommand(positional[0]!, outDir);
  const { c, ms, files } = await build(positional[0]!, outDir);
  writeAtomically(files);
  report(c, ms, files);
  return 0;
}

function report(c: Awaited<ReturnType<typeof build>>["c"], ms: number, files: Record<string, string>): void {
  const L = c.lowered.layout;
  const lines = c.ts.split("\n").length;
  process.stdout.write(
    `compiled ${L.source} -> ${Object.keys(files).map(displayPath).join(", ")}\n` +
      `  ${L.params.length} params (${L.paramSize} floats), ${L.inputs.length} inputs (${L.inputSize} floats), ` +
      `arena ${L.arenaSize} floats (${c.lowered.naiveArenaSize} without reuse), ${lines} lines of TypeScript, ${ms.toFixed(0)} ms\n`,
  );
}

/**
 * `gradc compile <spec> --watch`: compiles, then recompiles whenever the spec
 * or a file it imports is saved, in this process (the compiler's modules stay
 * loaded and warm). A failed compile prints its one error line and writes
 * nothing (the previous output stays, whole); the next save tries again.
 * Ctrl-C (SIGINT) or SIGTERM stops watching and exits 0.
 */
async function watchCommand(spec: string, outDir: string): Promise<number> {
  const watchers = new Map<string, FSWatcher>(); // by directory: editors that save by rename replace the file's inode
  let deps = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let again = false;
  const once = async (first: boolean) => {
    const next = new Set<string>();
    try {
      const { c, ms, files } = await build(spec, outDir, next);
      writeAtomically(files);
      if (first) report(c, ms, files);
      else process.stdout.write(`recompiled ${c.lowered.layout.source} -> ${Object.keys(files).map(displayPath).join(", ")} in ${ms.toFixed(0)} ms\n`);
    } catch (e) {
      // Keep watching after any failure: the next save may fix it.
      process.stderr.write(e instanceof GradcError ? `${e.format()}\n` : `internal error (please report): ${(e as Error)?.stack ?? String(e)}\n`);
    }
    // Keep watching what the last attempt read (a failed load knows at least the spec itself).
    deps = next.size ? next : deps.size ? deps : new Set([path.resolve(spec)]);
    for (const dir of new Set([...deps].map((f) => path.dirname(f))))
      if (!watchers.has(dir)) watchers.set(dir, watch(dir, (_event, name) => name && changed(path.join(dir, name.toString()))));
    process.stdout.write(`watching ${[...deps].map(displayPath).join(", ")} (Ctrl-C to stop)\n`);
  };
  const run = (first: boolean) => {
    if (running) {
      again = true; // a save during a compile: one more compile after it
      return;
    }
    running = once(first).finally(() => {
      running = undefined;
      if (again) {
        again = false;
        run(false);
      }
    });
  };
  const changed = (file: string) => {
    if (!deps.has(file)) return;
    clearTimeout(timer);
    timer = setTimeout(() => run(false), 30); // one compile per save (editors write in several steps)
  };
  return new Promise<number>((resolve, reject) => {
    const stop = () => {
      clearTimeout(timer);
      for (const w of watchers.values()) w.close();
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      // Let a compile in flight finish: its files are written whole or not at all either way.
      (running ?? Promise.resolve()).then(() => resolve(0), reject);
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
    run(true);
  });
}

/** Every example spec, in a stable order. */
export function exampleSpecs(root = "examples"): string[] {
  return readdirSync(root, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(path.join(root, d.name, "model.ts")))
    .map((d) => path.join(root, d.name, "model.ts"))
    .sort();
}

/** `gradc regen [--check]`: recompiles every example into generated/; --check fails on any difference instead of writing. */
export async function regenCommand(argv: string[]): Promise<number> {
  const { bools } = parseArgs(argv, { bools: ["check"] });
  const outDir = "generated";
  const stale: string[] = [];
  const expected = new Set<string>();
  for (const spec of exampleSpecs()) {
    const { files } = await build(spec, outDir);
    for (const [f, text] of Object.entries(files)) {
      expected.add(path.resolve(f));
      if (!existsSync(f) || readFileSync(f, "utf8") !== text) stale.push(displayPath(f));
    }
    if (!bools.has("check")) writeAtomically(files);
  }
  // The op reference, from the op table.
  const doc = { "docs/ops.md": opsMarkdown() };
  expected.add(path.resolve("docs/ops.md"));
  if (!existsSync("docs/ops.md") || readFileSync("docs/ops.md", "utf8") !== doc["docs/ops.md"]) stale.push("docs/ops.md");
  if (!bools.has("check")) writeAtomically(doc);
  const extra = existsSync(outDir)
    ? readdirSync(outDir).map((f) => path.join(outDir, f)).filter((f) => !expected.has(path.resolve(f)) && !path.basename(f).startsWith("."))
    : [];
  if (bools.has("check")) {
    if (stale.length || extra.length)
      throw new GradcError(
        "E_STALE",
        `generated/ is out of date: ${[...stale.map((f) => `${f} differs`), ...extra.map((f) => `${displayPath(f)} has no spec`)].join("; ")}`,
        { hint: "run `npx gradc regen` and commit generated/" },
      );
    process.stdout.write(`generated/ is up to date (${expected.size} files)\n`);
  } else {
    process.stdout.write(`regenerated ${expected.size} files (${stale.length} changed)\n`);
    if (extra.length) process.stdout.write(`note: no spec produces ${extra.map(displayPath).join(", ")}\n`);
  }
  return 0;
}
