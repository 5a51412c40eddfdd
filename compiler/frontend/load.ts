/**
 * Loads a TypeScript model spec: bundles it with esbuild (type imports are
 * erased, so the spec needs nothing at run time), runs its default export
 * against a fresh builder, and maps every error back to the spec's own
 * file:line through the bundle's source map.
 */
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { SourceMap } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import * as esbuild from "esbuild";
import { GradcError, type Where } from "../errors.ts";
import { type Model, showValue } from "../ir/model.ts";
import { builder } from "./dsl.ts";

/** `examples/xor/model.ts` -> `xor`; `specs/foo.ts` -> `foo`. */
export function modelName(file: string): string {
  const base = path.basename(file).replace(/\.[cm]?[jt]s$/, "");
  return base === "model" ? path.basename(path.dirname(path.resolve(file))) : base;
}

/** The spec path as shown to users: relative to the working directory, with forward slashes. */
export const displayPath = (file: string) => path.relative(process.cwd(), path.resolve(file)).split(path.sep).join("/");

/**
 * The model name becomes the output files' name (`<dir>/<name>.ts`) and
 * `layout.name`: letters, digits, `_`, `-` and `.`, not starting with `.`
 * or `-` (no hidden files, no option-like names, nothing to escape).
 */
function checkModelName(name: string, shown: string): string {
  if (/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(name)) return name;
  throw new GradcError("E_BAD_NAME", `model name ${showValue(name)} (from the spec's file name) is not a safe file name`, {
    file: shown,
    hint: "rename the spec file (or, for a model.ts, its folder) to letters, digits, _, - and ., e.g. examples/my_model/model.ts",
  });
}

const loaderFor = (file: string): esbuild.Loader =>
  /\.[cm]?js$/.test(file) ? "js" : /\.jsx$/.test(file) ? "jsx" : /\.tsx$/.test(file) ? "tsx" : "ts";

/**
 * Built-in prototypes a spec could pollute (`Object.prototype.batch = "…"`): every object the
 * compiler reads would inherit the value, and one that reached generated text ran the spec's
 * code in the user's app. The spec runs in this process, so what it changes is put back and
 * refused (E_SPEC_LOAD). The compiler also reads model fields as own properties only.
 */
const PROTOTYPES: [string, object][] = [
  ["Object.prototype", Object.prototype],
  ["Array.prototype", Array.prototype],
  ["Function.prototype", Function.prototype],
  ["String.prototype", String.prototype],
  ["Number.prototype", Number.prototype],
  ["Boolean.prototype", Boolean.prototype],
  ["Symbol.prototype", Symbol.prototype],
  ["Error.prototype", Error.prototype],
  ["Promise.prototype", Promise.prototype],
  ["RegExp.prototype", RegExp.prototype],
  ["Map.prototype", Map.prototype],
  ["Set.prototype", Set.prototype],
];

/** Snapshots the built-in prototypes; the returned function restores them and names what changed. */
function guardPrototypes(): () => string[] {
  const before = PROTOTYPES.map(([name, proto]) => ({ name, proto, props: new Map(Reflect.ownKeys(proto).map((k) => [k, Object.getOwnPropertyDescriptor(proto, k)!])) }));
  const same = (a: PropertyDescriptor, b: PropertyDescriptor) =>
    a.value === b.value && a.get === b.get && a.set === b.set && a.writable === b.writable && a.enumerable === b.enumerable && a.configurable === b.configurable;
  const put = (f: () => void) => {
    try {
      f();
    } catch {
      // a non-configurable change cannot be undone; it is still reported
    }
  };
  return () => {
    const changed: string[] = [];
    for (const { name, proto, props } of before) {
      for (const k of Reflect.ownKeys(proto)) {
        const was = props.get(k);
        if (was && same(was, Object.getOwnPropertyDescriptor(proto, k)!)) continue;
        changed.push(`${name}.${String(k)}`);
        put(() => (was ? Object.defineProperty(proto, k, was) : delete (proto as Record<PropertyKey, unknown>)[k]));
      }
      for (const [k, d] of props)
        if (!Object.hasOwn(proto, k)) {
          changed.push(`${name}.${String(k)} (deleted)`);
          put(() => Object.defineProperty(proto, k, d));
        }
    }
    return changed;
  };
}

export async function loadSpec(file: string, opts: { name?: string } = {}): Promise<Model> {
  const shown = displayPath(file);
  const abs = path.resolve(file);
  if (!existsSync(abs))
    throw new GradcError("E_SPEC_LOAD", `spec file not found`, { file: shown, hint: "pass the path of a model.ts, e.g. examples/xor/model.ts" });
  const name = checkModelName(opts.name ?? modelName(file), shown);
  const bundle = path.join(tmpdir(), `gradc-spec-${randomBytes(6).toString("hex")}.mjs`);
  let built: esbuild.BuildResult;
  try {
    built = await esbuild.build({
      // Through stdin, not entryPoints: esbuild reads an entry point with `*` in its path as a glob pattern.
      stdin: { contents: readFileSync(abs, "utf8"), sourcefile: abs, resolveDir: path.dirname(abs), loader: loaderFor(abs) },
      bundle: true,
      write: false,
      format: "esm",
      platform: "node",
      target: "node20",
      sourcemap: "external",
      outfile: bundle,
      logLevel: "silent",
    });
  } catch (e) {
    const err = (e as esbuild.BuildFailure).errors?.[0];
    throw new GradcError("E_SPEC_LOAD", `cannot compile the spec: ${err?.text ?? String(e)}`, {
      file: err?.location ? displayPath(err.location.file) : shown,
      line: err?.location?.line,
      col: err?.location ? err.location.column + 1 : undefined,
      hint: "the spec must be valid TypeScript exporting `default (m: ModelBuilder) => { … }`",
    });
  }
  const js = built.outputFiles!.find((f) => f.path.endsWith(".mjs"))!.text;
  const map = new SourceMap(JSON.parse(built.outputFiles!.find((f) => f.path.endsWith(".map"))!.text));
  const bundleUrl = pathToFileURL(bundle).href;

  /** The innermost stack frame inside the spec, mapped back to the spec's line and column. */
  const locate = (stack = new Error().stack ?? ""): Where => {
    for (const line of stack.split("\n")) {
      const m = line.match(/(file:\/\/\S+?|\/\S+?):(\d+):(\d+)\)?\s*$/);
      if (!m || (m[1] !== bundleUrl && m[1] !== bundle)) continue;
      const e = map.findEntry(Number(m[2]) - 1, Number(m[3]) - 1) as { originalSource?: string; originalLine?: number; originalColumn?: number };
      if (e.originalSource === undefined) continue;
      const src = e.originalSource.startsWith("file:") ? new URL(e.originalSource).pathname : path.resolve(path.dirname(bundle), e.originalSource);
      return { file: src === abs ? shown : displayPath(src), line: e.originalLine! + 1, col: e.originalColumn! + 1 };
    }
    return { file: shown };
  };

  writeFileSync(bundle, js);
  const restore = guardPrototypes();
  try {
    const model = await run();
    const changed = restore();
    if (changed.length) {
      const list = changed.slice(0, 5).map((c) => showValue(c).slice(1, -1)).join(", ");
      throw new GradcError("E_SPEC_LOAD", `the spec modified built-in prototypes: ${list}${changed.length > 5 ? `, … (${changed.length} in all)` : ""}`, {
        file: shown,
        hint: "a spec may not change Object.prototype or other built-ins: remove that assignment",
      });
    }
    return model;
  } finally {
    restore();
    rmSync(bundle, { force: true });
  }

  async function run(): Promise<Model> {
    let mod: { default?: unknown };
    try {
      mod = await import(bundleUrl);
    } catch (e) {
      throw new GradcError("E_SPEC_LOAD", `the spec threw while loading: ${(e as Error).message}`, {
        ...locate((e as Error).stack),
        hint: "fix the error above in the spec",
      });
    }
    if (typeof mod.default !== "function")
      throw new GradcError("E_SPEC_EXPORT", "the spec has no default export function", {
        file: shown,
        hint: "write `export default (m: ModelBuilder) => { … }`",
      });
    const m = builder(name, shown, locate);
    let ret: unknown;
    try {
      ret = (mod.default as (m: unknown) => unknown)(m);
    } catch (e) {
      // A GradcError raised outside a builder call (e.g. `x.relu()`) gets the spec line from its own stack.
      if (e instanceof GradcError) throw e.at(locate(e.stack));
      throw new GradcError("E_SPEC_LOAD", `the spec threw: ${(e as Error)?.message ?? String(e)}`, {
        ...locate((e as Error)?.stack),
        hint: "fix the error above in the spec",
      });
    }
    if (typeof (ret as { then?: unknown } | null)?.then === "function") {
      (ret as Promise<unknown>).then(undefined, () => {}); // its later failure must not surface as an unhandled rejection
      throw new GradcError("E_SPEC_EXPORT", "the spec's default export returned a Promise (an async function?)", {
        file: shown,
        hint: "the model is built synchronously: write `export default (m: ModelBuilder) => { … }` without async/await",
      });
    }
    return m.finish();
  }
}
