import { readdirSync, readFileSync, existsSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "../cli.ts";
import { GradcError } from "../errors.ts";
import { displayPath, loadSpec } from "../frontend/load.ts";
import { compile } from "../index.ts";
import { writeAtomically } from "./write.ts";
import { opsMarkdown } from "../docs.ts";
import { summaryTable } from "../viz/summary.ts";

const outDirArg = (d: string) => `${displayPath(d)}/`;

async function build(spec: string, outDir: string) {
  const t0 = performance.now();
  const model = await loadSpec(spec);
  const c = await compile(model, { command: `npx gradc compile ${model.source} -o ${outDirArg(outDir)}`, trainer: true });
  const ms = performance.now() - t0;
  const base = path.join(outDir, model.name);
  return { model, c, ms, files: { [`${base}.ts`]: c.ts, [`${base}.js`]: c.js } as Record<string, string> };
}

/** `gradc compile <spec.ts> [-o dir]`: writes <dir>/<name>.ts and .js, both or neither. */
export async function compileCommand(argv: string[]): Promise<number> {
  const { flags, positional } = parseArgs(argv, { flags: ["o", "out"] });
  if (positional.length !== 1)
    throw new GradcError("E_CLI", "compile takes one spec file", { hint: "gradc compile examples/xor/model.ts -o generated/" });
  const outDir = flags.get("o")?.at(-1) ?? flags.get("out")?.at(-1) ?? "generated";
  const { c, ms, files } = await build(positional[0]!, outDir);
  writeAtomically(files);
  const L = c.lowered.layout;
  const lines = c.ts.split("\n").length;
  process.stdout.write(
    `compiled ${L.source} -> ${Object.keys(files).map(displayPath).join(", ")}\n` +
      `  ${L.params.length} params (${L.paramSize} floats), ${L.inputs.length} inputs (${L.inputSize} floats), ` +
      `arena ${L.arenaSize} floats (${c.lowered.naiveArenaSize} without reuse), ${lines} lines of TypeScript, ${ms.toFixed(0)} ms\n`,
  );
  process.stdout.write(`\n${summaryTable(L)}`);
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
    if (!bools.has("check")) writeAtomically(files);
  }
  // The op reference, from the op table; the README's pictures, by `gradc graph`.
  const doc: Record<string, string> = { "docs/ops.md": opsMarkdown(), ...(await (await import("./graph.ts")).docPictures()) };
  for (const [f, text] of Object.entries(doc)) {
    expected.add(path.resolve(f));
    if (!existsSync(f) || readFileSync(f, "utf8") !== text) stale.push(f);
  }
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
