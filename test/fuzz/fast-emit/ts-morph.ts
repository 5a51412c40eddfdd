// What compiler/emit/emit.ts gets for "ts-morph" under test/fuzz/fast-emit/hooks.mjs.
import * as real from "ts-morph";
import { fastTsMorph } from "./stubs.ts";

export const { Project, VariableDeclarationKind } = fastTsMorph(real);
