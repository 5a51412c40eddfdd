// What compiler/emit/emit.ts gets for "prettier" under test/fuzz/fast-emit/hooks.mjs.
import * as real from "prettier";
import { fastPrettier } from "./stubs.ts";

export const { format } = fastPrettier(real);
