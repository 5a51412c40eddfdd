// The memory plan's contract, on hand-built models (test/lower/pipeline.ts):
// every scheduled node has a plan, stored values whose lifetimes overlap never
// share arena floats, outputs sit at the start of the arena in order, fused
// nodes are not stored, and matmul scratch lies after the loss slot, aligned.
import { describe, expect, it } from "vitest";
import type { Node } from "../../compiler/ir/graph.ts";
import { opDef } from "../../compiler/ir/ops.ts";
import { size } from "../../compiler/ir/shape.ts";
import { groupRoot, type Plan } from "../../compiler/plan/memory.ts";
import { matmulOnWasm } from "../../compiler/plan/target.ts";
import { MODELS, planOf } from "../lower/pipeline.ts";

/** Kernel position of each stored arena value and of its last reader (views looked through), as the plan defines them. */
function lifetimes(plan: Plan): { n: Node; from: number; to: number; off: number }[] {
  const all = [...plan.forward, ...plan.backward];
  const pos = (n: Node) => plan.nodes.get(groupRoot(plan.nodes, n.id))!.pos;
  const last = new Map<number, number>();
  for (const u of all) {
    if (opDef(u.op).kind === "view" || opDef(u.op).kind === "leaf") continue;
    for (const x of u.inputs) {
      const src = plan.source(x);
      last.set(src.id, Math.max(last.get(src.id) ?? -1, pos(u)));
    }
  }
  const out: { n: Node; from: number; to: number; off: number }[] = [];
  const seen = new Set<number>();
  for (const n of all) {
    const np = plan.nodes.get(n.id)!;
    if (seen.has(n.id) || np.store?.arr !== "arena") continue;
    seen.add(n.id);
    out.push({ n, from: pos(n), to: Math.max(pos(n), last.get(n.id) ?? pos(n)), off: np.store.offset });
  }
  return out;
}

describe("planMemory", () => {
  for (const [label, { build, opts }] of Object.entries(MODELS)) {
    describe(label, () => {
      const { program, plan } = planOf(build, opts);

      it("plans every scheduled node, unrolling by work", () => {
        for (const n of [...plan.forward, ...plan.backward]) {
          const np = plan.nodes.get(n.id);
          expect(np, `${n.op}#${n.id}`).toBeDefined();
          if (np!.mode === "loop") expect(size(n.shape)).toBeGreaterThan(0);
        }
      });

      it("stores no fused node, and fuses only into a consumer in the same function", () => {
        for (const [id, np] of plan.nodes) {
          if (np.fusedInto === undefined) continue;
          expect(np.store, `#${id}`).toBeUndefined();
          expect(plan.nodes.get(np.fusedInto)!.fn).toBe(np.fn);
        }
      });

      it("puts the outputs first, in order, and keeps live values apart", () => {
        let off = 0;
        program.outputs.forEach((o, i) => {
          expect(plan.outputOffsets[i]).toBe(off);
          off += size(o.node.shape);
        });
        const ls = lifetimes(plan);
        for (const a of ls)
          for (const b of ls) {
            if (a === b) continue;
            const overlapInTime = a.from < b.to && b.from < a.to; // touching ends: in-place reuse is allowed
            const overlapInMemory = a.off < b.off + size(b.n.shape) && b.off < a.off + size(a.n.shape);
            if (overlapInTime && overlapInMemory) expect.fail(`${a.n.op}#${a.n.id} and ${b.n.op}#${b.n.id} share arena floats while both live`);
          }
        expect(plan.arenaSize).toBeLessThanOrEqual(plan.naiveSize);
      });

      it("reserves matmul scratch after the loss slot, 16-byte aligned, inside the arena", () => {
        expect(plan.lossOffset).toBe(plan.arenaSize);
        expect(plan.totalArenaSize).toBeGreaterThanOrEqual(plan.arenaSize + (program.loss ? 1 : 0));
        for (const n of [...plan.forward, ...plan.backward]) {
          const mp = plan.nodes.get(n.id)!.matmul;
          if (n.op !== "matmul" || plan.nodes.get(n.id)!.mode !== "loop") {
            expect(mp).toBeUndefined();
            continue;
          }
          const [M, K] = n.inputs[0]!.shape as [number, number];
          const N = n.inputs[1]!.shape[1]!;
          expect(mp!.wasm).toBe(matmulOnWasm(plan.target, M, N, K, false));
          for (const at of [mp!.aCopy, mp!.bCopy, mp!.bRowMajor]) {
            if (at === undefined) continue;
            expect(at % 4).toBe(0);
            expect(at).toBeGreaterThanOrEqual(plan.scratchOffset);
            expect(at).toBeLessThan(plan.scratchOffset + plan.scratchSize);
          }
        }
        if (plan.scratchSize) expect(plan.totalArenaSize).toBe(plan.scratchOffset + plan.scratchSize);
      });
    });
  }

  it("copies an operand with no strided form to scratch, and a wasm B that is neither row-major nor Wᵀ", () => {
    const copy = planOf(MODELS["matmul operand with no strided form (reshape of a transpose)"]!.build, { unrollLimit: 0 }).plan;
    const mps = [...copy.nodes.values()].flatMap((np) => (np.matmul ? [np.matmul] : []));
    expect(mps.some((mp) => mp.aCopy !== undefined)).toBe(true);
    expect(copy.scratchSize).toBeGreaterThan(0);
    const wasm = planOf(MODELS["wasm layers (relu epilogue, Wᵀ kernel)"]!.build, { backend: "wasm" }).plan;
    const w = [...wasm.nodes.values()].flatMap((np) => (np.matmul ? [np.matmul] : []));
    expect(w.every((mp) => mp.wasm)).toBe(true);
    expect(w.some((mp) => mp.bT)).toBe(true); // dH = dY·W2ᵀ reads W2 as stored (K = 12 is a multiple of 4)
    const js = planOf(MODELS["wasm layers (relu epilogue, Wᵀ kernel)"]!.build, { backend: "js" }).plan;
    expect([...js.nodes.values()].some((np) => np.matmul?.wasm)).toBe(false);
    expect(js.scratchSize).toBe(0);
  });
});
