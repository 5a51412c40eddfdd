#!/usr/bin/env node
// gradc's command-line entry: registers tsx so the TypeScript sources (and the
// specs they load) run directly, then hands over to compiler/cli.ts.
import { register } from "tsx/esm/api";

register();
const { main } = await import("../compiler/cli.ts");
process.exitCode = await main(process.argv.slice(2));
