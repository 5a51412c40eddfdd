/**
 * Float64 reference interpreter of the IR: every op's `eval` from the op
 * table, no code generation involved. `gradc check` differentiates this
 * numerically and compares the generated code against it.
 */
import { GradcError, fmtShape } from "../errors.ts";
import { type Node, topo } from "./graph.ts";
import { opDef } from "./ops.ts";
import { size } from "./shape.ts";

/** Values of leaves by leaf name (inputs and params). */
export type Bindings = ReadonlyMap<string, Float64Array> | Readonly<Record<string, Float64Array>>;

const lookup = (b: Bindings, k: string) =>
  b instanceof Map ? b.get(k) : Object.hasOwn(b, k) ? (b as Record<string, Float64Array>)[k] : undefined;

/**
 * Evaluates `roots`; returns the value of every node it computed, by id. `overrides` pins node values (for local
 * finite differences): a pinned node is not computed, nor are the nodes only it needs.
 */
export function evaluate(
  roots: readonly Node[],
  leaves: Bindings,
  overrides: ReadonlyMap<number, Float64Array> = new Map(),
  /** Real examples in a batched step (default: the full compiled batch). */
  batch?: number,
): Map<number, Float64Array> {
  const vals = new Map<number, Float64Array>(overrides);
  for (const n of topo(roots, (x) => overrides.has(x.id))) {
    const def = opDef(n.op);
    if (n.op === "batchSize" || n.op === "batchMask") {
      const max = n.attrs.max as number;
      const k = batch ?? max;
      vals.set(n.id, n.op === "batchSize" ? Float64Array.of(k) : Float64Array.from({ length: max }, (_, r) => (r < k ? 1 : 0)));
      continue;
    }
    if (n.op === "input" || n.op === "param") {
      const name = n.attrs.name as string;
      const v = lookup(leaves, name);
      if (!v || v.length !== size(n.shape))
        throw new GradcError("E_ARG", `no value of size ${size(n.shape)} for ${n.op} '${name}' ${fmtShape(n.shape)}`);
      vals.set(n.id, v);
      continue;
    }
    vals.set(
      n.id,
      def.eval!(
        n.inputs.map((i) => vals.get(i.id)!),
        n,
      ),
    );
  }
  return vals;
}

export const evalOne = (root: Node, leaves: Bindings): Float64Array => evaluate([root], leaves).get(root.id)!;
