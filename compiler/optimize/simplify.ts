/**
 * IEEE-safe algebraic simplification, constant folding and dead-code
 * elimination, as a list of (pattern, rewrite) rules run to a fixed point.
 *
 * Safe means: no rewrite changes a result for any input, NaN, ±Infinity and
 * the sign of zero included. So `x * 1 -> x` and `x - 0 -> x` are in, while
 * `x * 0 -> 0` (NaN * 0 is NaN), `x + 0 -> x` (-0 + 0 is +0) and
 * `-(x - y) -> y - x` (-(0) is -0, 0 - 0 is +0) are out.
 */
import { B, type Node, topo } from "../ir/graph.ts";
import { opDef } from "../ir/ops.ts";
import type { Origin, Program } from "../ir/program.ts";
import { sameShape } from "../ir/shape.ts";

type Rule = (n: Node, b: B) => Node | undefined;

/** A constant, possibly seen through views (reshaped or broadcast). */
const constValue = (n: Node): number | undefined =>
  n.op === "const" ? (n.attrs.value as number) : opDef(n.op).kind === "view" ? constValue(n.inputs[0]!) : undefined;
const isConst = (n: Node, v?: number) => {
  const c = constValue(n);
  return c !== undefined && (v === undefined || c === v);
};
const fit = (b: B, x: Node, like: Node) => (sameShape(x.shape, like.shape) ? x : b.broadcast(x, like.shape));

const RULES: Rule[] = [
  // Constant folding: an elementwise op of (reshaped, broadcast) constants is a constant of its shape.
  (n, b) => {
    if (opDef(n.op).kind !== "elementwise" || !n.inputs.every((i) => isConst(i))) return undefined;
    const cs = n.inputs.map((i) => b.c(constValue(i)!));
    const v = opDef(n.op).eval!(cs.map((c) => Float64Array.of(c.attrs.value as number)), { ...n, shape: [], inputs: cs })[0]!;
    return Number.isNaN(v) ? undefined : fit(b, b.c(v), n); // a NaN stays the expression that makes it
  },
  // x - 0 and x + -0 are x for every x; x + 0 is not (-0 + 0 is +0)
  (n, b) => {
    const [x, y] = n.inputs;
    if (n.op === "sub" && Object.is(constValue(y!), 0)) return fit(b, x!, n);
    if (n.op === "add" && Object.is(constValue(y!), -0)) return fit(b, x!, n);
    if (n.op === "add" && Object.is(constValue(x!), -0)) return fit(b, y!, n);
    if (n.op === "sub" && Object.is(constValue(x!), -0)) return fit(b, b.neg(y!), n); // -0 - y is -y, zeros included
    return undefined;
  },
  // x * 1, 1 * x, x / 1, x * -1
  (n, b) => {
    const [x, y] = n.inputs;
    if ((n.op === "mul" || n.op === "div") && constValue(y!) === 1) return fit(b, x!, n);
    if (n.op === "mul" && constValue(x!) === 1) return fit(b, y!, n);
    if (n.op === "mul" && constValue(y!) === -1) return fit(b, b.neg(x!), n);
    if (n.op === "mul" && constValue(x!) === -1) return fit(b, b.neg(y!), n);
    return undefined;
  },
  // x + -y -> x - y and x - -y -> x + y (IEEE defines subtraction so), --x -> x
  (n, b) => {
    const [x, y] = n.inputs;
    if (n.op === "add" && y!.op === "neg") return b.sub(x!, y!.inputs[0]!);
    if (n.op === "sub" && y!.op === "neg") return b.add(x!, y!.inputs[0]!);
    if (n.op === "neg" && x!.op === "neg") return x!.inputs[0]!;
    return undefined;
  },
  // x ^ 1
  (n) => (n.op === "pow" && isConst(n.inputs[1]!, 1) && sameShape(n.inputs[0]!.shape, n.shape) ? n.inputs[0] : undefined),
  // views of views
  (n, b) => {
    const [x] = n.inputs;
    if (n.op === "transpose" && x!.op === "transpose") return x!.inputs[0]!;
    if (n.op === "reshape" && (x!.op === "reshape" || sameShape(x!.shape, n.shape))) return b.reshape(x!.op === "reshape" ? x!.inputs[0]! : x!, n.shape);
    if (n.op === "broadcast" && x!.op === "broadcast") return b.broadcast(x!.inputs[0]!, n.shape);
    // A one-element value broadcasts the same from any shape: drop the reshape in between.
    if (n.op === "broadcast" && x!.op === "reshape" && x!.inputs[0]!.shape.length === 0) return b.broadcast(x!.inputs[0]!, n.shape);
    return undefined;
  },
  // A custom box is its forward expression once autodiff has used its rule: custom(f, x…) -> f
  (n) => (n.op === "custom" ? n.inputs[0] : undefined),
  // where(c, a, a) -> a
  (n) => (n.op === "where" && n.inputs[1] === n.inputs[2] && sameShape(n.inputs[1]!.shape, n.shape) ? n.inputs[1] : undefined),
];

/** Rewrites every node reachable from `roots` to a fixed point of RULES; returns old id -> new node. */
export function rewrite(roots: readonly Node[], b: B, rules: readonly Rule[] = RULES): Map<number, Node> {
  const done = new Map<number, Node>();
  const visit = (n0: Node): Node => {
    // Inputs are already rewritten (topological order); rebuild, then apply rules until none fires.
    let n = n0.inputs.length ? b.g.mk(n0.op, n0.inputs.map((i) => done.get(i.id) ?? visit(i)), n0.attrs) : n0;
    for (let changed = true; changed; ) {
      changed = false;
      for (const r of rules) {
        const m = r(n, b);
        if (m && m !== n) {
          n = m.inputs.some((i) => !done.has(i.id)) ? settle(m) : m;
          changed = true;
          break;
        }
      }
    }
    done.set(n.id, n); // a rewritten node is its own fixed point
    return n;
  };
  // A rule may build nodes whose inputs were never visited; rewrite those too.
  const settle = (m: Node): Node => {
    for (const x of topo(m.inputs)) if (!done.has(x.id)) done.set(x.id, visit(x));
    return b.g.mk(m.op, m.inputs.map((i) => done.get(i.id)!), m.attrs);
  };
  for (const n of topo(roots)) if (!done.has(n.id)) done.set(n.id, visit(n));
  return done;
}

/** The optimize pass: simplified roots; names and origins carried to the nodes they became. DCE follows from rebuilding only what the roots reach. */
export function simplify(p: Program): Program {
  const b = new B(p.model.graph);
  const roots = [...(p.loss ? [p.loss] : []), ...p.outputs.map((o) => o.node), ...p.grads.map((g) => g.node)];
  const m = rewrite(roots, b);
  const to = (n: Node) => m.get(n.id) ?? n;
  const names = new Map<number, string>();
  const origin = new Map<number, Origin>();
  const adjointOf = new Map<number, string>();
  // A gradient node that simplified into a forward value (d = 1·r is the residual r) is that forward value:
  // it keeps no `d_` name and no derivative provenance.
  const forwardRoots = [...(p.loss ? [p.loss] : []), ...p.outputs.map((o) => o.node)];
  const wasForward = new Set(topo(forwardRoots).map((n) => n.id));
  const forward = new Set(topo(forwardRoots.map(to)).map((n) => n.id));
  // Forward names first so that `h1` wins over `d_…` when simplification merges nodes.
  const ordered = [...p.names].sort(([, a], [, c]) => Number(a.startsWith("d_")) - Number(c.startsWith("d_")));
  for (const [id, name] of ordered) {
    const n = m.get(id);
    if (!n) continue;
    if (forward.has(n.id) && !wasForward.has(id)) {
      if (name.startsWith("d_") && !adjointOf.has(n.id)) adjointOf.set(n.id, name.slice(2));
    } else if (!names.has(n.id)) names.set(n.id, name);
  }
  // A custom box becomes its forward value: that value keeps the box's name for comments.
  const boxes = new Map<number, string>();
  for (const n of topo(forwardRoots)) if (n.op === "custom" && !boxes.has(to(n).id)) boxes.set(to(n).id, String(n.attrs.name));
  for (const [id, o] of p.origin) {
    const n = m.get(id);
    if (n && !origin.has(n.id) && !forward.has(n.id)) origin.set(n.id, { ...o, node: to(o.node) }); // the primal op as simplified
  }
  return {
    ...p,
    loss: p.loss && to(p.loss),
    outputs: p.outputs.map((o) => ({ ...o, node: to(o.node) })),
    grads: p.grads.map((g) => ({ ...g, node: to(g.node) })),
    names,
    origin,
    ...(adjointOf.size ? { adjointOf } : {}),
    ...(boxes.size ? { boxes } : {}),
  };
}
