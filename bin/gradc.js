#!/usr/bin/env node
// gradc's command-line entry. Runs the bundled CLI (dist/cli.js, built by
// `npm install` / `npm run build`); if dist/ cannot be built it
// falls back to the TypeScript sources through tsx.
import { existsSync } from "node:fs";

// In a git checkout (never in an installed package: it has no .git), dist/ is rebuilt first when a
// compiler/ or runtime/ source is newer than it, so the command always runs the current sources.
if (existsSync(new URL("../.git", import.meta.url))) await (await import("../scripts/fresh-dist.mjs")).freshDist(new URL("../", import.meta.url));
const bundled = new URL("../dist/cli.js", import.meta.url);
let main;
if (existsSync(bundled)) ({ main } = await import(bundled.href));
else {
  const { register } = await import("tsx/esm/api");
  register();
  ({ main } = await import("../compiler/cli.ts"));
}
process.exitCode = await main(process.argv.slice(2));
