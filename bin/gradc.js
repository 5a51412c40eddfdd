#!/usr/bin/env node
// gradc's command-line entry. Runs the bundled CLI (dist/cli.js, built by
// `npm install` / `npm run build`); in a checkout that was never built it
// falls back to the TypeScript sources through tsx.
import { existsSync } from "node:fs";

const bundled = new URL("../dist/cli.js", import.meta.url);
let main;
if (existsSync(bundled)) ({ main } = await import(bundled.href));
else {
  const { register } = await import("tsx/esm/api");
  register();
  ({ main } = await import("../compiler/cli.ts"));
}
process.exitCode = await main(process.argv.slice(2));
