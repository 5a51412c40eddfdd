/**
 * The IR: an immutable, hash-consed tensor DAG with static shapes.
 *
 * `Graph.mk(op, inputs, attrs)` returns the existing node when one with the
 * same op, inputs and attributes was built before, so common subexpressions
 * are shared by construction (tinygrad's `ucache`): the backward pass finds
 * the forward's intermediates simply by building them again.
 */
import { GradcError, fmtShape } from "../errors.ts";
import { OPS, type OpDef } from "./ops.ts";
import { type Shape, ShapeError, normAxes, sameShape } from "./shape.ts";

export { ShapeError };

export type AttrValue = number | string | readonly number[];
export type Attrs = Readonly<Record<string, AttrValue>>;

export interface Node {
  readonly id: number;
  /** A key of the op table (`OPS`). */
  readonly op: string;
  readonly inputs: readonly Node[];
  readonly attrs: Attrs;
  readonly shape: Shape;
}

/** Attribute values keyed exactly: JSON would print -0 as 0 and NaN, ±Infinity as null, merging distinct constants. */
const exact = (v: AttrValue): string =>
  typeof v === "number" ? (Object.is(v, -0) ? "-0" : String(v)) : typeof v === "string" ? JSON.stringify(v) : `[${v.map(exact).join(",")}]`;
const attrKey = (attrs: Attrs): string =>
  Object.keys(attrs)
    .sort()
    .map((k) => `${k}=${exact(attrs[k]!)}`)
    .join(",");

export class Graph {
  private readonly table = new Map<string, Node>();
  private next = 0;

  /** Every node, in id order (= the order they were built). */
  all(): Node[] {
    return [...this.table.values()];
  }

  /** How many distinct nodes exist; ids below this were built before. */
  get size(): number {
    return this.next;
  }

  mk(op: string, inputs: readonly Node[], attrs: Attrs = {}): Node {
    const def = Object.hasOwn(OPS, op) ? (OPS as Record<string, OpDef>)[op] : undefined;
    if (!def) throw new GradcError("E_UNKNOWN_OP", `unknown op '${String(op)}'`);
    if (def.arity >= 0 ? inputs.length !== def.arity : inputs.length < 1)
      throw new GradcError("E_ARITY", `${op}: takes ${def.arity >= 0 ? def.arity : "at least 1"} input(s), got ${inputs.length}`, {
        op,
      });
    const key = `${op}(${inputs.map((n) => n.id).join(",")}){${attrKey(attrs)}}`;
    const hit = this.table.get(key);
    if (hit) return hit;
    let shape: Shape;
    try {
      shape = def.shape(
        inputs.map((n) => n.shape),
        attrs,
      );
    } catch (e) {
      if (!(e instanceof ShapeError)) throw e;
      const shapes = inputs.map((n) => [...n.shape]);
      throw new GradcError(
        "E_SHAPE",
        `${op}: ${e.message} (input shapes ${shapes.map(fmtShape).join(", ") || "none"})`,
        { op, shapes, hint: e.hint },
      );
    }
    const node: Node = Object.freeze({ id: this.next++, op, inputs, attrs, shape });
    this.table.set(key, node);
    return node;
  }
}

/**
 * Node-building helpers over one graph: what derivative rules, the DSL and the
 * formula frontend use. Composite helpers (`mean`, `unbroadcast`) live here so
 * no rule has to spell them out.
 */
export class B {
  constructor(readonly g: Graph) {}

  op(op: string, ...inputs: Node[]): Node {
    return this.g.mk(op, inputs);
  }
  c(v: number): Node {
    if (typeof v !== "number" || Number.isNaN(v))
      throw new GradcError("E_BAD_ATTR", `const: value ${String(v)} is not a number`, {
        op: "const",
        hint: "constants must be finite numbers or ±Infinity",
      });
    return this.g.mk("const", [], { value: v });
  }
  /** Lifts a JS number to a constant node. */
  n(x: Node | number): Node {
    return typeof x === "number" ? this.c(x) : x;
  }
  add = (a: Node | number, b: Node | number) => this.op("add", this.n(a), this.n(b));
  sub = (a: Node | number, b: Node | number) => this.op("sub", this.n(a), this.n(b));
  mul = (a: Node | number, b: Node | number) => this.op("mul", this.n(a), this.n(b));
  div = (a: Node | number, b: Node | number) => this.op("div", this.n(a), this.n(b));
  pow = (a: Node | number, b: Node | number) => this.op("pow", this.n(a), this.n(b));
  neg = (a: Node) => this.op("neg", a);
  where = (c: Node, a: Node | number, b: Node | number) =>
    this.op("where", c, this.n(a), this.n(b));
  sq = (a: Node) => this.mul(a, a);

  sum(x: Node, axes?: readonly number[]): Node {
    const all = x.shape.map((_, i) => i);
    return this.g.mk("sum", [x], { axes: axes ?? all });
  }
  mean(x: Node, axes?: readonly number[]): Node {
    const ax = normAxes(axes ?? x.shape.map((_, i) => i), x.shape.length) ?? [];
    const n = ax.reduce((a, i) => a * x.shape[i]!, 1);
    return this.div(this.sum(x, axes), n);
  }
  reshape(x: Node, shape: Shape): Node {
    return sameShape(x.shape, shape) ? x : this.g.mk("reshape", [x], { shape });
  }
  broadcast(x: Node, shape: Shape): Node {
    return sameShape(x.shape, shape) ? x : this.g.mk("broadcast", [x], { shape });
  }
  transpose = (x: Node) => this.g.mk("transpose", [x]);
  matmul = (a: Node, b: Node) => this.g.mk("matmul", [a, b]);
  zeros = (shape: Shape) => this.broadcast(this.c(0), shape);

  /** Sums `g` down to `shape`: the adjoint of numpy broadcasting. */
  unbroadcast(g: Node, shape: Shape): Node {
    if (sameShape(g.shape, shape)) return g;
    const lead = g.shape.length - shape.length;
    const axes = g.shape
      .map((d, i) => (i < lead || (shape[i - lead] === 1 && d !== 1) ? i : -1))
      .filter((i) => i >= 0);
    return this.reshape(axes.length ? this.sum(g, axes) : g, shape);
  }

  /** Reduces the last axis but keeps it as size 1, then broadcasts back: for softmax-like rules. */
  keepLast(x: Node, full: Shape): Node {
    return this.broadcast(this.reshape(x, [...x.shape, 1]), full);
  }
}

/**
 * Nodes reachable from `roots`, inputs before users (iterative: deep chains
 * must not overflow the stack). Nodes for which `known` holds are neither
 * listed nor walked through (for memoized walks: only what is new).
 */
export function topo(roots: readonly Node[], known?: (n: Node) => boolean): Node[] {
  const seen = new Set<number>();
  const out: Node[] = [];
  const stack: [Node, number][] = [];
  for (const r of roots) {
    if (seen.has(r.id) || known?.(r)) continue;
    seen.add(r.id);
    stack.push([r, 0]);
    while (stack.length) {
      const top = stack[stack.length - 1]!;
      const [n, i] = top;
      if (i < n.inputs.length) {
        top[1]++;
        const c = n.inputs[i]!;
        if (!seen.has(c.id) && !known?.(c)) {
          seen.add(c.id);
          stack.push([c, 0]);
        }
      } else {
        stack.pop();
        out.push(n);
      }
    }
  }
  return out;
}
