/**
 * Hessian-vector products by reverse over reverse (Pearlmutter 1994): the
 * gradient g(θ) = ∇L(θ) is IR, so the scalar g(θ)ᵀv is a model of its own, and
 * *its* gradient with respect to θ is H v. `hvpModel` builds that model; compiled
 * like any other, its `forward` computes gᵀv (the loss slot) and its `backward`
 * writes H v into `grads`, in the layout of the original params.
 *
 *   const hv = await compile(hvpModel(model), { precision: "f64" });
 *   // inputs: the model's inputs, then one direction per param, `v_<param>` (same shape)
 *
 * Nothing here looks at values: the second derivative comes from the same
 * derivative rules as the first (the op table), simplified and planned like
 * every other graph.
 */
import { GradcError } from "../errors.ts";
import { B, type Node } from "../ir/graph.ts";
import type { Leaf, Model } from "../ir/model.ts";
import { OPS } from "../ir/ops.ts";
import { gradients, rulesFor, type Rules } from "./reverse.ts";

export interface HvpModel extends Model {
  /** The direction input for each param, in the model's param order. */
  readonly directions: readonly { readonly param: string; readonly input: string }[];
}

/** The model whose loss is ∇L(θ)ᵀv and whose gradient is therefore H v. */
export function hvpModel(model: Model, rules: Rules = OPS): HvpModel {
  if (!model.loss)
    throw new GradcError("E_EMPTY_MODEL", `${model.source}: a Hessian needs a loss, and this model has none`, {
      hint: "declare the scalar to differentiate with m.loss(...)",
    });
  if (model.params.length === 0)
    throw new GradcError("E_EMPTY_MODEL", `${model.source}: a Hessian needs params, and this model has none`, {
      hint: "declare what to differentiate with respect to with m.param(...)",
    });
  const b = new B(model.graph);
  const taken = new Set<string>([
    ...model.inputs.map((l) => l.name),
    ...model.params.map((l) => l.name),
    ...model.outputs.map((o) => o.name),
    ...model.names.values(),
  ]);
  const directions: { param: string; input: string }[] = [];
  const vLeaves: Leaf[] = model.params.map((p) => {
    let name = `v_${p.name}`;
    while (taken.has(name)) name = `${name}_`;
    taken.add(name);
    directions.push({ param: p.name, input: name });
    const node = model.graph.mk("input", [], { name, shape: [...p.shape] });
    return { name, node, shape: p.shape, range: [-1, 1] as const, ...(p.where ? { where: p.where } : {}) };
  });
  const { grads } = gradients(
    b,
    model.loss,
    model.params.map((p) => p.node),
    rulesFor(model, rules),
  );
  let gv: Node | undefined;
  grads.forEach((g, i) => {
    const term = b.sum(b.mul(g, vLeaves[i]!.node));
    gv = gv === undefined ? term : b.add(gv, term);
  });
  return {
    ...model,
    name: `${model.name}_hvp`,
    inputs: [...model.inputs, ...vLeaves],
    outputs: [],
    loss: gv!,
    directions,
  };
}
