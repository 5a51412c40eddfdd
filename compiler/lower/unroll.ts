/**
 * Lowering: every tensor element becomes a scalar `const` (small models are
 * fully unrolled), views and constants become aliases, and the arena layout
 * is fixed: outputs, then the forward values the backward pass reads.
 *
 * The result is a list of statements per function; the emitter only prints.
 */
import type { Node } from "../ir/graph.ts";
import { opDef } from "../ir/ops.ts";
import * as S from "../ir/sexpr.ts";
import type { SExpr } from "../ir/sexpr.ts";
import { type Shape, size } from "../ir/shape.ts";
import type { Init } from "../ir/model.ts";
import type { Schedule } from "../plan/schedule.ts";

export type Stmt =
  | { readonly k: "comment"; readonly text: string }
  | { readonly k: "const"; readonly name: string; readonly e: SExpr }
  | { readonly k: "store"; readonly arr: Buffer; readonly i: number; readonly e: SExpr }
  | { readonly k: "return"; readonly e: SExpr };

/** The buffers every generated function takes, by their parameter names. */
export const BUFFERS = ["params", "inputs", "arena", "grads"] as const;
export type Buffer = (typeof BUFFERS)[number];

export interface Slot {
  readonly name: string;
  readonly shape: Shape;
  readonly offset: number;
  readonly size: number;
}

export interface Layout {
  readonly name: string;
  readonly source: string;
  readonly params: readonly (Slot & { readonly init: Init })[];
  readonly paramSize: number;
  readonly inputs: readonly (Slot & { readonly range?: readonly [number, number] })[];
  readonly inputSize: number;
  /** Outputs live at the start of the arena. */
  readonly outputs: readonly Slot[];
  /** Outputs plus the forward values saved for backward. */
  readonly arenaSize: number;
  readonly hasLoss: boolean;
}

export interface Lowered {
  readonly layout: Layout;
  readonly forward: readonly Stmt[];
  readonly backward: readonly Stmt[];
  /** Helper functions the statements call (by name), e.g. `nthRoot`. */
  readonly helpers: readonly string[];
}

/** Names the emitted module itself uses; spec names that equal one get a suffix. */
const RESERVED = new Set([...BUFFERS, "Math", "layout", "forward", "backward", "nthRoot", "Buf"]);

class Names {
  private readonly used = new Set(RESERVED);
  fresh(want: string): string {
    let n = want;
    while (this.used.has(n)) n += "_";
    this.used.add(n);
    return n;
  }
}

const slots = <T extends { name: string; shape: Shape }>(xs: readonly T[]) => {
  let off = 0;
  const out = xs.map((x) => {
    const s = { ...x, shape: [...x.shape], offset: off, size: size(x.shape) };
    off += s.size;
    return s;
  });
  return { slots: out, total: off };
};

export function lower(s: Schedule): Lowered {
  const p = s.program;
  const m = p.model;
  const names = new Names();
  const params = slots(m.params.map((l) => ({ name: l.name, shape: l.shape, init: l.init ?? ("xavier" as Init) })));
  const inputs = slots(m.inputs.map((l) => ({ name: l.name, shape: l.shape, ...(l.range ? { range: l.range } : {}) })));
  const outputs = slots(p.outputs.map((o) => ({ name: o.name, shape: o.node.shape })));
  const leafSlot = new Map<number, { arr: Buffer; offset: number }>();
  m.params.forEach((l, i) => leafSlot.set(l.node.id, { arr: "params", offset: params.slots[i]!.offset }));
  m.inputs.forEach((l, i) => leafSlot.set(l.node.id, { arr: "inputs", offset: inputs.slots[i]!.offset }));

  // A named view (reshape of a summed bias gradient, say) lends its name to the value it views.
  const spec = new Map(p.names);
  for (const [id, name] of p.names) {
    let n = [...s.forward, ...s.backward].find((x) => x.id === id);
    while (n && opDef(n.op).kind === "view" && !spec.has(n.inputs[0]!.id)) spec.set((n = n.inputs[0]!).id, name);
  }
  let counter = 0;
  const base = new Map<number, string>();
  const baseName = (n: Node) => {
    let b = base.get(n.id);
    if (!b) base.set(n.id, (b = names.fresh(spec.get(n.id) ?? `${n.op}${counter++}`)));
    return b;
  };
  const elemName = (n: Node, i: number) => (n.shape.length === 0 ? baseName(n) : names.fresh(`${baseName(n)}_${i}`));
  /** How a comment refers to a node: its name, a literal, or a view of one. */
  const label = (n: Node): string =>
    n.op === "const"
      ? S.printNum(n.attrs.value as number)
      : n.op === "transpose"
        ? `${label(n.inputs[0]!)}ᵀ`
        : opDef(n.op).kind === "view"
          ? label(n.inputs[0]!)
          : (base.get(n.id) ?? spec.get(n.id) ?? n.op);

  const elems = new Map<number, SExpr[]>();
  const definedIn = new Map<string, "forward" | "backward">();

  const run = (nodes: readonly Node[], fn: "forward" | "backward"): Stmt[] => {
    const out: Stmt[] = [];
    const leafLoads: Stmt[] = [];
    for (const n of nodes) {
      const def = opDef(n.op);
      if (def.kind === "leaf" && n.op !== "const") {
        const slot = leafSlot.get(n.id)!;
        // Both functions load leaves into locals of the same names.
        const es = elems.get(n.id) ?? Array.from({ length: size(n.shape) }, (_, i) => S.ref(elemName(n, i)));
        es.forEach((e, i) =>
          leafLoads.push({ k: "const", name: (e as { name: string }).name, e: S.idx(slot.arr, slot.offset + i) }),
        );
        elems.set(n.id, es);
        continue;
      }
      const ins = n.inputs.map((i) => elems.get(i.id)!);
      const temps: Stmt[] = [];
      let t = 0;
      const ctx = {
        temp: (e: SExpr) => {
          const name = names.fresh(`${baseName(n)}_t${t++}`);
          temps.push({ k: "const", name, e });
          definedIn.set(name, fn);
          return S.ref(name);
        },
      };
      const es = def.lower!(ins, n, ctx);
      if (def.kind === "view" || n.op === "const") {
        elems.set(n.id, es);
        continue;
      }
      const origin = p.origin.get(n.id);
      baseName(n);
      const what = `${label(n)} = ${n.op}(${n.inputs.map(label).join(", ")})`;
      // Backward lines say which primal op's derivative rule they come from.
      out.push({ k: "comment", text: origin ? `${what}  ⟵ ∂ ${origin.op} ${label(origin)}` : what });
      out.push(...temps);
      const refs = es.map((e, i) => {
        const name = elemName(n, i);
        out.push({ k: "const", name, e });
        definedIn.set(name, fn);
        return S.ref(name);
      });
      elems.set(n.id, refs);
    }
    return [...leafLoads, ...out];
  };

  const fwd = run(s.forward, "forward");
  // Backward sees forward values by name; those it reads get saved in the arena.
  const bwd = run(s.backward, "backward");
  p.grads.forEach((g, i) =>
    elems.get(g.node.id)!.forEach((e, j) => bwd.push({ k: "store", arr: "grads", i: params.slots[i]!.offset + j, e })),
  );
  const bwdFinal = dropUnused(bwd);
  const needed = new Set<string>();
  for (const st of bwdFinal) if (st.k !== "comment") S.refs(st.e, needed);
  const saved = [...needed].filter((n) => definedIn.get(n) === "forward").sort((a, b) => fwdOrder(fwd, a) - fwdOrder(fwd, b));
  // Outputs come first in the arena; a saved value that is an output element is read from there.
  const savedSlot = new Map<string, number>();
  if (p.outputs.length) fwd.push({ k: "comment", text: "outputs" });
  p.outputs.forEach((o, i) =>
    elems.get(o.node.id)!.forEach((e, j) => {
      const at = outputs.slots[i]!.offset + j;
      fwd.push({ k: "store", arr: "arena", i: at, e });
      if (e.k === "ref" && !savedSlot.has(e.name)) savedSlot.set(e.name, at);
    }),
  );
  let arenaOff = outputs.total;
  const toSave = saved.filter((n) => !savedSlot.has(n));
  if (toSave.length) fwd.push({ k: "comment", text: "saved for backward" });
  for (const n of toSave) {
    savedSlot.set(n, arenaOff);
    fwd.push({ k: "store", arr: "arena", i: arenaOff++, e: S.ref(n) });
  }
  if (p.loss) fwd.push({ k: "return", e: elems.get(p.loss.id)![0]! });

  const loads: Stmt[] = saved
    .filter((n) => needed.has(n))
    .map((n) => ({ k: "const", name: n, e: S.idx("arena", savedSlot.get(n)!) }));
  const forward = dropUnused(fwd);
  const backward = dropUnused([...loads, ...bwdFinal]);
  const helpers = new Set<string>();
  for (const st of [...forward, ...backward]) if (st.k !== "comment") collectCalls(st.e, helpers);

  return {
    layout: {
      name: m.name,
      source: m.source,
      params: params.slots,
      paramSize: params.total,
      inputs: inputs.slots,
      inputSize: inputs.total,
      outputs: outputs.slots,
      arenaSize: arenaOff,
      hasLoss: p.loss !== undefined,
    },
    forward,
    backward,
    helpers: [...helpers].sort(),
  };
}

function fwdOrder(stmts: readonly Stmt[], name: string): number {
  return stmts.findIndex((s) => s.k === "const" && s.name === name);
}

/** Removes `const`s nobody reads (every statement is pure), and comments left with no statement. */
function dropUnused(stmts: readonly Stmt[]): Stmt[] {
  let cur = [...stmts];
  for (;;) {
    const used = new Set<string>();
    for (const s of cur) if (s.k !== "comment" && s.k !== "const") S.refs(s.e, used);
    for (const s of cur) if (s.k === "const") S.refs(s.e, used);
    const next = cur.filter((s) => s.k !== "const" || used.has(s.name));
    if (next.length === cur.length) break;
    cur = next;
  }
  // A comment heads the statements up to the next comment; drop it if those are gone.
  return cur.filter((s, i) => s.k !== "comment" || (cur[i + 1] !== undefined && cur[i + 1]!.k !== "comment"));
}

function collectCalls(e: SExpr, out: Set<string>): void {
  switch (e.k) {
    case "call":
      if (!e.fn.startsWith("Math.")) out.add(e.fn);
      e.args.forEach((a) => collectCalls(a, out));
      break;
    case "un":
      collectCalls(e.x, out);
      break;
    case "bin":
      collectCalls(e.a, out);
      collectCalls(e.b, out);
      break;
    case "cond":
      [e.c, e.a, e.b].forEach((a) => collectCalls(a, out));
      break;
  }
}
