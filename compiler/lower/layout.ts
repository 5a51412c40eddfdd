/**
 * The module's ABI (runtime/abi.ts `Layout`): where each parameter, input and
 * output lives in the flat buffers and, for modules with wasm kernels, where
 * each buffer sits in the module's one WebAssembly.Memory.
 */
import { type Node, topo } from "../ir/graph.ts";
import { type Model, own } from "../ir/model.ts";
import type { Shape } from "../ir/shape.ts";
import { size } from "../ir/shape.ts";
import type { Plan } from "../plan/memory.ts";
import type { Init, Layout, Slot } from "../../runtime/abi.ts";
import type { Regions } from "./context.ts";
import { withOptimizerState } from "./optimizer-state.ts";
import { batchSplit } from "./batch-split.ts";

const slots = <T extends { name: string; shape: Shape }>(xs: readonly T[]) => {
  let off = 0;
  const out = xs.map((x) => {
    const s = { ...x, shape: [...x.shape], offset: off, size: size(x.shape) };
    off += s.size;
    return s;
  });
  return { slots: out, total: off };
};

const align16 = (bytes: number) => Math.ceil(bytes / 16) * 16;

/** The layout of a plan's module, without `memory` (see `withMemory`), and the byte regions wasm kernels address. */
export function layoutOf(plan: Plan): { layout: Layout; regions: Regions } {
  const p = plan.program;
  const m = p.model;
  const params = slots(m.params.map((l) => ({ name: l.name, shape: l.shape, init: l.init ?? ("xavier" as Init) })));
  const targets = crossEntropyTargets(p.loss);
  const inputs = slots(
    m.inputs.map((l) => ({
      name: l.name,
      shape: l.shape,
      ...(l.range ? { range: l.range } : {}),
      ...(l.batched ? { batched: true as const } : {}),
      ...(l.dropout !== undefined ? { dropout: l.dropout } : {}),
      ...(targets.has(l.node.id) ? { target: targets.get(l.node.id)! } : {}),
    })),
  );
  const outputs: Slot[] = p.outputs.map((o, i) => ({ name: o.name, shape: [...o.node.shape], offset: plan.outputOffsets[i]!, size: size(o.node.shape) }));
  // With wasm, all four buffers are views of one WebAssembly.Memory: params, grads, inputs, arena.
  const grads = align16(params.total * 4);
  const inputsAt = align16(grads + params.total * 4);
  const regions = { params: 0, grads, inputs: inputsAt, arena: align16(inputsAt + inputs.total * 4) };
  const layout: Layout = {
    name: m.name,
    source: m.source,
    params: params.slots,
    paramSize: params.total,
    inputs: inputs.slots,
    inputSize: inputs.total,
    outputs,
    arenaSize: plan.totalArenaSize,
    ...(p.loss ? { lossOffset: plan.lossOffset } : {}),
    ...batchField(m),
    hasLoss: p.loss !== undefined,
  };
  const split = batchSplit(p.loss, layout.batch);
  if (split) (layout as { split?: "mean" | "sum" }).split = split;
  return { layout, regions };
}

/**
 * Inputs the loss reads as cross-entropy targets (through views): softmaxCE's rows must be
 * distributions, bceLogits' values probabilities. The trainer checks the data it is given against
 * this (a target of 5 or -1 trains to a negative loss without it).
 */
function crossEntropyTargets(loss: Node | undefined): Map<number, "distribution" | "probability"> {
  const out = new Map<number, "distribution" | "probability">();
  if (!loss) return out;
  const VIEWS = new Set(["broadcast", "reshape", "transpose"]);
  for (const n of topo([loss])) {
    const kind = n.op === "softmaxCE" ? "distribution" : n.op === "bceLogits" ? "probability" : undefined;
    if (!kind) continue;
    let t = n.inputs[1]!;
    while (VIEWS.has(t.op)) t = t.inputs[0]!;
    if (t.op === "input" && out.get(t.id) !== "distribution") out.set(t.id, kind);
  }
  return out;
}

/** The batch size as an own, whole-number field of the model (an inherited `batch` is not the model's). */
function batchField(m: Model): { batch?: number } {
  const b = own(m, "batch");
  if (b === undefined) return {};
  if (typeof b !== "number" || !Number.isSafeInteger(b) || b < 1) throw new TypeError(`gradc: the model's batch size is not a whole number (${typeof b})`);
  return { batch: b };
}

/** The layout of a module with wasm kernels: its buffers' regions and the memory's pages. */
export function withMemory(layout: Layout, plan: Plan, regions: Regions): Layout {
  const pages = Math.ceil((regions.arena + (plan.scratchOffset + plan.scratchSize) * 4) / 65536);
  // Keys in the order the ABI has always printed them (memory after outputs and arenaSize).
  const { lossOffset, batch, hasLoss, ...head } = layout;
  return withOptimizerState({
    ...head,
    memory: { ...regions, pages },
    ...(lossOffset !== undefined ? { lossOffset } : {}),
    ...(batch !== undefined ? { batch } : {}),
    hasLoss,
  }); // and room for the trainer's optimizer state after it (modules with a loss)
}
