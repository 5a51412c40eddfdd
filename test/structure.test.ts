// The house's structure, checked: small lowering modules, no import cycles
// inside compiler/, and no upward import between the pipeline's layers
// (docs/architecture.md draws the same picture). Run alone with
//   npx vitest run test/structure.test.ts
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = path.resolve(import.meta.dirname, "..");

interface Edge {
  readonly from: string;
  readonly to: string;
  /** `import type` / `export type … from`: erased at run time. */
  readonly typeOnly: boolean;
}

const files = (dir: string): string[] =>
  fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(path.join(dir, e.name)) : e.name.endsWith(".ts") ? [path.join(dir, e.name)] : [],
  );

/** Every relative import of a file: static, re-exports and literal dynamic imports. */
export function importsOf(file: string, src: string): Edge[] {
  const out: Edge[] = [];
  const add = (spec: string, typeOnly: boolean) => {
    if (!spec.startsWith(".")) return;
    out.push({ from: file, to: path.normalize(path.join(path.dirname(file), spec)), typeOnly });
  };
  const code = src.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
  for (const m of code.matchAll(/^\s*(import|export)\s+(type\s+)?([^;]*?)\s+from\s+"([^"]+)"/gms)) add(m[4]!, m[2] !== undefined);
  for (const m of code.matchAll(/^\s*import\s+"([^"]+)"/gm)) add(m[1]!, false);
  for (const m of code.matchAll(/\bimport\(\s*"([^"]+)"\s*\)/g)) add(m[1]!, false);
  return out;
}

const SOURCES = [...files("compiler"), ...files("runtime")];
const EDGES = SOURCES.flatMap((f) => importsOf(f, fs.readFileSync(path.join(ROOT, f), "utf8")));

/**
 * The layers, lowest first. A file may import its own layer and layers of a
 * lower rank; two layers of one rank are independent (frontends and autodiff
 * both sit on the IR).
 */
const LAYERS: readonly { readonly name: string; readonly rank: number; readonly match: (f: string) => boolean }[] = [
  { name: "runtime ABI", rank: 0, match: (f) => f === "runtime/abi.ts" },
  { name: "errors", rank: 1, match: (f) => f === "compiler/errors.ts" },
  { name: "ir", rank: 2, match: (f) => f.startsWith("compiler/ir/") },
  { name: "frontend", rank: 3, match: (f) => f.startsWith("compiler/frontend/") },
  { name: "autodiff", rank: 3, match: (f) => f.startsWith("compiler/autodiff/") },
  { name: "optimize", rank: 4, match: (f) => f.startsWith("compiler/optimize/") },
  { name: "plan", rank: 5, match: (f) => f.startsWith("compiler/plan/") },
  { name: "lower", rank: 6, match: (f) => f.startsWith("compiler/lower/") },
  { name: "emit", rank: 7, match: (f) => f.startsWith("compiler/emit/") },
  // ONNX export/import (compiler/export/) is another way out of (and into) the IR beside the pipeline (import builds
  // specs); compiler/viz/ draws the program and summarizes the layout for the entry and the CLI.
  {
    name: "entry",
    rank: 8,
    match: (f) => ["compiler/index.ts", "compiler/check.ts", "compiler/docs.ts"].includes(f) || f.startsWith("compiler/export/") || f.startsWith("compiler/viz/"),
  },
  { name: "runtime", rank: 9, match: (f) => f.startsWith("runtime/") },
  { name: "cli", rank: 10, match: (f) => f === "compiler/cli.ts" || f.startsWith("compiler/cli/") },
];
const layerOf = (f: string) => LAYERS.find((l) => l.match(f));

/** Why an import is not allowed, or undefined. */
export function forbidden(e: Edge): string | undefined {
  const [a, b] = [layerOf(e.from), layerOf(e.to)];
  if (!a || !b) return `${e.from} or ${e.to} is in no layer (add it to LAYERS and docs/architecture.md)`;
  if (a.name === b.name) return undefined;
  if (a.name === "runtime" && b.name !== "runtime ABI") return "the runtime never imports the compiler";
  if (b.name === "frontend" && a.rank < 8) return "only the entry points and the CLI load specs";
  if (b.name === "runtime" && a.name !== "cli") return "the compiler uses only the runtime's ABI (runtime/abi.ts)";
  if (b.rank < a.rank) return undefined;
  return `${a.name} (rank ${a.rank}) imports ${b.name} (rank ${b.rank}): upward or sideways`;
}

/**
 * Import cycles (iterative DFS). Type-only imports count, except between files
 * of one directory: the op table and the builder in ir/ name each other's
 * types (a rule is written against the builder that builds its nodes).
 */
export function cycles(edges: readonly Edge[]): string[][] {
  const next = new Map<string, string[]>();
  for (const e of edges) {
    if (e.typeOnly && path.dirname(e.from) === path.dirname(e.to)) continue;
    (next.get(e.from) ?? next.set(e.from, []).get(e.from)!).push(e.to);
  }
  const state = new Map<string, "open" | "done">();
  const found: string[][] = [];
  for (const start of next.keys()) {
    if (state.has(start)) continue;
    const stack: { f: string; k: number }[] = [{ f: start, k: 0 }];
    state.set(start, "open");
    while (stack.length) {
      const top = stack[stack.length - 1]!;
      const to = (next.get(top.f) ?? [])[top.k++];
      if (to === undefined) {
        state.set(top.f, "done");
        stack.pop();
      } else if (state.get(to) === "open") {
        found.push([...stack.slice(stack.findIndex((s) => s.f === to)).map((s) => s.f), to]);
      } else if (!state.has(to)) {
        state.set(to, "open");
        stack.push({ f: to, k: 0 });
      }
    }
  }
  return found;
}

describe("structure", () => {
  it("lowering: no module over 400 lines", () => {
    const big = files("compiler/lower")
      .map((f) => [f, fs.readFileSync(path.join(ROOT, f), "utf8").split("\n").length] as const)
      .filter(([, n]) => n > 400);
    expect(big).toEqual([]);
  });

  it("no import cycle inside compiler/ or runtime/", () => {
    expect(cycles(EDGES.filter((e) => e.to.startsWith("compiler/") || e.to.startsWith("runtime/")))).toEqual([]);
  });

  it("no upward import between layers", () => {
    const bad = EDGES.map((e) => [e.from, e.to, forbidden(e)]).filter(([, , why]) => why);
    expect(bad).toEqual([]);
  });

  it("finds what it checks for (the checks can fail)", () => {
    expect(importsOf("compiler/lower/x.ts", 'import type { Epi } from "../emit/wasm.ts";\nconst w = await import("./y.ts");')).toEqual([
      { from: "compiler/lower/x.ts", to: "compiler/emit/wasm.ts", typeOnly: true },
      { from: "compiler/lower/x.ts", to: "compiler/lower/y.ts", typeOnly: false },
    ]);
    expect(forbidden({ from: "compiler/lower/x.ts", to: "compiler/emit/wasm.ts", typeOnly: true })).toMatch(/upward/);
    expect(forbidden({ from: "compiler/frontend/dsl.ts", to: "compiler/autodiff/reverse.ts", typeOnly: false })).toMatch(/sideways/);
    expect(forbidden({ from: "runtime/trainer.ts", to: "compiler/lower/lower.ts", typeOnly: true })).toMatch(/never imports/);
    expect(forbidden({ from: "compiler/lower/lower.ts", to: "runtime/abi.ts", typeOnly: true })).toBeUndefined();
    const e = (from: string, to: string, typeOnly = false) => ({ from, to, typeOnly });
    expect(cycles([e("compiler/a/x.ts", "compiler/b/y.ts"), e("compiler/b/y.ts", "compiler/a/x.ts", true)])).toHaveLength(1);
    expect(cycles([e("compiler/a/x.ts", "compiler/a/y.ts"), e("compiler/a/y.ts", "compiler/a/x.ts", true)])).toEqual([]);
    // every source file is in a layer
    expect(SOURCES.filter((f) => !layerOf(f))).toEqual([]);
  });
});
