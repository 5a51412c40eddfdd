/**
 * The exported mnist model in onnxruntime-web — the engine pages use — run
 * here under Node on its WebAssembly backend (the same .wasm a browser loads;
 * no browser is started), against gradc's float32 forward at a full and a
 * partial batch.
 */
import * as ort from "onnxruntime-web";
import { beforeAll, describe, expect, it } from "vitest";
import type { GeneratedModule } from "../../compiler/emit/load.ts";
import { exportOnnx } from "../../compiler/export/onnx.ts";
import { loadSpec } from "../../compiler/frontend/load.ts";
import type { Model } from "../../compiler/ir/model.ts";
import { initParams } from "../../runtime/index.ts";
import { rng } from "../helpers.ts";
import { compare } from "./compare.ts";

describe("onnxruntime-web runs the exported mnist model", () => {
  let model: Model;
  let mod: GeneratedModule;
  beforeAll(async () => {
    model = await loadSpec("examples/mnist/model.ts");
    mod = (await import("../../generated/mnist.js")) as GeneratedModule;
    ort.env.wasm.numThreads = 1; // no worker threads on a shared machine
  });

  it.each([64, 7])("n = %i", async (n) => {
    const buf = mod.buffers();
    initParams(mod.layout, buf.params, 11);
    const next = rng(n);
    for (let i = 0; i < buf.params.length; i++) buf.params[i]! += 0.2 * (next() - 0.5); // biases too
    const x = mod.layout.inputs.find((s) => s.name === "x")!;
    for (let i = 0; i < x.size; i++) buf.inputs[x.offset + i] = i < n * 784 ? next() : 1e3; // padding rows: junk
    mod.forward(buf.params, buf.inputs, buf.arena, n);
    const s = await ort.InferenceSession.create(exportOnnx(model, buf.params).bytes, { executionProviders: ["wasm"] });
    const out = await s.run({ x: new ort.Tensor("float32", Float32Array.from(buf.inputs.subarray(x.offset, x.offset + n * 784)), [n, 784]) });
    expect(out.probs!.dims).toEqual([n, 10]);
    const probs = mod.layout.outputs[0]!;
    const r = compare(out.probs!.data as Float32Array, buf.arena.subarray(probs.offset, probs.offset + n * 10));
    expect(r.ok, `max abs err ${r.err} at scale ${r.scale}`).toBe(true);
    await s.release();
  });
});
