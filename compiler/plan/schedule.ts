/**
 * Scheduling: which nodes each generated function computes, in what order.
 * `forward` computes the loss and outputs; `backward` computes the gradients,
 * reusing (not recomputing) every forward node it needs. The memory plan
 * (memory.ts) places their values in the arena.
 */
import { type Node, topo } from "../ir/graph.ts";
import type { Program } from "../ir/program.ts";

export interface Schedule {
  readonly program: Program;
  readonly forward: readonly Node[];
  readonly backward: readonly Node[];
}

export function schedule(p: Program): Schedule {
  const forward = topo([...(p.loss ? [p.loss] : []), ...p.outputs.map((o) => o.node)]);
  const inForward = new Set(forward.map((n) => n.id));
  const backward = topo(p.grads.map((g) => g.node)).filter(
    (n) => !inForward.has(n.id) || n.op === "param" || n.op === "input",
  );
  return { program: p, forward, backward };
}
