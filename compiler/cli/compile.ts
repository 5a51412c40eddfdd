import { readdirSync, readFileSync, existsSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "../cli.ts";
import { GradcError } from "../errors.ts";
import { displayPath, loadSpec, specTimeoutMs } from "../frontend/load.ts";
import { compile } from "../index.ts";
import { pairLine, pairMismatch, writeAtomically } from "./write.ts";
import { opsMarkdown } from "../docs.ts";

const outDirArg = (d: string) => `${displayPath(d)}/`;

async function build(spec: string, outDir: string, timeoutMs?: number) {
  const t0 = performance.now();
  const model = await loadSpec(spec, timeoutMs === undefined ? {} : { timeoutMs });
  const c = await compile(model, { command: `npx gradc compile ${model.source} -o ${outDirArg(outDir)}`, trainer: true });
  const ms = performance.now() - t0;
  const base = path.join(outDir, model.name);
  // The .js names the hash of its .ts (after the two header lines): a pair from two compiles is detectable.
  const js = c.js.replace(/^((?:.*\n){2})/, (head) => `${head}${pairLine(`${base}.ts`, c.ts)}\n`);
  return { model, c, ms, files: { [`${base}.ts`]: c.ts, [`${base}.js`]: js } as Record<string, string> };
}

/** `gradc compile <spec.ts> [-o dir]`: writes <dir>/<name>.ts and .js, both or neither. */
export async function compileCommand(argv: string[]): Promise<number> {
  const { flags, positional } = parseArgs(argv, { flags: ["o", "out", "spec-timeout"] });
  if (positional.length !== 1)
    throw new GradcError("E_CLI", "compile takes one spec file", { hint: "gradc compile examples/xor/model.ts -o generated/" });
  const outDir = flags.get("o")?.at(-1) ?? flags.get("out")?.at(-1) ?? "generated";
  if (outDir.trim() === "")
    throw new GradcError("E_CLI", "-o needs a directory, got an empty string", { hint: "pass -o . to write into the current directory" });
  const timeout = flags.get("spec-timeout")?.at(-1);
  const { c, ms, files } = await build(positional[0]!, outDir, timeout === undefined ? undefined : specTimeoutMs(timeout));
  const [tsFile, jsFile] = Object.keys(files) as [string, string];
  if (existsSync(tsFile) && existsSync(jsFile) && pairMismatch(readFileSync(tsFile, "utf8"), readFileSync(jsFile, "utf8")))
    process.stderr.write(`note: ${displayPath(tsFile)} and ${displayPath(jsFile)} were from different compiles (an interrupted one?); both are replaced now\n`);
  writeAtomically(files, { protect: [positional[0]!] });
  const L = c.lowered.layout;
  const lines = c.ts.split("\n").length;
  process.stdout.write(
    `compiled ${L.source} -> ${Object.keys(files).map(displayPath).join(", ")}\n` +
      `  ${L.params.length} params (${L.paramSize} floats), ${L.inputs.length} inputs (${L.inputSize} floats), ` +
      `arena ${L.arenaSize} floats (${c.lowered.naiveArenaSize} without reuse), ${lines} lines of TypeScript, ${ms.toFixed(0)} ms\n`,
  );
  return 0;
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
    if (!bools.has("check")) writeAtomically(files, { protect: [spec] });
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
