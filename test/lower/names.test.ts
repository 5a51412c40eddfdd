// Names are stable under unrelated edits: an unnamed value's name comes from
// its op and the named values it reads, not from a counter, so adding a node
// elsewhere in the model renames nothing that was there before: an extra
// output built first (shifting every node id), or an L2 term lowered before
// the rest of the loss (a counter would renumber everything after it).
import { describe, expect, it } from "vitest";
import type { Node } from "../../compiler/ir/graph.ts";
import { lower, type Stmt } from "../../compiler/lower/lower.ts";
import type { B, Leaves } from "../helpers.ts";
import { planOf } from "./pipeline.ts";

const headings = (ss: readonly Stmt[]) => ss.flatMap((s) => (s.k === "comment" && s.heading ? [s.text] : []));

function net(b: B, L: Leaves, extra: boolean, l2 = false): { outputs: Node[]; loss: Node } {
  const x = L.input([1, 3]);
  const w = L.param([3, 2]);
  const v = L.param([2, 1]);
  const t = L.input([1, 1]);
  const outputs: Node[] = [];
  if (extra) outputs.push(b.op("exp", b.op("cos", w))); // unrelated to the loss
  const h = b.op("tanh", b.matmul(x, w));
  const y = b.matmul(h, v);
  outputs.push(y);
  const data = b.sum(b.op("halfSquare", b.sub(y, t)));
  return { outputs, loss: l2 ? b.add(b.sum(b.mul(w, w)), data) : data };
}

describe("names", () => {
  it("do not change when an unrelated node is added", () => {
    const before = lower(planOf((b, L) => net(b, L, false)).plan);
    const after = lower(planOf((b, L) => net(b, L, true)).plan);
    const [fb, bb] = [headings(before.forward), headings(before.backward)];
    const [fa, ba] = [headings(after.forward), headings(after.backward)];
    expect(fb.length).toBeGreaterThan(2);
    for (const h of [...fb, ...bb]) expect([...fa, ...ba]).toContain(h.replace(/\bout0\b/g, "out1"));
  });

  it("do not change when a term is added that is lowered first", () => {
    const before = headings(lower(planOf((b, L) => net(b, L, false)).plan).forward);
    const after = headings(lower(planOf((b, L) => net(b, L, false, true)).plan).forward);
    expect(after.indexOf(before[0]!)).toBeGreaterThan(0); // the new term's lines come first
    for (const h of before.slice(0, -1)) expect(after).toContain(h); // all but the loss line itself
  });

  it("a batch mask, where(batchMask, x, 0), is masked_<x> in both passes; an unrelated node renames nothing", () => {
    // What the DSL's batched mean builds: the padding rows (n..B-1) zeroed before the sum over the batch.
    const masked = (b: B, L: Leaves, extra: boolean) => {
      const x = L.input([4, 3]);
      const w = L.param([3, 2]);
      const outputs: Node[] = extra ? [b.op("exp", w)] : [];
      const rows = b.op("tanh", b.matmul(x, w));
      const mask = b.broadcast(b.reshape(b.g.mk("batchMask", [], { max: 4 }), [4, 1]), [4, 2]);
      return { outputs, loss: b.div(b.sum(b.where(mask, rows, 0)), b.g.mk("batchSize", [], { max: 4 })) };
    };
    const [before, after] = [false, true].map((extra) => {
      const l = lower(planOf((b, L) => masked(b, L, extra)).plan);
      return [...headings(l.forward), ...headings(l.backward)];
    });
    const text = before!.join("\n");
    expect(text).toMatch(/^masked_tanh_i0 = where\(batchMask, tanh_i0, 0\)$/m);
    expect(text).toMatch(/^masked_mul_i0_ = where\(batchMask, mul_i0_, 0\)  ⟵ ∂ tanh tanh_i0$/m);
    expect(text).not.toMatch(/where_/);
    for (const h of before!) expect(after).toContain(h);
  });
});
