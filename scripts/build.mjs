// Bundles the TypeScript sources for plain Node:
// - dist/runtime.js: runtime/, what generated modules import as "gradc/runtime";
// - dist/cli.js: the gradc command (bin/gradc.js runs it). Running the CLI
//   from bundled JS keeps tsx from transpiling binaryen's 15 MB bundle on
//   every cold start (20-30 s).
// Run by `npm install` (prepare), `npm test` and `npm run demo`.
import { rmSync } from "node:fs";
import * as esbuild from "esbuild";

const common = {
  bundle: true,
  format: "esm",
  platform: "node",
  target: "node20",
  packages: "external", // dependencies stay in node_modules
  sourcemap: true,
  logLevel: "warning",
  banner: { js: "// Built by scripts/build.mjs from the TypeScript sources: edit those, not this file." },
};
await esbuild.build({ ...common, entryPoints: ["runtime/index.ts"], outfile: "dist/runtime.js" });
// The worker a spec is loaded in (compiler/frontend/load.ts): prebuilt, so a compile does not bundle it.
await esbuild.build({ ...common, entryPoints: ["compiler/frontend/spec-child.ts"], outfile: "dist/spec-child.js" });
// The CLI is split into chunks at its dynamic imports, so each command loads
// only what it uses: `compile` of a pure-JS model never loads binaryen (0.6 s),
// and mathjs (formulas) loads only for `gradc grad`.
rmSync("dist/chunks", { recursive: true, force: true });
await esbuild.build({
  ...common,
  entryPoints: { cli: "compiler/cli.ts" },
  outdir: "dist",
  splitting: true,
  chunkNames: "chunks/[name]-[hash]",
});
