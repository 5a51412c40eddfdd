// Outside vitest (test/fuzz/run.ts): import this before the compiler to get the fast emission stand-ins (see flag.ts).
import { register } from "node:module";

register("./hooks.mjs", import.meta.url);
