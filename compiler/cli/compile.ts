import { type FSWatcher, existsSync, readdirSync, readFileSync, statSync, watch } from "node:fs";
import path from "node:path";
import { parseArgs } from "./args.ts";
import { GradcError } from "../errors.ts";
import { displayPath, loadSpec, specTimeoutMs } from "../frontend/load.ts";
import { compile } from "../index.ts";
import { pairLine, pairMismatch, writeAtomically } from "./write.ts";
import { opsMarkdown } from "../docs.ts";
import { summaryTable } from "../viz/summary.ts";

/** The output folder as the header's command shows it: `generated/`, `.` for the working directory, `../x/`. */
export const outDirArg = (d: string) => {
  const p = displayPath(d);
  return p === "" ? "." : `${p}/`;
};

export interface BuildOptions {
  readonly backend?: "js" | "wasm" | "auto";
  readonly precision?: "f32" | "f64";
  readonly standalone?: boolean;
  /** Write <name>.ts too (regen does: generated/ keeps the readable source). */
  readonly ts?: boolean;
  /** How long the spec may take to load (ms; `--spec-timeout`). */
  readonly timeoutMs?: number;
}

/** The command that reproduces a build, for the generated header. */
function commandLine(source: string, outDir: string, o: BuildOptions): string {
  const flags = [
    ...(o.backend && o.backend !== "auto" ? [`--backend ${o.backend}`] : []),
    ...(o.precision && o.precision !== "f32" ? [`--precision ${o.precision}`] : []),
    ...(o.standalone ? ["--standalone"] : []),
    ...(o.ts ? ["--ts"] : []),
  ];
  return [`npx gradc compile ${source} -o ${outDirArg(outDir)}`, ...flags].join(" ");
}

/** The marker that makes the generated .js files ES modules whatever the app's own package.json says. */
export const ESM_MARKER = `${JSON.stringify({ "//": "written by gradc compile: the .js files in this folder are ES modules", type: "module" }, null, 2)}\n`;

/**
 * Node decides whether a .js file is an ES module by the nearest package.json
 * above it. When that one does not say "type": "module" (a fresh `npm init`
 * app is CommonJS), a marker package.json in the output folder makes the
 * generated .js load as ESM there — `import` and, from CommonJS, `require()`
 * (Node >= 20.19) alike. A package.json of the user's in the output folder
 * itself is never overwritten: then the note says what to do.
 */
function esmMarker(outDir: string): { files: Record<string, string>; note?: string } {
  const typeOf = (file: string): unknown => {
    try {
      return (JSON.parse(readFileSync(file, "utf8")) as { type?: unknown }).type;
    } catch {
      return undefined;
    }
  };
  const own = path.join(outDir, "package.json");
  for (let dir = path.resolve(outDir); ; dir = path.dirname(dir)) {
    const file = path.join(dir, "package.json");
    if (existsSync(file)) {
      if (typeOf(file) === "module") return { files: {} };
      if (path.resolve(file) !== path.resolve(own)) break;
      return {
        files: {},
        note: `note: ${displayPath(own)} does not say "type": "module", so Node loads the generated .js there as CommonJS and fails; compile into a folder of its own (e.g. -o generated/)`,
      };
    }
    if (path.dirname(dir) === dir) break;
  }
  return { files: { [own]: ESM_MARKER } };
}

async function build(spec: string, outDir: string, o: BuildOptions = {}, deps?: Set<string>) {
  const t0 = performance.now();
  const model = await loadSpec(spec, { ...(deps ? { deps } : {}), ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}) });
  const c = await compile(model, {
    command: commandLine(model.source, outDir, o),
    trainer: !o.standalone,
    ...(o.backend ? { backend: o.backend } : {}),
    ...(o.precision ? { precision: o.precision } : {}),
  });
  const ms = performance.now() - t0;
  const base = path.join(outDir, model.name);
  // The .js and .d.ts name the hash of the TypeScript they were compiled from (after the two header
  // lines): files of one output from two compiles (a compile killed between renames) are detectable.
  const pair = (text: string) => text.replace(/^((?:.*\n){2})/, (head) => `${head}${pairLine(`${base}.ts`, c.ts)}\n`);
  const files: Record<string, string> = { ...(o.ts ? { [`${base}.ts`]: c.ts } : {}), [`${base}.js`]: pair(c.js), [`${base}.d.ts`]: pair(c.dts) };
  return { model, c, ms, files };
}

const oneOf = <T extends string>(flag: string, v: string | undefined, allowed: readonly T[]): T | undefined => {
  if (v === undefined) return undefined;
  if ((allowed as readonly string[]).includes(v)) return v as T;
  throw new GradcError("E_CLI", `--${flag} must be one of ${allowed.join(", ")}; got '${v}'`, { hint: `gradc compile spec.ts --${flag} ${allowed[0]}` });
};

/** `gradc compile <spec.ts> [-o dir] [options] [--watch]`: writes <dir>/<name>.js and .d.ts (and .ts with --ts), all or none. */
export async function compileCommand(argv: string[]): Promise<number> {
  const { flags, bools, positional } = parseArgs(argv, { flags: ["o", "out", "backend", "precision", "spec-timeout"], bools: ["standalone", "ts", "watch", "w"] });
  if (positional.length !== 1)
    throw new GradcError("E_CLI", "compile takes one spec file", { hint: "gradc compile examples/xor/model.ts -o generated/" });
  const outDir = flags.get("o")?.at(-1) ?? flags.get("out")?.at(-1) ?? "generated";
  if (outDir.trim() === "")
    throw new GradcError("E_CLI", "-o needs a directory, got an empty string", { hint: "pass -o . to write into the current directory" });
  const timeout = flags.get("spec-timeout")?.at(-1);
  const backend = oneOf("backend", flags.get("backend")?.at(-1), ["js", "wasm", "auto"] as const);
  const precision = oneOf("precision", flags.get("precision")?.at(-1), ["f32", "f64"] as const);
  const o: BuildOptions = {
    ...(backend ? { backend } : {}),
    ...(precision ? { precision } : {}),
    standalone: bools.has("standalone"),
    ts: bools.has("ts"),
    ...(timeout !== undefined ? { timeoutMs: specTimeoutMs(timeout) } : {}),
  };
  if (bools.has("watch") || bools.has("w")) return watchCommand(positional[0]!, outDir, o);
  const { model, c, ms, files } = await build(positional[0]!, outDir, o);
  writeOutputs(outDir, files, positional[0]!);
  report(model, c, ms, files);
  return 0;
}

/**
 * The compiled files and, where the folder needs it, the ESM marker: all written or none, never
 * over the spec or a file gradc did not write. Files on disk from two different compiles (one was
 * killed between its renames) get a note; all of them are replaced now.
 */
function writeOutputs(outDir: string, files: Record<string, string>, spec: string): void {
  const text = (f: string) => (statSync(f, { throwIfNoEntry: false })?.isFile() ? readFileSync(f, "utf8") : undefined); // what is in the way is writeAtomically's to refuse
  const onDisk = Object.keys(files)
    .map(text)
    .filter((t): t is string => t !== undefined);
  const ts = Object.keys(files).find((f) => f.endsWith(".ts") && !f.endsWith(".d.ts"));
  const source = ts ? text(ts) : undefined;
  if (pairMismatch(source, onDisk.filter((t) => t !== source)))
    process.stderr.write(`note: the files in ${displayPath(outDir)} were from different compiles (an interrupted one?); all are replaced now\n`);
  const marker = esmMarker(outDir);
  Object.assign(files, marker.files);
  writeAtomically(files, { protect: [spec] });
  if (marker.note) process.stderr.write(`${marker.note}\n`);
}

function report(model: Awaited<ReturnType<typeof build>>["model"], c: Awaited<ReturnType<typeof build>>["c"], ms: number, files: Record<string, string>): void {
  const L = c.lowered.layout;
  const lines = c.ts.split("\n").length;
  process.stdout.write(
    `compiled ${L.source} -> ${Object.keys(files).map(displayPath).join(", ")}\n` +
      `  ${L.params.length} params (${L.paramSize} floats), ${L.inputs.length} inputs (${L.inputSize} floats), ` +
      `arena ${L.arenaSize} floats (${c.lowered.naiveArenaSize} without reuse), ${lines} lines of TypeScript, ${ms.toFixed(0)} ms\n`,
  );
  process.stdout.write(`\n${summaryTable(L, model.boxes)}`);
}

/**
 * `gradc compile <spec> --watch`: compiles, then recompiles whenever the spec
 * or a file it imports is saved, in this process (the compiler's modules stay
 * loaded and warm). A failed compile prints its one error line and writes
 * nothing (the previous output stays, whole); the next save tries again.
 * Ctrl-C (SIGINT) or SIGTERM stops watching and exits 0.
 */
async function watchCommand(spec: string, outDir: string, o: BuildOptions): Promise<number> {
  const watchers = new Map<string, FSWatcher>(); // by directory: editors that save by rename replace the file's inode
  let deps = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let again = false;
  const once = async (first: boolean) => {
    const next = new Set<string>();
    try {
      const { model, c, ms, files } = await build(spec, outDir, o, next);
      writeOutputs(outDir, files, spec);
      if (first) report(model, c, ms, files);
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
  if (!existsSync("examples") || !existsSync("generated") || !existsSync("docs"))
    throw new GradcError("E_CLI", "regen runs in gradc's own repository (it needs examples/, generated/ and docs/ here)", {
      hint: "cd into a gradc checkout; in your own app, run `gradc compile <spec.ts> -o <dir>` for each spec",
    });
  const outDir = "generated";
  const stale: string[] = [];
  const expected = new Set<string>();
  for (const spec of exampleSpecs()) {
    const { files } = await build(spec, outDir, { ts: true });
    for (const [f, text] of Object.entries(files)) {
      expected.add(path.resolve(f));
      if (!existsSync(f) || readFileSync(f, "utf8") !== text) stale.push(displayPath(f));
    }
    if (!bools.has("check")) writeAtomically(files, { protect: [spec] });
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
