// Builds what the package ships, from the TypeScript sources (edit those, not dist/):
// - dist/runtime.js: runtime/index.ts, the browser-safe runtime ("gradc/runtime" outside Node);
// - dist/runtime-node.js: runtime/node.ts, the same plus files and the terminal bar
//   ("gradc/runtime/node", and "gradc/runtime" in Node);
// - dist/index.js, dist/dsl.js: the compiler API ("gradc") and the spec builder ("gradc/dsl");
// - dist/cli.js: the gradc command (bin/gradc.js runs it). Running the CLI from bundled JS
//   keeps tsx from transpiling binaryen's 15 MB bundle on every cold start (20-30 s);
// - dist/types/: the .d.ts of compiler/ and runtime/ (tsc), with `.ts` import specifiers
//   rewritten to `.js` so that they type-check in a consumer's project.
// One esbuild build with code splitting: the entries share their chunks, so the runtime
// is one instance whichever entry loads it, and each CLI command loads only what it uses
// (`compile` of a pure-JS model never loads binaryen; mathjs loads only for `gradc grad`).
// Run by `npm install` (prepare), `npm test` and `npm run demo`; `--no-types` skips tsc.
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import * as esbuild from "esbuild";

rmSync("dist", { recursive: true, force: true });
await esbuild.build({
  entryPoints: {
    runtime: "runtime/index.ts",
    "runtime-node": "runtime/node.ts",
    index: "compiler/index.ts",
    dsl: "compiler/frontend/dsl.ts",
    cli: "compiler/cli.ts",
    // The worker a spec is loaded in (compiler/frontend/load.ts): prebuilt, so a compile does not bundle it.
    "spec-child": "compiler/frontend/spec-child.ts",
    // A Node training thread (runtime/node.ts starts it for createTrainer({ threads })).
    "runtime-worker": "runtime/worker-node.ts",
  },
  outdir: "dist",
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "neutral", // runtime/index.ts must need no Node built-in; the others import node: explicitly
  mainFields: ["module", "main"],
  target: "es2022",
  packages: "external", // dependencies stay in node_modules
  chunkNames: "chunks/[name]-[hash]",
  sourcemap: true,
  logLevel: "warning",
  banner: { js: "// Built by scripts/build.mjs from the TypeScript sources: edit those, not this file." },
});

if (!process.argv.includes("--no-types")) {
  const tsc = path.join("node_modules", "typescript", "bin", "tsc");
  execFileSync(process.execPath, [tsc, "-p", "tsconfig.build.json"], { stdio: "inherit" });
  // tsc keeps `.ts` specifiers in declarations (rewriteRelativeImportExtensions only rewrites JS):
  // a consumer's tsc rejects them (TS5097), so point them at the .d.ts through `.js`.
  const walk = (dir) => readdirSync(dir).flatMap((f) => (statSync(path.join(dir, f)).isDirectory() ? walk(path.join(dir, f)) : [path.join(dir, f)]));
  for (const f of walk("dist/types").filter((f) => f.endsWith(".d.ts"))) {
    const text = readFileSync(f, "utf8");
    const fixed = text.replace(/((?:from|import)\s*\(?\s*["'])(\.{1,2}\/[^"']*?)\.ts(["'])/g, "$1$2.js$3");
    if (fixed !== text) writeFileSync(f, fixed);
  }
}
