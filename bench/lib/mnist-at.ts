/**
 * examples/mnist/model.ts compiled for a batch of `b` rows into `dir`, loaded as a module whose `url` a training
 * thread can import (bench/threads-ab.ts and bench/threads-profile.ts: one thread's chunk vs the whole batch).
 */
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { loadSpec } from "../../compiler/frontend/load.ts";
import { compile } from "../../compiler/index.ts";
import type { Module } from "../../runtime/types.ts";

const REPO = path.resolve(import.meta.dirname, "../..");

export async function mnistAt(dir: string, b: number): Promise<Module> {
  const spec = readFileSync(path.join(REPO, "examples/mnist/model.ts"), "utf8").replace("m.batch(64)", `m.batch(${b})`);
  const file = path.join(dir, `mnist${b}.ts`);
  writeFileSync(file, spec);
  const { js } = await compile(await loadSpec(file, { name: "mnist" }));
  const out = path.join(dir, `mnist${b}.mjs`);
  writeFileSync(out, js);
  const url = pathToFileURL(out).href;
  const ns = (await import(url)) as Module;
  return { layout: ns.layout, buffers: ns.buffers, forward: ns.forward, backward: ns.backward, sgd: ns.sgd, optimizerKernels: ns.optimizerKernels, url } as Module;
}
