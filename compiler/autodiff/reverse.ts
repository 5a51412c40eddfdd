/**
 * Reverse-mode differentiation over the DAG. The gradient is built as nodes of
 * the same IR — never a tape — so it can be simplified, emitted, evaluated by
 * the reference interpreter and differentiated again (Hessian-vector products).
 * Nothing here looks at runtime values.
 */
import { GradcError } from "../errors.ts";
import { B, type Node, topo } from "../ir/graph.ts";
import type { Model } from "../ir/model.ts";
import { OPS, type OpDef } from "../ir/ops.ts";
import type { Contribution, Origin, Program } from "../ir/program.ts";

export type Rules = Readonly<Record<string, Pick<OpDef, "vjp">>>;

export interface Gradients {
  /** d y / d wrt[i]; zeros where y does not depend on wrt[i]. */
  readonly grads: Node[];
  readonly adjoints: Map<number, Node>;
  readonly contributions: Contribution[];
  readonly origin: Map<number, Origin>;
}

/** Gradients of the scalar `y` with respect to `wrt`, as IR nodes. */
export function gradients(b: B, y: Node, wrt: readonly Node[], rules: Rules = OPS): Gradients {
  if (y.shape.length !== 0)
    throw new GradcError("E_LOSS_NOT_SCALAR", `can only differentiate a scalar, got shape [${y.shape.join(",")}]`, {
      hint: "reduce it first, e.g. mean(...) or sum(...)",
    });
  const order = topo([y]);
  const primal = new Set(order.map((n) => n.id));
  // Only nodes on a path from some `wrt` leaf need an adjoint.
  const targets = new Set(wrt.map((n) => n.id));
  const live = new Set<number>();
  for (const n of order) if (targets.has(n.id) || n.inputs.some((i) => live.has(i.id))) live.add(n.id);

  const pending = new Map<number, Node[]>([[y.id, [b.c(1)]]]);
  const adjoints = new Map<number, Node>();
  const contributions: Contribution[] = [];
  const origin = new Map<number, Origin>();

  for (let k = order.length - 1; k >= 0; k--) {
    const n = order[k]!;
    const parts = pending.get(n.id);
    if (!parts || !live.has(n.id)) continue;
    // Fan-in: a node used several times gets the sum of its users' contributions.
    const g = parts.reduce((acc, p) => b.add(acc, p));
    adjoints.set(n.id, g);
    attribute(origin, primal, { node: n, fanIn: true }, [g]);
    const made: Node[] = []; // what the rule built
    const vjp = rules[n.op]?.vjp;
    if (vjp && n.inputs.some((i) => live.has(i.id))) {
      const ds = vjp(g, n.inputs, n, b);
      ds.forEach((d, i) => {
        const x = n.inputs[i]!;
        if (d) made.push(d);
        if (!d || !live.has(x.id)) return;
        contributions.push({ consumer: n, index: i, value: d });
        (pending.get(x.id) ?? pending.set(x.id, []).get(x.id)!).push(d);
      });
    }
    attribute(origin, primal, n.op === "custom" && typeof n.attrs.name === "string" ? { node: n, rule: n.attrs.name } : { node: n }, made);
  }
  const grads = wrt.map((w) => adjoints.get(w.id) ?? b.zeros(w.shape));
  return { grads, adjoints, contributions, origin };
}

/**
 * Provenance by structure (tinygrad's compute_gradient): the nodes `n`'s rule
 * (or its fan-in sum) built are those reachable from its results without
 * passing through a primal node or a node some earlier rule built. Walking
 * the subgraph, not scanning ids of newly created nodes, finds them even when
 * hash-consing hands back nodes built before (a frontend that built the
 * gradient once already, a Hessian-vector product). Iterative.
 */
function attribute(origin: Map<number, Origin>, primal: ReadonlySet<number>, o: Origin, roots: readonly Node[]): void {
  const stack = [...roots];
  while (stack.length) {
    const x = stack.pop()!;
    if (primal.has(x.id) || origin.has(x.id)) continue;
    origin.set(x.id, o);
    stack.push(...x.inputs);
  }
}

/**
 * `rules` with the spec's own derivative rules bound (`m.custom`): a `custom` node the model registered gets its
 * spec-written vjp, the placeholder adjoint replaced by the node's adjoint, and nothing flows into its forward
 * expression; any other node keeps the table's rule. A pure function of the model: each spec's rules are its own.
 */
export function rulesFor(model: Model, rules: Rules = OPS): Rules {
  const customs = model.customs;
  if (!customs?.size) return rules;
  const base = rules.custom?.vjp ?? null;
  return {
    ...rules,
    custom: {
      vjp: (g, inputs, out, b) => {
        const r = customs.get(out.id);
        if (!r) return base ? base(g, inputs, out, b) : inputs.map(() => null);
        const ds = substitute(b, r.vjp.filter((d): d is Node => d !== null), r.adjoint, g);
        let k = 0;
        return [null, ...r.vjp.map((d) => (d ? ds[k++]! : null))];
      },
    },
  };
}

/** `roots` rebuilt with the leaf `from` replaced by `to` (hash-consed: what does not depend on `from` is kept). Iterative. */
function substitute(b: B, roots: readonly Node[], from: Node, to: Node): Node[] {
  const done = new Map<number, Node>([[from.id, to]]);
  for (const n of topo(roots)) {
    if (done.has(n.id)) continue;
    const ins = n.inputs.map((i) => done.get(i.id) ?? i);
    if (ins.some((x, k) => x !== n.inputs[k])) done.set(n.id, b.g.mk(n.op, ins, n.attrs));
  }
  return roots.map((r) => done.get(r.id) ?? r);
}

/** The autodiff pass: the model's loss differentiated with respect to every param. */
export function differentiate(model: Model, rules0: Rules = OPS): Program {
  const rules = rulesFor(model, rules0);
  const b = new B(model.graph);
  const names = new Map(model.names);
  for (const l of [...model.inputs, ...model.params]) names.set(l.node.id, l.name);
  const base = { model, loss: model.loss, outputs: model.outputs, names };
  if (!model.loss) return { ...base, grads: [], adjoints: new Map(), contributions: [], origin: new Map() };
  const r = gradients(
    b,
    model.loss,
    model.params.map((p) => p.node),
    rules,
  );
  // `d_` names only the adjoints autodiff built: an adjoint that is a forward value (halfSquare's is its residual
  // y - t) keeps its forward identity.
  const forward = new Set(topo([model.loss, ...model.outputs.map((o) => o.node)]).map((n) => n.id));
  for (const [id, adj] of r.adjoints) {
    const nm = names.get(id);
    if (nm && !names.has(adj.id) && !forward.has(adj.id) && adj.op !== "const") names.set(adj.id, `d_${nm}`);
  }
  // A one-input rule's local partial, g · ∂out/∂x, names its factor as the lectures write it: dz_dh = z(1 - z).
  for (const c of r.contributions) {
    const [out, x] = [names.get(c.consumer.id), names.get(c.consumer.inputs[c.index]!.id)];
    const g = r.adjoints.get(c.consumer.id);
    const local = c.value.op === "mul" && c.value.inputs[0] === g ? c.value.inputs[1]! : undefined;
    if (out && x && c.consumer.inputs.length === 1 && local && !names.has(local.id) && !forward.has(local.id) && local.op !== "const")
      names.set(local.id, `d${out}_d${x}`);
  }
  return {
    ...base,
    grads: model.params.map((param, i) => ({ param, node: r.grads[i]! })),
    adjoints: r.adjoints,
    contributions: r.contributions,
    origin: r.origin,
  };
}
