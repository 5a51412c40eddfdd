/**
 * Naming: every value the generated code holds gets a readable, unique name,
 * and every statement group a comment saying what it computes.
 */
import type { Node } from "../ir/graph.ts";
import { opDef } from "../ir/ops.ts";
import type { Program } from "../ir/program.ts";
import { printNum } from "../ir/sexpr.ts";
import { EMITTER_NAMES } from "./emitter-names.ts";
import { BUFFERS } from "./stmt.ts";

/** Names the emitted module itself uses; spec names that equal one get a suffix. */
const RESERVED = new Set([...BUFFERS, ...EMITTER_NAMES]);

/** A scope of names in use: the function's, or one kernel's (block-scoped, below the function's). */
export class Names {
  private readonly used: Set<string>;
  /** Per wanted name, the next suffix to try (O(1) per name, however many share it). */
  private readonly next = new Map<string, number>();
  constructor(private readonly parent?: Names) {
    this.used = parent ? new Set() : new Set(RESERVED);
  }
  private taken(n: string): boolean {
    return this.used.has(n) || (this.parent?.taken(n) ?? false);
  }
  fresh(want: string): string {
    let n = want;
    // Function-level names get a `_` (`h_1` stays readable next to `h_1_`), then `_2_`, `_3_`…; kernel-local ones count up.
    for (let k = this.next.get(want) ?? 2; this.taken(n); k++) {
      n = this.parent ? `${want}${k}` : k === 2 ? `${want}_` : `${want}_${k - 1}_`;
      this.next.set(want, k + 1);
    }
    this.used.add(n);
    return n;
  }
  /** The name `fresh(want)` would give now, without taking it. */
  peek(want: string): string {
    let n = want;
    for (let k = this.next.get(want) ?? 2; this.taken(n); k++) n = this.parent ? `${want}${k}` : k === 2 ? `${want}_` : `${want}_${k - 1}_`;
    return n;
  }
  /** Names for one kernel: block-scoped, so sibling kernels may reuse `i`, `j`, `acc00`… */
  scope(): Names {
    return new Names(this);
  }
}

/** The names of a program's values, assigned on first use. */
export class Naming {
  readonly names = new Names();
  private readonly spec: Map<number, string>;
  private readonly base = new Map<number, string>();
  /** The named value each node derives from: its own spec name, else its first input's anchor that has one. */
  private readonly anchor = new Map<number, string>();

  constructor(
    private readonly p: Program,
    nodes: readonly Node[],
  ) {
    // A named view (the reshape of a summed bias gradient, say) lends its name to the value it views.
    this.spec = new Map(p.names);
    const byId = new Map(nodes.map((n) => [n.id, n]));
    for (const [id, name] of p.names) {
      let n = byId.get(id);
      while (n && opDef(n.op).kind === "view" && !this.spec.has(n.inputs[0]!.id)) this.spec.set((n = n.inputs[0]!).id, name);
    }
    // `nodes` lists inputs before their users (the schedule's order), so one pass finds every anchor.
    for (const n of nodes) {
      const a = this.spec.get(n.id) ?? n.inputs.map((x) => this.anchor.get(x.id)).find((x) => x !== undefined);
      if (a !== undefined) this.anchor.set(n.id, a);
    }
  }

  /** The value's name: its spec name (or `d_<name>` for an adjoint), else one derived from it (`derived`). */
  baseName(n: Node): string {
    let b = this.base.get(n.id);
    if (!b) this.base.set(n.id, (b = this.names.fresh(this.spec.get(n.id) ?? this.derived(n))));
    return b;
  }

  /**
   * An unnamed value's name, from its op and the nearest named values — never
   * a counter, so adding a node elsewhere renames nothing (a clash with an
   * earlier equal name gets a `_`): its named inputs (`matmul_x_Wh`,
   * `sub_y_t`, `sub_1_z`, small integer literals included), else the named
   * value it derives from through first inputs (`halfSquare_y`), else the op.
   */
  private derived(n: Node, maskRule = true): string {
    // The DSL's batch mask, where(batchMask, x, 0) (mean and sum over the batch count the first n rows): `masked_<x>`.
    if (maskRule && n.op === "where" && this.viewSource(n.inputs[0]!).op === "batchMask") {
      const x = this.viewSource(n.inputs[1]!);
      const v = x.attrs.value;
      const of = x.op === "const" && typeof v === "number" ? printNum(v).replace(/[^A-Za-z0-9]/g, "_") : (this.base.get(x.id) ?? this.spec.get(x.id) ?? this.derived(x, false));
      return `masked_${of}`;
    }
    const lit = (x: Node) => {
      const v = x.attrs.value;
      return x.op === "const" && typeof v === "number" && Number.isInteger(v) && v >= 0 && v < 100 ? String(v) : undefined;
    };
    const named = (x: Node) => this.spec.get(x.id) ?? (x.op === "batchSize" ? "n" : x.op === "batchMask" ? "mask" : undefined);
    if (n.inputs.some((x) => named(x) !== undefined))
      return [n.op, ...n.inputs.map((x) => named(x) ?? lit(x)).filter((d) => d !== undefined).slice(0, 2)].join("_");
    const a = this.anchor.get(n.id);
    return a ? `${n.op}_${a}` : n.op;
  }

  private viewSource(n: Node): Node {
    while (n.op !== "const" && opDef(n.op).kind === "view") n = n.inputs[0]!;
    return n;
  }

  /** Element i of an unrolled value (a scalar is its base name). */
  elemName(n: Node, i: number): string {
    return n.shape.length === 0 ? this.baseName(n) : this.names.fresh(`${this.baseName(n)}_${i}`);
  }

  /** How a comment refers to a node: its name, a literal, or a view of one (`Wᵀ`). */
  label(n: Node): string {
    let suffix = "";
    let x = n;
    for (; x.op !== "const" && opDef(x.op).kind === "view"; x = x.inputs[0]!) if (x.op === "transpose") suffix = `ᵀ${suffix}`;
    // Comments never claim a name (that would rename the code): an input not named yet is shown by the name it would get.
    const name = x.op === "const" ? printNum(x.attrs.value as number) : (this.base.get(x.id) ?? this.spec.get(x.id) ?? this.names.peek(this.derived(x)));
    return name + suffix;
  }

  /** The comment heading a node's statements: `h = tanh(z)`, and for backward lines the primal op they come from. */
  describe(n: Node): string {
    this.baseName(n);
    const box = this.p.boxes?.get(n.id);
    const what = `${this.label(n)} = ${n.op}(${n.inputs.map((x) => this.label(x)).join(", ")})${box ? `  (custom op ${box})` : ""}`;
    const o = this.p.origin.get(n.id);
    const of = this.p.adjointOf?.get(n.id);
    if (of !== undefined) return `${what}  = ∂${this.p.loss ? this.label(this.p.loss) : "loss"}/∂${of}`;
    if (!o) return what;
    return o.fanIn ? `${what}  ⟵ Σ over the uses of ${this.label(o.node)}` : `${what}  ⟵ ∂ ${o.rule ?? o.node.op} ${this.label(o.node)}`;
  }
}
