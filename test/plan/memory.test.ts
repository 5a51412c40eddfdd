// The memory plan's contract, on hand-built models (test/lower/pipeline.ts):
// every scheduled node has a plan, stored values whose lifetimes overlap never
// share arena floats, outputs sit at the start of the arena in order, fused
// nodes are not stored, and matmul scratch lies after the loss slot, aligned.
import { describe, expect, it } from "vitest";
import type { Node } from "../../compiler/ir/graph.ts";
import { opDef } from "../../compiler/ir/ops.ts";
import { size } from "../../compiler/ir/shape.ts";
import { Graph } from "../../compiler/ir/graph.ts";
import type { Program } from "../../compiler/ir/program.ts";
import { lower } from "../../compiler/lower/lower.ts";
import { groupRoot, type Plan, planMemory } from "../../compiler/plan/memory.ts";
import { schedule } from "../../compiler/plan/schedule.ts";
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

  it("plans (and lowers) a 100,000-op chain fused into one loop, through 20,000 stacked views, without recursing over its depth", () => {
    // x [4, 8] → 20,000 reshapes ([32] and back) → 100,000 tanh/sin: one loop kernel whose fused reads walk the whole
    // chain (groupInputs), whose source is found through every view (source, sameOrder).
    const g = new Graph();
    const x = g.mk("param", [], { name: "x", shape: [4, 8] });
    let y: Node = x;
    for (let k = 0; k < 20_000; k++) y = g.mk("reshape", [y], { shape: k % 2 ? [4, 8] : [32] });
    for (let k = 0; k < 100_000; k++) y = g.mk(k % 2 ? "tanh" : "sin", [y]);
    const program: Program = {
      model: { name: "chain", source: "test", graph: g, inputs: [], params: [{ name: "x", node: x, shape: [4, 8] }], outputs: [{ name: "y", node: y }], names: new Map(), where: new Map() },
      outputs: [{ name: "y", node: y }],
      grads: [],
      adjoints: new Map(),
      contributions: [],
      origin: new Map(),
      names: new Map(),
    };
    const plan = planMemory(schedule(program));
    const loops = [...plan.nodes.entries()].filter(([, np]) => np.mode === "loop");
    expect(loops.length).toBe(100_000);
    expect(loops.filter(([, np]) => np.fusedInto === undefined).map(([id]) => id)).toEqual([y.id]); // one kernel
    expect(plan.source(program.model.graph.mk("reshape", [x], { shape: [32] })).id).toBe(x.id);
    const l = lower(plan);
    const fors = l.forward.filter((s) => s.k === "for");
    expect(fors.length).toBe(1);
  }, 30_000);
});
