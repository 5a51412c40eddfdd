// lower()'s contract, on hand-built models (pipeline.ts): every local a
// function reads is defined before it in scope, every literal buffer index is
// inside its buffer, the layout is the plan's, every kernel call names a
// kernel whose addresses lie in the module's memory, and the same plan lowers
// to the same statements. A 100,000-node chain lowers (nothing recursive over
// graph depth).
import { describe, expect, it } from "vitest";
import { Graph, type Node } from "../../compiler/ir/graph.ts";
import type { Program } from "../../compiler/ir/program.ts";
import * as S from "../../compiler/ir/sexpr.ts";
import type { SExpr } from "../../compiler/ir/sexpr.ts";
import { size } from "../../compiler/ir/shape.ts";
import { isMatmul } from "../../compiler/lower/kernel.ts";
import { type Lowered, lower, type Stmt } from "../../compiler/lower/lower.ts";
import { planMemory } from "../../compiler/plan/memory.ts";
import { schedule } from "../../compiler/plan/schedule.ts";
import { MODELS, planOf } from "./pipeline.ts";

/** Names read before they are defined in scope (`n`, the batch count, is a parameter). */
function undefinedReads(stmts: readonly Stmt[]): string[] {
  const bad: string[] = [];
  const scopes: Set<string>[] = [new Set(["n"])];
  const known = (nm: string) => scopes.some((s) => s.has(nm));
  const check = (e: SExpr) => {
    for (const r of S.refs(e)) if (!known(r)) bad.push(r);
  };
  const visit = (ss: readonly Stmt[]) => {
    for (const s of ss) {
      if (s.k === "comment" || s.k === "call") continue;
      if (s.k === "for") {
        check(s.n);
        if (s.from) check(s.from);
        scopes.push(new Set([s.v]));
        visit(s.body);
        scopes.pop();
        continue;
      }
      check(s.e);
      if (s.k === "set") check(s.target);
      else scopes[scopes.length - 1]!.add(s.name);
    }
  };
  visit(stmts);
  return bad;
}

/** Literal indices out of their buffer's bounds. */
function outOfBounds(l: Lowered, stmts: readonly Stmt[]): string[] {
  const L = l.layout;
  const sizes: Record<string, number> = { params: L.paramSize, grads: L.paramSize, inputs: L.inputSize, arena: L.arenaSize };
  const bad: string[] = [];
  const visitE = (e: SExpr): void => {
    if (e.k === "idx") {
      if (typeof e.i === "number" && !(e.i >= 0 && e.i < sizes[e.arr]!)) bad.push(`${e.arr}[${e.i}]`);
      if (typeof e.i !== "number") visitE(e.i);
    } else if (e.k === "un") visitE(e.x);
    else if (e.k === "bin") (visitE(e.a), visitE(e.b));
    else if (e.k === "call" || e.k === "math") e.args.forEach(visitE);
    else if (e.k === "cond") (visitE(e.c), visitE(e.a), visitE(e.b));
  };
  const visit = (ss: readonly Stmt[]) => {
    for (const s of ss) {
      if (s.k === "for") visit(s.body);
      else if (s.k === "set") (visitE(s.target), visitE(s.e));
      else if (s.k === "const" || s.k === "let") visitE(s.e);
    }
  };
  visit(stmts);
  return bad;
}

const calls = (ss: readonly Stmt[]): string[] => ss.flatMap((s) => (s.k === "call" ? [s.fn] : s.k === "for" ? calls(s.body) : []));

describe("lower", () => {
  for (const [label, { build, opts }] of Object.entries(MODELS)) {
    describe(label, () => {
      const { program, plan } = planOf(build, opts);
      const l = lower(plan);
      const fns = { forward: l.forward, backward: l.backward, ...(l.step ? { step: l.step } : {}) };

      it("defines every local before reading it", () => {
        for (const [fn, stmts] of Object.entries(fns)) expect(undefinedReads(stmts), fn).toEqual([]);
      });

      it("indexes buffers in bounds", () => {
        for (const [fn, stmts] of Object.entries(fns)) expect(outOfBounds(l, stmts), fn).toEqual([]);
      });

      it("lays the module out as planned", () => {
        const L = l.layout;
        expect(L.arenaSize).toBe(plan.totalArenaSize);
        expect(L.lossOffset).toBe(program.loss ? plan.lossOffset : undefined);
        expect(L.params.map((s) => s.offset)).toEqual(L.params.map((_, i) => L.params.slice(0, i).reduce((a, s) => a + s.size, 0)));
        expect(L.paramSize).toBe(L.params.reduce((a, s) => a + s.size, 0));
        expect(L.outputs.map((o) => o.offset)).toEqual(plan.outputOffsets);
        expect(L.memory !== undefined).toBe(l.kernels.length > 0);
        expect(l.sgd).toBe(l.kernels.length ? "wasm" : l.step && L.paramSize <= 64 ? "unrolled" : "loop");
      });

      it("calls only its kernels, whose operands lie in the module's memory", () => {
        const names = new Set(l.kernels.map((k) => k.name));
        for (const stmts of Object.values(fns)) for (const c of calls(stmts)) expect(names.has(c), c).toBe(true);
        const bytes = (l.layout.memory?.pages ?? 0) * 65536;
        for (const k of l.kernels.filter(isMatmul)) {
          expect(k.M4 % 4).toBe(0);
          for (const at of [k.aBase, k.bBase, k.cBase]) expect(at % 4 === 0 && at >= 0 && at < bytes).toBe(true);
          expect(k.cBase + k.M4 * k.N * 4).toBeLessThanOrEqual(l.layout.memory!.arena + l.layout.arenaSize * 4);
        }
      });

      it("is deterministic", () => {
        expect(lower(plan)).toEqual(l);
      });
    });
  }

  it("puts the wasm kernels' epilogues on the registers when they can be, and keeps their rows' JS tail", () => {
    const { plan } = planOf(MODELS["wasm layers (relu epilogue, Wᵀ kernel)"]!.build, { backend: "wasm" });
    const l = lower(plan);
    expect(l.kernels.filter(isMatmul).some((k) => k.epilogue !== undefined)).toBe(true); // relu(acc + b), the bias loaded per column
    expect(l.kernels.filter(isMatmul).some((k) => k.bT)).toBe(true);
  });

  it("lowers a 100,000-node chain (unrolled scalars) without recursing over its depth", () => {
    const g = new Graph();
    const x = g.mk("param", [], { name: "x", shape: [] });
    let y: Node = x;
    for (let k = 0; k < 100_000; k++) y = g.mk(k % 2 ? "tanh" : "sin", [y]);
    const program: Program = {
      model: { name: "chain", source: "test", graph: g, inputs: [], params: [{ name: "x", node: x, shape: [] }], outputs: [{ name: "y", node: y }], names: new Map(), where: new Map() },
      outputs: [{ name: "y", node: y }],
      grads: [],
      adjoints: new Map(),
      contributions: [],
      origin: new Map(),
      names: new Map(),
    };
    const l = lower(planMemory(schedule(program)));
    expect(l.forward.filter((s) => s.k === "const").length).toBeGreaterThan(100_000);
    expect(size(l.layout.outputs[0]!.shape)).toBe(1);
  });
});
