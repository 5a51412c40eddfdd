/**
 * The model as a picture: its expression DAG, and with `backward` its
 * derivative DAG beside it, as Graphviz DOT text (a pure function of the
 * program; `render.ts` lays it out).
 *
 * What is drawn is what gradc compiles — the program after autodiff and
 * simplification, one node per tensor op (loops and wasm kernels are a
 * lowering detail, so MNIST is as many nodes as the lecture net has ops):
 *
 *   - inputs and params (with shape and init), each forward op with its
 *     output shape and spec name, the loss;
 *   - the backward ops, each inside a box for the primal op whose derivative
 *     rule built it (`∂ sigmoid z`), found by walking the subgraph each
 *     contribution added — not by node-id ranges;
 *   - forward values the backward pass reads are drawn as shared (thick
 *     backward-coloured border, dashed edges into the backward ops): those
 *     are the cached partials and the hash-consed common subexpressions, why
 *     backprop costs about as much as the forward pass.
 *
 * Constants, the batch size n and the batch mask are written into the label
 * of the op that reads them instead of being nodes of their own.
 */
import { differentiate } from "../autodiff/reverse.ts";
import { B, type Node, topo } from "../ir/graph.ts";
import type { Init, Model } from "../ir/model.ts";
import type { Program } from "../ir/program.ts";
import { rewrite, simplify } from "../optimize/simplify.ts";
import { schedule } from "../plan/schedule.ts";
import { MARK } from "./mark.ts";

export interface GraphOptions {
  /** Add the derivative graph (default false: the forward graph only). */
  readonly backward?: boolean;
}

/** What the picture holds, for tests and the command's report. */
export interface GraphStats {
  /** Forward op nodes (not inputs or params). */
  readonly forwardOps: number;
  readonly backwardOps: number;
  readonly inputs: number;
  readonly params: number;
  /** Forward values the backward pass reads (drawn as shared). */
  readonly reused: number;
  readonly forwardEdges: number;
  readonly backwardEdges: number;
  /** Edges from a forward value into a backward op. */
  readonly reuseEdges: number;
}

export interface ModelGraph {
  readonly dot: string;
  readonly stats: GraphStats;
}

/** Where each backward node came from: the primal op whose rule built it (or the param whose gradient it sums). */
export interface Provenance {
  readonly program: Program;
  readonly owner: ReadonlyMap<number, Node>;
  /** Primal node id -> the name of the spec's own rule that differentiates it (an `m.custom` box). */
  readonly rule: ReadonlyMap<number, string>;
}

/**
 * The compiled program and, for every backward node, the primal node whose
 * derivative rule built it. Autodiff records each rule's contributions; they
 * are mapped through the simplifier (the same hash-consed rewrite, so the
 * nodes are the program's own), and each contribution claims the backward
 * nodes of its subgraph no earlier contribution claimed. Contributions come
 * in the order autodiff made them (the loss first), so a node goes to the
 * rule that built it.
 */
export function provenance(model: Model): Provenance {
  const raw = differentiate(model);
  const program = simplify(raw);
  const b = new B(model.graph);
  const roots = [...raw.contributions.flatMap((c) => [c.consumer, c.value]), ...raw.grads.map((g) => g.node)];
  const m = rewrite(roots, b);
  const to = (n: Node) => m.get(n.id) ?? n;
  const forward = new Set(schedule(program).forward.map((n) => n.id));
  const owner = new Map<number, Node>();
  const claim = (root: Node, by: Node) => {
    for (const n of topo([root])) if (!forward.has(n.id) && !isLeaf(n) && !owner.has(n.id)) owner.set(n.id, by);
  };
  const rule = new Map<number, string>();
  for (const c of raw.contributions) {
    claim(to(c.value), to(c.consumer));
    if (c.consumer.op === "custom") rule.set(to(c.consumer).id, String(c.consumer.attrs.name));
  }
  // What is left is a param's own fan-in: the sum of the contributions of its uses.
  for (const g of program.grads) claim(g.node, g.param.node);
  return { program, owner, rule };
}

const isLeaf = (n: Node) => n.inputs.length === 0;
/** Leaves written into their reader's label rather than drawn. */
const inline = (n: Node) => n.op === "const" || n.op === "batchSize" || n.op === "batchMask";

const COLORS = {
  fwd: { line: "#2b5797", fill: "#e8f0fb", text: "#1b365d" },
  bwd: { line: "#c0504d", fill: "#fdecea", text: "#7a1f1c" },
  input: { line: "#555555", fill: "#f2f2f2" },
  param: { line: "#8a6d00", fill: "#fff6d5" },
} as const;

const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? "" : "s"}`;
const shapeText = (s: readonly number[]) => `[${s.join("×")}]`;
const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
/** A label's bold title. (A transpose is `xᵀ`, the glyph: Graphviz's <SUP> becomes baseline-shift, which Firefox and resvg ignore.) */
const title = (name: string | undefined) => (name ? `<B>${esc(name)}</B><BR/>` : "");

function initText(init: Init | undefined): string {
  if (init === undefined) return "xavier";
  if (typeof init === "string") return init;
  if ("uniform" in init) return `U(${init.uniform.join(", ")})`;
  if ("normal" in init) return `N(${init.normal.join(", ")})`;
  return "set values";
}

/** A number as a label shows it: short, exact for the usual ones. */
function num(v: number): string {
  if (Object.is(v, -0)) return "-0";
  if (Number.isInteger(v) || !Number.isFinite(v)) return String(v);
  const s = String(v);
  return s.length <= 8 ? s : v.toPrecision(4);
}

const inlineText = (n: Node) => (n.op === "const" ? num(n.attrs.value as number) : n.op === "batchSize" ? "n" : "mask");

/** `add`, or `sub(1, ·)` when some operands are inline leaves; attributes that matter (axes, shape) after. */
function opText(n: Node): string {
  const args = n.inputs.some(inline) ? `(${n.inputs.map((i) => (inline(i) ? inlineText(i) : "·")).join(", ")})` : "";
  const axes = n.op === "sum" && Array.isArray(n.attrs.axes) && n.attrs.axes.length < n.inputs[0]!.shape.length ? ` axes ${(n.attrs.axes as number[]).join(",")}` : "";
  return `${n.op}${args}${axes}`;
}

/** Graphviz DOT for the model's DAG (and with `backward`, its derivative). Same program, same bytes. */
export function modelGraph(model: Model, opts: GraphOptions = {}): ModelGraph {
  const { program, owner, rule } = provenance(model);
  const sched = schedule(program);
  const fwd = sched.forward.filter((n) => !inline(n));
  const forwardIds = new Set(fwd.map((n) => n.id));
  const bwd = opts.backward ? sched.backward.filter((n) => !forwardIds.has(n.id) && !isLeaf(n)) : [];
  const bwdIds = new Set(bwd.map((n) => n.id));
  const leafInfo = new Map<number, { kind: "input" | "param"; init?: Init }>();
  for (const l of model.inputs) leafInfo.set(l.node.id, { kind: "input" });
  for (const l of model.params) leafInfo.set(l.node.id, { kind: "param", init: l.init });
  const gradOf = new Map(program.grads.map((g) => [g.node.id, g.param.name]));
  const outputOf = new Map(program.outputs.map((o) => [o.node.id, o.name]));
  const loss = program.loss;

  // Forward values the backward pass reads.
  const reused = new Set<number>();
  for (const n of bwd) for (const i of n.inputs) if (forwardIds.has(i.id) && !leafInfo.has(i.id)) reused.add(i.id);
  // Leaves the backward pass reads but the forward pass does not (a param that only matters through its gradient).
  const extraLeaves = opts.backward
    ? sched.backward.filter((n) => leafInfo.has(n.id) && !forwardIds.has(n.id) && bwd.some((u) => u.inputs.includes(n)))
    : [];

  const lines: string[] = [];
  const out = (s: string) => lines.push(s);
  out(`digraph "${esc(model.name)}" {`);
  out(`  // gradc graph ${model.source.replace(/[^\x20-\x7e]/g, "?")}${opts.backward ? " --backward" : ""}: ${MARK}`);
  out(`  graph [rankdir=TB, fontname="Helvetica", fontsize=11, nodesep=0.25, ranksep=0.35, bgcolor="white", labelloc=b, labeljust=l];`);
  out(`  node [fontname="Helvetica", fontsize=10, shape=box, style="rounded,filled", margin="0.08,0.04", height=0.3];`);
  out(`  edge [arrowsize=0.6, penwidth=1.1];`);

  const nodeLine = (n: Node, name: string | undefined, sub: string, c: { line: string; fill: string }, extra = "") => {
    out(`  n${n.id} [label=<${title(name)}${esc(sub)}>, color="${c.line}", fillcolor="${c.fill}"${extra}];`);
  };
  const nameOf = (n: Node) => program.names.get(n.id);
  /**
   * An unnamed op reads as a short formula of named values, `x·Wh`, `z × (1 − z)`, `xᵀ`
   * (at most three levels deep and 24 characters; otherwise only its op is shown).
   * A forward value is named by its spec name, not by an adjoint name it also has.
   */
  const SYM: Readonly<Record<string, readonly [string, number]>> = { matmul: ["·", 3], mul: [" × ", 3], div: [" / ", 3], add: [" + ", 2], sub: [" − ", 2] };
  const formula = (n: Node, depth: number): { s: string; prec: number } | undefined => {
    if (inline(n)) return { s: inlineText(n), prec: 9 };
    const nm = nameOf(n);
    if (depth > 0 && nm && !(forwardIds.has(n.id) && nm.startsWith("d_"))) return { s: nm, prec: 9 };
    if (depth > 2) return undefined;
    if (n.op === "transpose") {
      const x = formula(n.inputs[0]!, depth + 1);
      return x && { s: x.prec < 9 ? `(${x.s})ᵀ` : `${x.s}ᵀ`, prec: 9 };
    }
    const sym = SYM[n.op];
    if (!sym) return undefined;
    const [a, b] = n.inputs.map((i) => formula(i, depth + 1));
    if (!a || !b) return undefined;
    const [text, prec] = sym;
    const wrap = (x: { s: string; prec: number }, right: boolean) =>
      x.prec < prec || (right && x.prec === prec && (n.op === "sub" || n.op === "div")) ? `(${x.s})` : x.s;
    return { s: `${wrap(a, false)}${text}${wrap(b, true)}`, prec };
  };
  const describe = (n: Node): string | undefined => {
    const f = formula(n, 0);
    return f && f.s.length <= 24 ? f.s : undefined;
  };

  for (const n of [...fwd, ...extraLeaves]) {
    const leaf = leafInfo.get(n.id);
    if (leaf?.kind === "input") nodeLine(n, nameOf(n), `input ${shapeText(n.shape)}`, COLORS.input);
    else if (leaf?.kind === "param") nodeLine(n, nameOf(n), `param ${shapeText(n.shape)} · ${initText(leaf.init)}`, COLORS.param);
    else {
      const isLoss = n === loss;
      const output = outputOf.get(n.id);
      // A forward value that is also an adjoint (y - t is d_y for a squared error) carries the adjoint's name as a note.
      const nm = nameOf(n);
      const named = isLoss ? "loss" : output ?? (nm?.startsWith("d_") ? undefined : nm);
      // ... and one that is a param's whole gradient (∂loss/∂bo is y - t) says so.
      const grad = gradOf.get(n.id);
      const notes = opts.backward ? (nm?.startsWith("d_") && !isLoss ? ` = ${nm}` : "") + (grad ? ` = ∂loss/∂${grad}` : "") : "";
      const role = (output && !isLoss ? " → output" : "") + notes;
      const shared = reused.has(n.id) ? `, penwidth=2.6, color="${COLORS.bwd.line}"` : `, penwidth=1.2`;
      nodeLine(n, named ?? describe(n), `${opText(n)} ${shapeText(n.shape)}${role}`, COLORS.fwd, `${shared}${isLoss ? ", peripheries=2" : ""}`);
    }
  }

  // Backward nodes, grouped by the primal op whose rule built them.
  const groups = new Map<number, Node[]>();
  const loose: Node[] = [];
  for (const n of bwd) {
    const o = owner.get(n.id);
    if (o) (groups.get(o.id) ?? groups.set(o.id, []).get(o.id)!).push(n);
    else loose.push(n);
  }
  const bwdNode = (n: Node, indent: string) => {
    const p = gradOf.get(n.id);
    // A backward value autodiff named (d_z, the local partial dz_dh) also shows what it is: `dz_dh = z × (1 − z)`.
    const nm = nameOf(n);
    const f = describe(n);
    const name = p ? `${nm && nm !== `d_${p}` ? `${nm} = ` : ""}∂loss/∂${p}` : nm && f && f !== nm ? `${nm} = ${f}` : nm ?? f;
    out(`${indent}n${n.id} [label=<${title(name)}${esc(`${opText(n)} ${shapeText(n.shape)}`)}>, color="${COLORS.bwd.line}", fillcolor="${COLORS.bwd.fill}", fontcolor="${COLORS.bwd.text}"${p ? ", peripheries=2" : ""}];`);
  };
  const byId = new Map([...fwd, ...sched.backward].map((n) => [n.id, n]));
  for (const [id, members] of groups) {
    const primal = byId.get(id) ?? members[0]!;
    const pn = nameOf(primal)?.startsWith("d_") ? undefined : nameOf(primal) ?? describe(primal);
    const what = leafInfo.has(id) ? `Σ into ∂loss/∂${nameOf(primal)}` : `∂ ${rule.get(id) ?? primal.op}${pn ? ` ${pn}` : ""}`;
    out(`  subgraph cluster_d${id} {`);
    out(`    label=<${esc(what)}>; fontsize=9; fontcolor="${COLORS.bwd.line}"; style="rounded,dashed"; color="${COLORS.bwd.line}"; labeljust=r;`);
    for (const n of members) bwdNode(n, "    ");
    out(`  }`);
  }
  for (const n of loose) bwdNode(n, "  ");

  let forwardEdges = 0;
  let backwardEdges = 0;
  let reuseEdges = 0;
  for (const n of fwd)
    for (const i of n.inputs)
      if (!inline(i)) {
        out(`  n${i.id} -> n${n.id} [color="${COLORS.fwd.line}"];`);
        forwardEdges++;
      }
  for (const n of bwd)
    for (const i of n.inputs) {
      if (inline(i)) continue;
      if (bwdIds.has(i.id)) {
        out(`  n${i.id} -> n${n.id} [color="${COLORS.bwd.line}"];`);
        backwardEdges++;
      } else {
        out(`  n${i.id} -> n${n.id} [color="${COLORS.fwd.line}", style=dashed];`);
        reuseEdges++;
      }
    }
  const leaves = [...fwd, ...extraLeaves].filter((n) => leafInfo.has(n.id));
  const stats: GraphStats = {
    forwardOps: fwd.length - leaves.length,
    backwardOps: bwd.length,
    inputs: leaves.filter((n) => leafInfo.get(n.id)!.kind === "input").length,
    params: leaves.filter((n) => leafInfo.get(n.id)!.kind === "param").length,
    reused: reused.size,
    forwardEdges,
    backwardEdges,
    reuseEdges,
  };
  const caption = opts.backward
    ? `${model.name}: ${stats.forwardOps} forward ops (blue), ${stats.backwardOps} backward ops (red) reading ${stats.reused} cached forward values (red border; dashed: a forward value read by backward)`
    : `${model.name}: ${plural(stats.forwardOps, "op")}, ${plural(stats.params, "param")}, ${plural(stats.inputs, "input")}`;
  out(`  label=<${esc(caption)}>;`);
  out(`}`);
  return { dot: `${lines.join("\n")}\n`, stats };
}
