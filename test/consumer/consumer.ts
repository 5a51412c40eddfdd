// Type-checked by test/consumer/run.mjs inside a fresh app, against the installed package and the
// compiled generated/xor.d.ts, with tsc --strict --noUncheckedIndexedAccess --exactOptionalPropertyTypes
// and no skipLibCheck, under moduleResolution node16, nodenext and bundler.
import { adam, browserPlatform, dataset, RuntimeError, type Trainer } from "gradc/runtime";
import { buffers, createTrainer, forward, layout } from "./generated/xor.js";

const data = dataset({ x: [[0, 0], [0, 1], [1, 0], [1, 1]], t: [0, 1, 1, 0] });
// The trainer is typed by the model's input and output names.
const trainer: Trainer<"x" | "t", "y"> = createTrainer({ optimizer: adam({ lr: 0.05 }), seed: 1, platform: browserPlatform });
trainer.fit(data, { epochs: 10 });
const { loss } = trainer.evaluate(data);
const text: string = trainer.checkpoint();
trainer.restore(new TextEncoder().encode(text));
// Inference alone: the layout's literal types come through the .d.ts.
const b = buffers();
forward(b.params, b.inputs, b.arena);
const name: "xor" = layout.name;
const out = layout.outputs[0];
const y: Float32Array = b.arena.subarray(out.offset, out.offset + out.size);
export const result: [string, number, number, boolean] = [name, loss, y.length, new RuntimeError("E_ARG", "x") instanceof Error];
