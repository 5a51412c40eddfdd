/**
 * The memory a compiled model needs, checked at compile time against the limit that applies:
 * with wasm kernels, params, grads, inputs and the arena share one WebAssembly.Memory — wasm32
 * addresses at most 65,536 pages of 64 KiB (4 GiB); without, each of the four is its own typed
 * array, at most 2^32 bytes (V8, 64-bit). A model over the limit is an E_TOO_BIG error naming its
 * largest tensors, instead of binaryen's "initial memory must be <= 4GB" and a stack trace.
 */
import { GradcError } from "../errors.ts";
import type { Lowered } from "./lower.ts";
import { type Model, own } from "../ir/model.ts";
import { topo } from "../ir/graph.ts";

export const WASM_MAX_BYTES = 65536 * 65536;
export const JS_MAX_ARRAY_BYTES = 2 ** 32;

const gib = (bytes: number) => `${(bytes / 2 ** 30).toFixed(2)} GiB`;

export function checkSize(l: Lowered, bytesPerFloat: 4 | 8): void {
  const L = l.layout;
  const memory = own(L, "memory");
  const tensors = [
    ...L.params.map((p) => ({ what: `param '${p.name}' [${p.shape.join(",")}]`, floats: p.size * 2 })), // + its gradient
    ...L.inputs.map((x) => ({ what: `input '${x.name}' [${x.shape.join(",")}]`, floats: x.size })),
    { what: "intermediates (the arena)", floats: L.arenaSize },
    ...(memory?.state !== undefined ? [{ what: "the optimizer's state (two floats per param, for momentum and Adam)", floats: 2 * L.paramSize }] : []),
  ].sort((a, b) => b.floats - a.floats);
  const biggest = tensors
    .slice(0, 3)
    .map((t) => `${t.what} ${gib(t.floats * (memory ? 4 : bytesPerFloat))}${t.what.startsWith("param") ? " with its gradient" : ""}`)
    .join(", ");
  if (memory) {
    const bytes = memory.pages * 65536;
    if (bytes > WASM_MAX_BYTES)
      throw new GradcError("E_TOO_BIG", `the model needs ${gib(bytes)} of WebAssembly memory; wasm32 addresses at most 4 GiB (biggest: ${biggest})`, {
        file: L.source,
        hint: "params, gradients, optimizer state, inputs and intermediates share one wasm32 memory: shrink the largest tensors or the batch size, or split the model",
      });
    return;
  }
  const arrays = [
    ["params", L.paramSize],
    ["grads", L.paramSize],
    ["inputs", L.inputSize],
    ["arena", L.arenaSize],
  ] as const;
  for (const [name, floats] of arrays)
    if (floats * bytesPerFloat > JS_MAX_ARRAY_BYTES)
      throw new GradcError("E_TOO_BIG", `the model's ${name} buffer needs ${gib(floats * bytesPerFloat)}; a JS typed array holds at most 4 GiB (biggest: ${biggest})`, {
        file: L.source,
        hint: "shrink the largest tensors or the batch size, or split the model",
      });
}

/** The largest finite float32 and the smallest positive (subnormal) one. */
const F32_MAX = 3.4028234663852886e38;
const F32_MIN = 1.401298464324817e-45;

/**
 * A float32 build stores every constant as float32: one beyond ±3.4e38 becomes ±Infinity, a nonzero
 * one below 1.4e-45 becomes 0 — `w * 1e39 / 1e39` is NaN in float32 and w in float64. Refused, at
 * the constant's spec line, instead of computed quietly wrong.
 */
export function checkFloat32Constants(model: Model): void {
  const roots = [...(model.loss ? [model.loss] : []), ...model.outputs.map((o) => o.node)];
  for (const n of topo(roots)) {
    if (n.op !== "const") continue;
    const v = n.attrs.value as number;
    const a = Math.abs(v);
    if (!Number.isFinite(v) || (a <= F32_MAX && (a === 0 || a >= F32_MIN))) continue;
    throw new GradcError("E_BAD_ATTR", `constant ${v} is outside float32's range: a float32 build would make it ${a > F32_MAX ? (v > 0 ? "Infinity" : "-Infinity") : "0"}`, {
      ...(model.where.get(n.id) ?? { file: model.source }),
      op: "const",
      hint: "float32 holds magnitudes from 1.4e-45 to 3.4e38: rescale the expression (e.g. divide before multiplying)",
    });
  }
}
