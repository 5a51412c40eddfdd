/**
 * The TypeScript builder DSL for model specs. A spec file's default export is
 * a function that receives a `ModelBuilder`:
 *
 *   import type { ModelBuilder } from "gradc/dsl";
 *   export default (m: ModelBuilder) => {
 *     const x = m.input("x", [4, 2]);
 *     const W = m.param("W", [2, 1]);
 *     m.loss(m.mean(m.square(x.matmul(W))));
 *   };
 *
 * Elementwise ops are derived from the op table: every unary op is a method
 * of the builder (`m.exp(x)`; on a tensor, `x.apply("exp")`), every binary
 * one takes tensors or numbers.
 *
 * Checks that need the whole spec run in `finish()`: a model must compute
 * something (E_EMPTY_MODEL), and every param must be used (E_UNUSED): with a
 * loss, the loss must depend on it through ops that have a derivative (else
 * its gradient is always 0 and it never trains); without a loss, some output
 * must read it. Inputs may be unused (targets of a loss a forward-only build
 * leaves out, or features one variant of a model ignores): the caller fills
 * them either way, so they cost nothing and mean no mistake.
 */
import { type ErrorCode, GradcError, type Where, fmtShape } from "../errors.ts";
import { B, Graph, type Node, topo } from "../ir/graph.ts";
import { type Box, type CustomRule, type Init, type Leaf, type Model, type Output, checkName, own, showValue } from "../ir/model.ts";
import { OPS, type OpDef, opDef, opNames } from "../ir/ops.ts";
import { type Shape, sameShape, size } from "../ir/shape.ts";

type Ops = typeof OPS;
type ArityOf<K extends keyof Ops> = Ops[K] extends { arity: infer A } ? A : never;
type EwOf<N> = {
  [K in keyof Ops]: Ops[K] extends { kind: "elementwise"; arity: N } ? (number extends ArityOf<K> ? never : K) : never;
}[keyof Ops];
/** Unary elementwise ops (exp, sigmoid, relu, …). */
export type UnaryOp = EwOf<1>;
/** Binary elementwise ops (add, mul, pow, bceLogits, …). */
export type BinaryOp = EwOf<2>;

export type Operand = T | number;

/** A tensor value in a spec: an IR node plus the builder that made it. */
export class T {
  constructor(
    readonly node: Node,
    readonly m: ModelBuilder,
  ) {}
  get shape(): Shape {
    return this.node.shape;
  }
  /** Names this value: generated code calls it `name`, its adjoint `d_name`. */
  as(name: string): T {
    return this.m.name(name, this);
  }
  add = (o: Operand) => this.m.add(this, o);
  sub = (o: Operand) => this.m.sub(this, o);
  mul = (o: Operand) => this.m.mul(this, o);
  div = (o: Operand) => this.m.div(this, o);
  pow = (o: Operand) => this.m.pow(this, o);
  matmul = (o: T) => this.m.matmul(this, o);
  get T(): T {
    return this.m.transpose(this);
  }
  apply = (op: UnaryOp) => this.m.unary(op, this);
  sum = (axes?: number[]) => this.m.sum(this, axes);
  mean = (axes?: number[]) => this.m.mean(this, axes);
}

/** A spec's custom box: its forward expression and its derivative rule, both written with the builder. */
export interface CustomDef {
  /** The value, built from the inputs with builder ops (it may read no param that is not one of them; data inputs are fine). */
  forward: (...inputs: T[]) => T;
  /**
   * The vector-Jacobian product: given the output adjoint `g` (the output's shape), the inputs and the output,
   * one adjoint per input, each of that input's shape (null: no gradient flows into it). `gradc check` verifies it.
   */
  vjp: (g: T, inputs: T[], out: T) => (T | null)[];
}

export interface ParamOptions {
  /** Default "xavier" (Glorot uniform); "zeros" makes every hidden unit identical (symmetry). */
  init?: Init;
}
export interface InputOptions {
  /** Where `gradc check` samples this input; default [-1, 1]. */
  range?: [number, number];
}

/** Padding of a conv or pool: "valid" (none), "same" (ONNX SAME_UPPER), p on every side, [ph, pw], or [top, left, bottom, right]. */
export type Padding = "valid" | "same" | number | [number, number] | [number, number, number, number];
export interface Conv2dOptions {
  /** Default 1; [sh, sw] per axis. */
  stride?: number | [number, number];
  /** Default "valid". "same": output ceil(H / stride), the odd cell of padding at the bottom/right (ONNX SAME_UPPER). */
  padding?: Padding;
  /** Default 1: the gap between kernel taps is dilation − 1 cells. */
  dilation?: number | [number, number];
  /** Default 1: input and output channels split into this many independent groups. */
  groups?: number;
  /** A [K] param added to every output channel (broadcast as [1, K, 1, 1]). */
  bias?: T;
}
export interface Pool2dOptions {
  /** The window, r×r or [r, s]. */
  size: number | [number, number];
  /** Default: the window size (non-overlapping windows). */
  stride?: number | [number, number];
  /** Default "valid"; padding cells never count (max ignores them, the average divides by the real cells). */
  padding?: Padding;
}

const INIT_NAMES = ["zeros", "ones", "xavier", "xavierNormal", "he", "heUniform"] as const;
const INIT_HINT = 'init is "zeros", "ones", "xavier", "xavierNormal", "he", "heUniform", { uniform: [lo, hi] }, { normal: [mean, std] } or { value: [...] }';
/** An init as an error shows it (short: a long value list is cut). */
const showInit = (init: unknown): string => {
  const s = showValue(init);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
};

/** Where the current DSL call came from in the spec; supplied by the loader. */
export type Locate = () => Where;

const ewUnary = Object.entries(OPS as Record<string, OpDef>)
  .filter(([, d]) => d.kind === "elementwise" && d.arity === 1)
  .map(([k]) => k as UnaryOp);
const ewBinary = Object.entries(OPS as Record<string, OpDef>)
  .filter(([, d]) => d.kind === "elementwise" && d.arity === 2)
  .map(([k]) => k as BinaryOp);

export type ModelBuilder = Builder & { [K in UnaryOp]: (x: Operand) => T } & { [K in BinaryOp]: (a: Operand, b: Operand) => T };

export class Builder {
  readonly graph = new Graph();
  private readonly b = new B(this.graph);
  private readonly inputs: Leaf[] = [];
  private readonly params: Leaf[] = [];
  private readonly outputs: Output[] = [];
  private lossNode?: Node;
  private readonly names = new Map<number, string>();
  private readonly locs = new Map<number, Where>();
  private readonly declared = new Map<string, Where>();
  private maxBatch?: number;
  private dropouts = 0;
  private readonly batchedMemo = new Map<number, boolean>();
  /** Names `m.define` and `m.custom` give their results (a name the spec gives the value itself wins). */
  private readonly boxNames = new Map<number, string>();
  /** m.define and m.custom boxes by name, in declaration order (Model.boxes). */
  private readonly boxes = new Map<string, { kind: Box["kind"]; where: Where; calls: number }>();
  /** This spec's derivative rules for its custom boxes, by node id (`Model.customs`). */
  private readonly customs = new Map<number, CustomRule>();

  constructor(
    readonly modelName: string,
    readonly source: string,
    private readonly locate: Locate = () => ({}),
  ) {
    for (const op of ewUnary) (this as Record<string, unknown>)[op] = (x: Operand) => this.unary(op, x);
    for (const op of ewBinary) (this as Record<string, unknown>)[op] = (a: Operand, c: Operand) => this.binary(op, a, c);
  }

  /** Runs `f`, attaching the spec location to any error it raises. */
  private at<R>(f: () => R): R {
    try {
      return f();
    } catch (e) {
      if (e instanceof GradcError) throw e.at(this.locate());
      throw e;
    }
  }
  private t = (n: Node) => new T(n, this as unknown as ModelBuilder);
  private node = (x: Operand): Node => {
    if (typeof x === "number") {
      if (!Number.isFinite(x))
        throw new GradcError("E_BAD_ATTR", `constant ${String(x)} is not a finite number`, {
          op: "const",
          hint: Number.isNaN(x)
            ? "a NaN constant makes every value it touches NaN; check the expression that computed it"
            : "a literal beyond ±1.8e308 overflows to Infinity; use a finite bound (e.g. 1e30), or m.where(c, x, y) to mask",
        });
      const c = this.b.c(x);
      if (!this.locs.has(c.id)) this.locs.set(c.id, this.locate()); // for errors about it later (float32 range)
      return c;
    }
    if (!(x instanceof T))
      throw new GradcError("E_ARG", `expected a tensor or a number, got ${typeof x}`, {
        hint: "pass values made by this builder (m.input, m.param, or ops on them)",
      });
    return x.node;
  };
  private claim(name: string, what: string): Where {
    const where = this.locate();
    checkName(name, what, where);
    const prev = this.declared.get(name);
    if (prev)
      throw new GradcError("E_DUP_NAME", `${what} name '${name}' is already used${prev.line ? ` (line ${prev.line})` : ""}`, {
        ...where,
        hint: "every input, param, output and named value needs its own name",
      });
    this.declared.set(name, where);
    return where;
  }
  private shapeOf(shape: unknown, what: string): number[] {
    if (!Array.isArray(shape) || shape.some((d) => !Number.isInteger(d) || d < 1))
      throw new GradcError("E_BAD_ATTR", `${what}: shape ${showValue(shape)} is not a list of positive integers`, {
        ...this.locate(),
        hint: 'write shapes as [rows, cols]; [] is a scalar; "batch" only as the first axis of an input',
      });
    const big = shape.find((d) => d > MAX_DIM);
    if (big !== undefined || size(shape) > MAX_ELEMENTS)
      throw new GradcError(
        "E_BAD_ATTR",
        `${what}: shape ${showValue(shape)} is too large: ${big !== undefined ? `an axis of ${big} (at most ${MAX_DIM})` : `${size(shape)} elements (at most ${MAX_ELEMENTS})`}`,
        { ...this.locate(), hint: "every tensor lives in one preallocated arena; split the layer, or lower the batch size" },
      );
    return [...shape];
  }

  /**
   * A param's `init`, checked where the spec declares it: a known name, or `{ uniform: [lo, hi] }`,
   * `{ normal: [mean, std] }`, `{ value: [...] }` with finite numbers (as many values as elements).
   * The result is a fresh object of numbers: nothing else of the spec's object reaches the layout.
   */
  private initOf(init: unknown, name: string, n: number): Init {
    const bad = (why: string, hint = INIT_HINT) => new GradcError("E_BAD_ATTR", `param '${name}': init ${showInit(init)} ${why}`, { ...this.locate(), hint });
    if (typeof init === "string") {
      if (!(INIT_NAMES as readonly string[]).includes(init)) throw bad(`is not a known init`, `did you mean ${nearest(init, [...INIT_NAMES]).map((k) => `"${k}"`).join(", ")}? ${INIT_HINT}`);
      return init as Init;
    }
    if (init === null || typeof init !== "object" || Array.isArray(init)) throw bad("is not an init");
    const keys = Object.keys(init);
    if (keys.length !== 1 || !["uniform", "normal", "value"].includes(keys[0]!)) throw bad("is not an init");
    const key = keys[0] as "uniform" | "normal" | "value";
    const v: unknown = (init as Record<string, unknown>)[key];
    if (!Array.isArray(v)) throw bad(`has a ${key} that is not a list of numbers`);
    const i = v.findIndex((x) => typeof x !== "number" || !Number.isFinite(x));
    if (i >= 0) throw bad(`has ${key}[${i}] = ${showValue(v[i])}, not a finite number`);
    const nums = (v as number[]).slice();
    if (key === "value") {
      if (nums.length !== n) throw bad(`has ${nums.length} values; the param has ${n} elements (row-major)`, "give one value per element, in row-major order");
      return { value: nums };
    }
    if (nums.length !== 2) throw bad(`has ${nums.length} numbers in ${key}; it takes two`);
    const [a, b] = nums as [number, number];
    if (key === "uniform" && !(a <= b)) throw bad("has lo > hi", "write { uniform: [lo, hi] } with lo <= hi, e.g. { uniform: [-0.1, 0.1] }");
    if (key === "normal" && !(b >= 0)) throw bad("has a negative std", "write { normal: [mean, std] } with std >= 0, e.g. { normal: [0, 0.1] }");
    return key === "uniform" ? { uniform: [a, b] } : { normal: [a, b] };
  }

  /** An input's check `range`: two finite numbers, lo < hi (or lo = hi for a constant input). */
  private rangeOf(range: unknown, name: string): readonly [number, number] | undefined {
    if (range === undefined) return undefined;
    const ok = Array.isArray(range) && range.length === 2 && range.every((x) => typeof x === "number" && Number.isFinite(x)) && range[0] <= range[1];
    if (!ok)
      throw new GradcError("E_BAD_ATTR", `input '${name}': range ${showValue(range)} is not [lo, hi] with finite lo <= hi`, {
        ...this.locate(),
        hint: "write { range: [0, 1] }: where `gradc check` samples this input",
      });
    return [range[0], range[1]];
  }

  /** Is the leading axis of `n` the batch axis (one row per example)? Memoized; inputs first, iteratively (chains may be 100,000 deep). */
  private batched(n: Node): boolean {
    const memo = this.batchedMemo;
    for (const x of topo([n], (y) => memo.has(y.id))) memo.set(x.id, this.batchedFrom(x));
    return memo.get(n.id)!;
  }
  /** `batched(n)`, given its inputs' answers in the memo. */
  private batchedFrom(n: Node): boolean {
    const kind = (OPS as Record<string, OpDef>)[n.op]!.kind;
    const r =
      n.op === "input"
        ? n.attrs.batch === 1
        : n.op === "custom"
          ? this.batched(n.inputs[0]!)
        : kind === "elementwise" || n.op === "broadcast"
          ? n.inputs.some((i) => i.shape.length === n.shape.length && this.batched(i))
          : n.op === "matmul" || (kind === "rowwise" && n.shape.length === n.inputs[0]!.shape.length) // softmax keeps its rows
            ? this.batched(n.inputs[0]!)
            : kind === "rowwise" || n.op === "reshape" // logsumexp, softmaxCE: one value per row of the batch
              ? n.shape.length > 0 && n.shape[0] === n.inputs[0]!.shape[0] && this.batched(n.inputs[0]!)
              : n.op === "sum"
                ? !(n.attrs.axes as number[]).some((a) => a === 0 || a === -n.inputs[0]!.shape.length) && this.batched(n.inputs[0]!)
                : kind === "conv" && !(OPS as Record<string, OpDef>)[n.op]!.sumsImages // images stay in their rows
                  ? this.batched(n.inputs[0]!)
                  : false;
    return r;
  }

  /** Zeros the padding rows (n..B-1) of a batched value before it is reduced over the batch axis. */
  private maskRows(x: Node, axes: readonly number[] | undefined): Node {
    const ax = axes ?? x.shape.map((_, i) => i);
    if (!this.batched(x) || !ax.some((a) => a === 0 || a === -x.shape.length)) return x;
    const mask = this.graph.mk("batchMask", [], { max: this.maxBatch! });
    const rows = this.b.broadcast(this.b.reshape(mask, [this.maxBatch!, ...x.shape.slice(1).map(() => 1)]), x.shape);
    return this.b.where(rows, x, 0);
  }

  /**
   * Declares the largest batch a step takes; inputs then use "batch" for their
   * leading axis, and a step may run on any n <= size examples: `mean` and `sum`
   * over the batch axis count only the first n rows.
   */
  batch(size: number): number {
    return this.at(() => {
      if (!Number.isInteger(size) || size < 1 || size > 1 << 20)
        throw new GradcError("E_BAD_ATTR", `batch size ${String(size)} is not a positive integer`, { ...this.locate(), hint: "write m.batch(64)" });
      if (this.maxBatch !== undefined && this.maxBatch !== size)
        throw new GradcError("E_BAD_ATTR", `batch size set twice (${this.maxBatch}, then ${size})`, { ...this.locate(), hint: "call m.batch once" });
      this.maxBatch = size;
      return size;
    });
  }

  input(name: string, shape: (number | "batch")[], opts: InputOptions = {}): T {
    return this.at(() => {
      const where = this.claim(name, "input");
      const batched = Array.isArray(shape) && shape[0] === "batch";
      if (batched && this.maxBatch === undefined)
        throw new GradcError("E_BAD_ATTR", `input '${name}' has a "batch" axis but no batch size is declared`, {
          ...where,
          hint: "declare it first: m.batch(64)",
        });
      const s = this.shapeOf(batched ? [this.maxBatch, ...shape.slice(1)] : shape, `input '${name}'`);
      const node = this.graph.mk("input", [], { name, shape: s, ...(batched ? { batch: 1 } : {}) });
      const range = this.rangeOf(own(opts ?? {}, "range"), name);
      this.inputs.push({ name, node, shape: s, where, ...(batched ? { batched } : {}), ...(range ? { range } : {}) });
      return this.t(node);
    });
  }
  param(name: string, shape: number[], opts: ParamOptions = {}): T {
    return this.at(() => {
      const where = this.claim(name, "param");
      const s = this.shapeOf(shape, `param '${name}'`);
      const node = this.graph.mk("param", [], { name, shape: s });
      const init = this.initOf(own(opts ?? {}, "init") ?? "xavier", name, size(s));
      this.params.push({ name, node, shape: s, where, init });
      return this.t(node);
    });
  }
  name(name: string, x: T): T {
    return this.at(() => {
      const where = this.claim(name, "value");
      if (!this.names.has(x.node.id) && x.node.op !== "input" && x.node.op !== "param") {
        this.names.set(x.node.id, name);
        this.locs.set(x.node.id, where);
      }
      return x;
    });
  }
  output(name: string, x: T): T {
    return this.at(() => {
      const where = this.claim(name, "output");
      this.outputs.push({ name, node: this.node(x), where });
      if (!this.names.has(x.node.id) && x.node.op !== "input" && x.node.op !== "param") this.names.set(x.node.id, name);
      return x;
    });
  }
  loss(x: T): T {
    return this.at(() => {
      if (this.lossNode) throw new GradcError("E_DUP_NAME", "loss is set twice", { hint: "a model has one loss; add the terms together" });
      const n = this.node(x);
      if (n.shape.length !== 0)
        throw new GradcError("E_LOSS_NOT_SCALAR", `loss must be a scalar, got shape [${n.shape.join(",")}]`, {
          shapes: [[...n.shape]],
          hint: "reduce it with m.mean(...) or m.sum(...)",
        });
      this.lossNode = n;
      if (!this.names.has(n.id)) this.names.set(n.id, "loss");
      return x;
    });
  }

  // ---- ops ---------------------------------------------------------------------
  unary(op: UnaryOp, x: Operand): T {
    return this.at(() => this.t(this.b.op(this.known(op, ewUnary, "unary"), this.node(x))));
  }
  binary(op: BinaryOp, a: Operand, c: Operand): T {
    return this.at(() => this.t(this.b.op(this.known(op, ewBinary, "binary"), this.node(a), this.node(c))));
  }
  /** `op` if it is one of `ops`, else E_UNKNOWN_OP naming the nearest ones (`x.apply("rleu")`). */
  private known(op: string, ops: readonly string[], what: string): string {
    if (ops.includes(op)) return op;
    throw new GradcError("E_UNKNOWN_OP", `unknown ${what} op '${String(op)}'`, {
      op: String(op),
      hint: `did you mean ${nearest(String(op), [...ops]).map((k) => `"${k}"`).join(", ")}?`,
    });
  }
  /** Validates the `axes` of a sum or mean of `n` (before the op's shape rule sees them). */
  private axes(n: Node, axes: unknown, what: string): void {
    if (axes === undefined) return;
    const rank = n.shape.length;
    const bad = (why: string) =>
      new GradcError("E_SHAPE", `${what}: axes ${JSON.stringify(axes) ?? String(axes)} ${why} (input shape [${n.shape.join(",")}])`, {
        op: "sum",
        shapes: [[...n.shape]],
        hint: "axes is a list of axis numbers counting from 0 (-1 is the last axis), e.g. m.sum(x, [1])",
      });
    if (!Array.isArray(axes)) throw bad("is not a list");
    const norm = axes.map((a) => (typeof a === "number" && a < 0 ? a + rank : a));
    if (norm.some((a) => !Number.isInteger(a) || a < 0 || a >= rank)) throw bad(`out of range for rank ${rank}`);
    const dup = norm.find((a, i) => norm.indexOf(a) !== i);
    if (dup !== undefined) throw bad(`name axis ${dup} twice`);
  }
  /** Any op of the table by name, for ops without attributes. */
  op(op: string, ...xs: Operand[]): T {
    return this.at(() => {
      const def = typeof op === "string" && Object.hasOwn(OPS, op) ? (OPS as Record<string, OpDef>)[op]! : undefined;
      if (!def || def.kind === "leaf")
        throw new GradcError("E_UNKNOWN_OP", def ? `m.op cannot build the leaf '${op}'` : `unknown op '${String(op)}'`, {
          op: String(op),
          hint: def
            ? "declare leaves with m.input(name, shape) and m.param(name, shape); write constants as numbers"
            : `did you mean ${nearest(String(op), opNames.filter((k) => opDef(k).kind !== "leaf")).map((k) => `"${k}"`).join(", ")}?`,
        });
      if (Object.hasOwn(ATTR_OPS, op))
        throw new GradcError("E_BAD_ATTR", `m.op("${op}") has no way to pass its attributes`, { op, hint: `write ${ATTR_OPS[op]}` });
      if (xs.length !== def.arity)
        throw new GradcError("E_ARITY", `${op}: takes ${def.arity} input(s), got ${xs.length}`, {
          op,
          hint: `call m.op("${op}"${Array.from({ length: def.arity }, (_, i) => `, x${i}`).join("")})`,
        });
      return this.t(this.b.op(op, ...xs.map(this.node)));
    });
  }
  where(c: Operand, a: Operand, x: Operand): T {
    return this.at(() => this.t(this.b.where(this.node(c), this.node(a), this.node(x))));
  }
  matmul(a: T, c: T): T {
    return this.at(() => this.t(this.b.matmul(this.node(a), this.node(c))));
  }
  transpose(x: T): T {
    return this.at(() => this.t(this.b.transpose(this.node(x))));
  }
  reshape(x: T, shape: number[]): T {
    return this.at(() => this.t(this.graph.mk("reshape", [this.node(x)], { shape })));
  }
  broadcast(x: Operand, shape: number[]): T {
    return this.at(() => this.t(this.b.broadcast(this.node(x), this.shapeOf(shape, "broadcast"))));
  }
  sum(x: T, axes?: number[]): T {
    return this.at(() => {
      const n = this.node(x);
      this.axes(n, axes, "sum");
      this.graph.mk("sum", [n], { axes: axes ?? n.shape.map((_, i) => i) }); // validates axes first
      return this.t(this.b.sum(this.maskRows(n, axes), axes));
    });
  }
  /** Mean over `axes` (default all); over the batch axis it divides by n, the real examples. */
  mean(x: T, axes?: number[]): T {
    return this.at(() => {
      const n = this.node(x);
      this.axes(n, axes, "mean");
      const s = this.graph.mk("sum", [n], { axes: axes ?? n.shape.map((_, i) => i) }); // validates axes first
      const masked = this.maskRows(n, axes);
      if (masked === n) return this.t(this.b.mean(n, axes));
      const rest = size(n.shape) / size(s.shape) / this.maxBatch!;
      const count = this.b.mul(this.graph.mk("batchSize", [], { max: this.maxBatch! }), rest);
      return this.t(this.b.div(this.b.sum(masked, axes), count));
    });
  }
  softmax(x: T): T {
    return this.op("softmax", x);
  }
  logsumexp(x: T): T {
    return this.op("logsumexp", x);
  }
  // ---- convolution and pooling: images [N, C, H, W], filters [K, C/groups, R, S] ---------------
  /** 2-D convolution (ONNX Conv): x [N, C, H, W], W [K, C/groups, R, S] -> [N, K, OH, OW]. */
  conv2d(x: T, w: T, opts: Conv2dOptions = {}): T {
    return this.at(() => {
      const xn = this.node(x);
      const wn = this.node(w);
      const o = this.options("conv2d", opts, ["stride", "padding", "dilation", "groups", "bias"]);
      this.image("conv2d", xn, "the input");
      this.image("conv2d", wn, "the filter", "[K, C/groups, R, S]: m.param(\"W\", [outChannels, inChannels, 5, 5])");
      const stride = this.pair("conv2d", "stride", o.stride ?? 1);
      const dilation = this.pair("conv2d", "dilation", o.dilation ?? 1);
      const groups = o.groups ?? 1;
      if (!Number.isInteger(groups) || (groups as number) < 1)
        throw this.badOpt("conv2d", "groups", groups, "a positive integer that divides the input and output channels");
      const extent = [dilation[0] * (wn.shape[2]! - 1) + 1, dilation[1] * (wn.shape[3]! - 1) + 1] as const;
      const pad = this.padding("conv2d", o.padding ?? "valid", xn.shape, extent, stride);
      const y = this.graph.mk("conv2d", [xn, wn], { stride, pad, dilation, groups: groups as number });
      if (o.bias === undefined) return this.t(y);
      const bn = this.node(o.bias as T);
      if (bn.shape.length !== 1 || bn.shape[0] !== y.shape[1])
        throw new GradcError("E_SHAPE", `conv2d: bias ${fmtShape(bn.shape)} is not [${y.shape[1]}], one value per output channel`, {
          op: "conv2d",
          shapes: [[...bn.shape]],
          hint: `declare it m.param("b", [${y.shape[1]}], { init: "zeros" })`,
        });
      return this.t(this.b.add(y, this.b.reshape(bn, [1, y.shape[1]!, 1, 1])));
    });
  }
  /** Max over each window: x [N, C, H, W] -> [N, C, OH, OW]; tied maxima share the gradient equally. */
  maxPool2d(x: T, opts: Pool2dOptions): T {
    return this.pool("maxPool2d", x, opts);
  }
  /** Mean over each window's real cells (padding is not counted: ONNX count_include_pad = 0). */
  avgPool2d(x: T, opts: Pool2dOptions): T {
    return this.pool("avgPool2d", x, opts);
  }
  /** The mean of each channel: [N, C, H, W] -> [N, C, 1, 1] (ONNX GlobalAveragePool). */
  globalAvgPool(x: T): T {
    return this.at(() => {
      const n = this.node(x);
      this.image("globalAvgPool", n, "the input");
      return this.t(this.b.reshape(this.b.mean(n, [2, 3]), [n.shape[0]!, n.shape[1]!, 1, 1]));
    });
  }
  /** [N, d1, d2, …] -> [N, d1·d2·…] (ONNX Flatten, axis 1): a reshape, no copy. */
  flatten(x: T): T {
    return this.at(() => {
      const n = this.node(x);
      if (n.shape.length < 2)
        throw new GradcError("E_SHAPE", `flatten: needs [N, …] with at least 2 axes, got ${fmtShape(n.shape)}`, { op: "flatten", shapes: [[...n.shape]], hint: "flatten keeps axis 0 (the batch) and joins the rest" });
      return this.t(this.b.reshape(n, [n.shape[0]!, size(n.shape) / n.shape[0]!]));
    });
  }
  private pool(op: "maxPool2d" | "avgPool2d", x: T, opts: Pool2dOptions): T {
    return this.at(() => {
      const n = this.node(x);
      const o = this.options(op, opts, ["size", "stride", "padding"]);
      this.image(op, n, "the input");
      if (o.size === undefined) throw this.badOpt(op, "size", undefined, `the window: m.${op}(x, { size: 2 })`);
      const win = this.pair(op, "size", o.size);
      const stride = o.stride === undefined ? win : this.pair(op, "stride", o.stride);
      const pad = this.padding(op, o.padding ?? "valid", n.shape, win, stride);
      return this.t(this.graph.mk(op, [n], { size: win, stride, pad }));
    });
  }
  /** A conv/pool option object: an object with only the known keys, read as own properties. */
  private options(op: string, opts: unknown, keys: readonly string[]): Record<string, unknown> {
    if (opts === null || typeof opts !== "object" || Array.isArray(opts))
      throw new GradcError("E_BAD_ATTR", `${op}: options ${showValue(opts)} are not an object`, { ...this.locate(), op, hint: `write m.${op}(x, { ${keys.slice(0, 2).join(", ")} })` });
    const extra = Object.keys(opts).find((k) => !keys.includes(k));
    if (extra !== undefined)
      throw new GradcError("E_BAD_ATTR", `${op}: unknown option '${extra}'`, { ...this.locate(), op, hint: `the options are ${keys.join(", ")}` });
    return Object.fromEntries(keys.map((k) => [k, own(opts as Record<string, unknown>, k)]));
  }
  private badOpt(op: string, name: string, v: unknown, want: string): GradcError {
    return new GradcError("E_BAD_ATTR", `${op}: ${name} ${showValue(v)} is not ${want.split(":")[0]}`, { ...this.locate(), op, hint: `${name} is ${want}` });
  }
  /** A 4-D operand of a conv or pool op. */
  private image(op: string, n: Node, what: string, layout = "[N, C, H, W] (batch, channels, height, width)"): void {
    if (n.shape.length !== 4)
      throw new GradcError("E_SHAPE", `${op}: ${what} must be 4-D ${layout.split(":")[0]}, got ${fmtShape(n.shape)}`, {
        op,
        shapes: [[...n.shape]],
        hint: layout.includes(":") ? layout.split(": ")[1] : "reshape flat rows to images first: m.reshape(x, [n, 1, 28, 28])",
      });
  }
  /** n or [a, b] of positive integers, as [a, b]. */
  private pair(op: string, name: string, v: unknown): [number, number] {
    const ok = (d: unknown) => Number.isInteger(d) && (d as number) >= 1;
    if (ok(v)) return [v as number, v as number];
    if (Array.isArray(v) && v.length === 2 && v.every(ok)) return [v[0], v[1]];
    throw this.badOpt(op, name, v, "a positive integer n or [rows, cols]");
  }
  /** Padding as [top, left, bottom, right]; "same" pads to ceil(in / stride) outputs, the odd cell at the end (ONNX SAME_UPPER). */
  private padding(op: string, p: unknown, x: Shape, extent: readonly [number, number], stride: readonly [number, number]): number[] {
    const ok = (d: unknown) => Number.isInteger(d) && (d as number) >= 0;
    if (p === "valid") return [0, 0, 0, 0];
    if (p === "same") {
      const side = (inDim: number, e: number, st: number) => Math.max(0, (Math.ceil(inDim / st) - 1) * st + e - inDim);
      const [th, tw] = [side(x[2]!, extent[0], stride[0]), side(x[3]!, extent[1], stride[1])];
      return [Math.floor(th / 2), Math.floor(tw / 2), th - Math.floor(th / 2), tw - Math.floor(tw / 2)];
    }
    if (ok(p)) return [p as number, p as number, p as number, p as number];
    if (Array.isArray(p) && p.every(ok)) {
      if (p.length === 2) return [p[0], p[1], p[0], p[1]];
      if (p.length === 4) return [...p];
    }
    throw this.badOpt(op, "padding", p, '"valid", "same", p (every side), [ph, pw] or [top, left, bottom, right], integers >= 0');
  }

  /**
   * Inverted dropout: x times a mask input `dropout_<name>` of x's shape that
   * the trainer fills each step (each entry 0 with probability p, else
   * 1/(1-p)) and with ones for evaluation and prediction. The mask is data,
   * so no gradient flows into it.
   */
  dropout(x: T, p: number, name?: string): T {
    return this.at(() => {
      if (typeof p !== "number" || !(p >= 0 && p < 1))
        throw new GradcError("E_BAD_ATTR", `dropout rate ${String(p)} is not in [0, 1)`, { ...this.locate(), op: "dropout", hint: "write m.dropout(h, 0.5)" });
      const n = this.node(x);
      const maskName = `dropout_${name ?? this.dropouts++}`;
      const where = this.claim(maskName, "dropout mask");
      const batched = this.batched(n);
      const mask = this.graph.mk("input", [], { name: maskName, shape: [...n.shape], ...(batched ? { batch: 1 } : {}) });
      this.inputs.push({ name: maskName, node: mask, shape: n.shape, where, dropout: p, ...(batched ? { batched } : {}) });
      return this.t(this.b.mul(n, mask));
    });
  }
  square(x: Operand): T {
    return this.at(() => this.t(this.b.pow(this.node(x), 2)));
  }

  /**
   * The lectures' L2 regularizer Ω(θ) = λ Σ ‖w‖² over the given tensors (L14: "for every weight w, add λw² to
   * the objective"), a scalar to add to the loss — `m.loss(m.add(data, m.l2(1e-4, W1, W2)))`. Its gradient is
   * 2λw, in the generated backward pass. (The trainer's `l2: μ` option instead adds μ w to the gradient, an
   * objective term μ/2 ‖w‖²: `m.l2(λ, W)` trains like `createTrainer(mod, { l2: 2λ })` on W.)
   */
  l2(lambda: number, ...tensors: T[]): T {
    return this.at(() => {
      if (typeof lambda !== "number" || !Number.isFinite(lambda) || lambda < 0)
        throw new GradcError("E_BAD_ATTR", `m.l2: λ ${showValue(lambda)} is not a finite number >= 0`, { ...this.locate(), hint: "write m.l2(1e-4, W1, W2): λ first, then the weights" });
      if (tensors.length === 0)
        throw new GradcError("E_ARG", "m.l2: no tensors to regularize", { ...this.locate(), hint: "write m.l2(1e-4, W1, W2): λ first, then the weights" });
      const squares = tensors.map((w) => {
        const n = this.node(w);
        return this.b.sum(this.maskRows(this.b.mul(n, n), undefined));
      });
      const out = this.b.mul(lambda, squares.reduce((acc, x) => this.b.add(acc, x)));
      if (!this.boxNames.has(out.id)) this.boxNames.set(out.id, "l2");
      return this.t(out);
    });
  }

  // ---- user-defined functions (the lectures' flow-graph boxes) -----------------------
  /**
   * A named function built from builder ops, differentiated automatically:
   *   const swish = m.define("swish", (x) => m.mul(x, m.sigmoid(x)));
   *   const h = swish(z);
   * Each call builds `fn`'s ops on its arguments (shape-checked like any op); the result is called by the
   * function's name in generated code and graphs unless the spec names it.
   */
  define(name: string, fn: (...inputs: T[]) => T): (...inputs: Operand[]) => T {
    return this.at(() => {
      const where = this.claim(name, "function");
      if (typeof fn !== "function")
        throw new GradcError("E_ARG", `m.define("${name}", …): the second argument is not a function`, { ...this.locate(), hint: 'write m.define("swish", (x) => m.mul(x, m.sigmoid(x)))' });
      const box = { kind: "define" as const, where, calls: 0 };
      this.boxes.set(name, box);
      return (...xs: Operand[]) =>
        this.at(() => {
          const out = this.node(fn(...xs.map((x) => this.t(this.node(x)))));
          box.calls++;
          if (out.op !== "input" && out.op !== "param" && out.op !== "const" && !this.boxNames.has(out.id)) this.boxNames.set(out.id, name);
          return this.t(out);
        });
    });
  }

  /**
   * A box with a derivative rule the spec writes (the lectures' fprop/bprop module):
   *   const sig = m.custom("sig", {
   *     forward: (x) => m.div(1, m.add(1, m.exp(m.neg(x)))),
   *     vjp: (g, [x], y) => [m.mul(g, m.mul(y, m.sub(1, y)))],
   *   });
   * The forward is built from the inputs (shape-checked like any op) and is what every backend computes; the
   * gradient is the vjp, never the forward's own derivative. `gradc check` compares the vjp with central
   * differences of the forward and names the box when they disagree. The rule lives in this spec's model only.
   */
  custom(name: string, def: CustomDef): (...inputs: Operand[]) => T {
    return this.at(() => {
      const where = this.claim(name, "custom op");
      const forward = own(def ?? ({} as CustomDef), "forward");
      const vjp = own(def ?? ({} as CustomDef), "vjp");
      if (typeof forward !== "function" || typeof vjp !== "function")
        throw new GradcError("E_ARG", `m.custom("${name}", …): needs { forward, vjp }, both functions`, {
          ...where,
          hint: 'write m.custom("sig", { forward: (x) => …, vjp: (g, [x], y) => [m.mul(g, …)] })',
        });
      const box = { kind: "custom" as const, where, calls: 0 };
      this.boxes.set(name, box);
      return (...args: Operand[]) =>
        this.at(() => {
          box.calls++;
          return this.customCall(name, forward, vjp, args, where);
        });
    });
  }
  private customCall(name: string, forward: CustomDef["forward"], vjp: CustomDef["vjp"], args: Operand[], where: Where): T {
    const fail = (code: ErrorCode, why: string, hint: string, extra: Record<string, unknown> = {}) =>
      new GradcError(code, `custom op '${name}': ${why}`, { ...this.locate(), op: name, hint, ...extra });
    if (args.length === 0) throw fail("E_ARITY", "called with no inputs", `call it on tensors: ${name}(x)`);
    const xs = args.map((x) => this.node(x));
    const f = this.node(forward(...xs.map((x) => this.t(x))));
    // The box's gradient goes to its inputs only: a param the forward reads from outside (directly or through a value
    // computed from it) would get none. Data inputs need no gradient: reading them is fine.
    const own = new Set(xs.map((x) => x.id));
    const outside = topo([f], (n) => own.has(n.id)).find((n) => n.op === "param");
    if (outside)
      throw fail("E_ARG", `forward reads ${outside.op} '${String(outside.attrs.name)}', which is not one of its inputs (its vjp could give it no gradient)`, `pass it as an input: ${name}(x, ${String(outside.attrs.name)}), and return its adjoint from vjp`);
    const node = this.graph.mk("custom", [f, ...xs], { name });
    if (this.customs.has(node.id)) return this.t(node); // the same box on the same inputs: the same node and rule
    const adjoint = this.graph.mk("input", [], { name: "__adjoint", shape: [...node.shape], custom: name });
    const ds = vjp(this.t(adjoint), xs.map((x) => this.t(x)), this.t(node));
    if (!Array.isArray(ds) || ds.length !== xs.length)
      throw fail("E_ARITY", `vjp returned ${Array.isArray(ds) ? `${ds.length} adjoint(s)` : showValue(ds)} for ${xs.length} input(s)`, "return a list with one adjoint (or null) per input, in input order");
    const rule = ds.map((d, i) => {
      if (d === null) return null;
      const n = this.node(d as Operand);
      if (!sameShape(n.shape, xs[i]!.shape))
        throw fail("E_SHAPE", `vjp's adjoint of input ${i} has shape ${fmtShape(n.shape)}, the input ${fmtShape(xs[i]!.shape)}`, "an input's adjoint has that input's shape: sum broadcast axes away (m.sum(g, axes)) or broadcast it (m.broadcast)", { shapes: [[...n.shape], [...xs[i]!.shape]] });
      return n;
    });
    const stray = topo(rule.filter((d): d is Node => d !== null)).find((n) => n.op === "input" && n.attrs.name === "__adjoint" && n !== adjoint);
    if (stray) throw fail("E_ARG", `vjp uses the adjoint of custom op '${String(stray.attrs.custom)}' (from another vjp)`, "a vjp may use its own g, its inputs, its output and any spec value, not another box's g");
    this.customs.set(node.id, { name, adjoint, vjp: rule, where });
    if (!this.boxNames.has(node.id)) this.boxNames.set(node.id, name);
    return this.t(node);
  }

  // ---- losses (elementwise or per row; reduce them with mean or sum) ---------------
  /** 0.5 (y - t)^2, elementwise. */
  squaredError(y: T, t: Operand): T {
    return this.at(() => this.t(this.b.op("halfSquare", this.b.sub(this.node(y), this.node(t)))));
  }
  /** Binary cross-entropy of logits against targets in [0, 1], elementwise, numerically stable. */
  bceWithLogits(logits: T, targets: Operand): T {
    return this.binary("bceLogits", logits, targets);
  }
  /** Cross-entropy of softmax(logits) against target distributions, one value per row: logsumexp(x) - sum(z x). */
  softmaxCrossEntropy(logits: T, targets: T): T {
    return this.at(() => {
      const x = this.node(logits);
      const z = this.node(targets);
      // One fused row-wise op (stable: shifted by the row max, log1p, one store per row); targets broadcast to the logits.
      return this.t(this.b.op("softmaxCE", x, this.b.broadcast(z, x.shape)));
    });
  }

  /**
   * E_UNUSED: with a loss, every param must get a gradient — the loss depends on it
   * through ops with a derivative; without one, some output must read it.
   */
  private checkUnused(): void {
    if (!this.params.length) return;
    let unused: Leaf[];
    let why: string;
    if (this.lossNode) {
      const reach = new Set(topo([this.lossNode]).map((n) => n.id));
      const differentiable = gradientReach(this.lossNode, this.customs);
      unused = this.params.filter((p) => !differentiable.has(p.node.id));
      why = reach.has(unused[0]?.node.id ?? -1)
        ? "the loss depends on it only through ops without a derivative (step, sign, ge, a where condition): its gradient is always 0"
        : "the loss does not depend on it";
    } else {
      const reach = new Set(topo(this.outputs.map((o) => o.node)).map((n) => n.id));
      unused = this.params.filter((p) => !reach.has(p.node.id));
      why = "no output depends on it";
    }
    const [first, ...rest] = unused;
    if (!first) return;
    const more = rest.length ? ` (so are ${rest.map((p) => `'${p.name}'`).join(", ")})` : "";
    throw new GradcError("E_UNUSED", `param '${first.name}' is unused: ${why}${more}`, {
      ...first.where,
      file: first.where?.file ?? this.source,
      hint: "use it in the loss, make it an m.input if it is data, or delete it (a param with no gradient never trains)",
    });
  }

  /** The finished model (called by the loader after the spec function returns). */
  finish(): Model {
    if (!this.lossNode && this.outputs.length === 0)
      throw new GradcError("E_EMPTY_MODEL", "the spec declares neither a loss nor an output", {
        file: this.source,
        hint: "call m.loss(...) for training, m.output(name, ...) for predictions",
      });
    this.checkAdjoints();
    this.checkUnused();
    for (const [id, nm] of this.boxNames) if (!this.names.has(id)) this.names.set(id, nm);
    return {
      name: this.modelName,
      source: this.source,
      graph: this.graph,
      inputs: this.inputs,
      params: this.params,
      outputs: this.outputs,
      loss: this.lossNode,
      ...(this.maxBatch !== undefined ? { batch: this.maxBatch } : {}),
      names: this.names,
      where: this.locs,
      ...(this.customs.size ? { customs: this.customs } : {}),
      ...(this.boxes.size ? { boxes: [...this.boxes].map(([name, b]) => ({ name, ...b })) } : {}),
    };
  }

  /** A vjp's g exists only inside its rule: the loss or an output that reads one (a g kept from a vjp) is an error. */
  private checkAdjoints(): void {
    const roots = [...(this.lossNode ? [this.lossNode] : []), ...this.outputs.map((o) => o.node)];
    const g = topo(roots).find((n) => n.op === "input" && n.attrs.name === "__adjoint");
    if (g)
      throw new GradcError("E_ARG", `the ${this.lossNode && topo([this.lossNode]).includes(g) ? "loss" : "output"} reads the g of custom op '${String(g.attrs.custom)}', which exists only inside its vjp`, {
        file: this.source,
        op: String(g.attrs.custom),
        hint: "use g only in the expressions vjp returns",
      });
  }
}

/** The largest tensor a spec may declare (elements; 2^26 floats are 256 MiB in float32), and the longest axis. */
export const MAX_ELEMENTS = 1 << 26;
export const MAX_DIM = 1 << 24;

/** Ops with attributes: `m.op` cannot build them, their own builder methods can. */
const ATTR_OPS: Record<string, string> = {
  sum: "m.sum(x, axes)",
  reshape: "m.reshape(x, shape)",
  broadcast: "m.broadcast(x, shape)",
  conv2d: "m.conv2d(x, W, { stride, padding, dilation, groups, bias })",
  maxPool2d: "m.maxPool2d(x, { size, stride, padding })",
  avgPool2d: "m.avgPool2d(x, { size, stride, padding })",
  // Built by the derivative rules of the ops above.
  conv2dBackInput: "m.conv2d(...): its gradient builds this op",
  conv2dBackFilter: "m.conv2d(...): its gradient builds this op",
  maxPool2dBack: "m.maxPool2d(...): its gradient builds this op",
  maxPool2dPick: "m.maxPool2d(...): its second derivative builds this op",
  avgPool2dBack: "m.avgPool2d(...): its gradient builds this op",
  custom: 'm.custom(name, { forward, vjp }) (or m.define(name, fn) for a function differentiated automatically)',
};

/** A unary op called as a tensor method (`x.relu()`) gets E_UNKNOWN_OP naming the builder call, not a TypeError. */
const tensorMembers = new Set([...Object.keys(new T(undefined as never, undefined as never)), ...Object.getOwnPropertyNames(T.prototype)]);
for (const op of opNames)
  if (!tensorMembers.has(op) && opDef(op).kind !== "leaf")
    Object.defineProperty(T.prototype, op, {
      get() {
        throw new GradcError("E_UNKNOWN_OP", `tensors have no method '${op}'`, {
          op,
          hint: opDef(op).arity === 1 ? `write m.${op}(x) or x.apply("${op}")` : `write m.${op}(x, …)`,
        });
      },
    });

/** A fresh builder; `ModelBuilder` adds the op-table methods to `Builder`'s type. */
export function builder(name: string, source: string, locate: Locate = () => ({})): ModelBuilder {
  // A call of an op the table does not have gets E_UNKNOWN_OP with the nearest names, not a TypeError.
  return new Proxy(new Builder(name, source, locate), {
    get(target, prop, recv) {
      if (typeof prop === "string" && !(prop in target) && prop !== "then")
        throw new GradcError("E_UNKNOWN_OP", `unknown op '${prop}'`, {
          ...locate(),
          op: prop,
          hint: `did you mean ${nearest(prop, methods(target)).map((n) => `m.${n}`).join(", ")}?`,
        });
      return Reflect.get(target, prop, recv);
    },
  }) as ModelBuilder;
}

const INTERNAL = new Set([
  "constructor", "at", "claim", "shapeOf", "t", "node", "locate", "b", "finish", "batched", "batchedFrom", "maskRows", "dropouts",
  "pool", "options", "badOpt", "image", "pair", "padding", "customCall", "checkAdjoints",
]);

/** The builder's callable names: its op-table methods and its own. */
const methods = (b: Builder): string[] =>
  [...Object.keys(b), ...Object.getOwnPropertyNames(Builder.prototype)].filter(
    (k) => !INTERNAL.has(k) && typeof (b as unknown as Record<string, unknown>)[k] === "function",
  );

/** The three names closest to `s` by edit distance. */
function nearest(s: string, names: string[]): string[] {
  const dist = (a: string, b: string) => {
    const d = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
      let prev = d[0]!;
      d[0] = i;
      for (let j = 1; j <= b.length; j++) {
        const tmp = d[j]!;
        d[j] = Math.min(d[j]! + 1, d[j - 1]! + 1, prev + (a[i - 1]!.toLowerCase() === b[j - 1]!.toLowerCase() ? 0 : 1));
        prev = tmp;
      }
    }
    return d[b.length]!;
  };
  const uniq = [...new Set(names)].filter((n) => n !== "constructor" && !n.startsWith("_"));
  return uniq.sort((a, b) => dist(s, a) - dist(s, b)).slice(0, 3);
}

/**
 * The nodes the loss reaches through ops with a derivative rule, skipping the
 * inputs a rule never differentiates (where's condition): exactly the nodes
 * autodiff gives an adjoint, found without building one (building them here
 * would hand autodiff hash-consed nodes back later). Iterative.
 */
function gradientReach(loss: Node, customs: ReadonlyMap<number, CustomRule>): Set<number> {
  const seen = new Set([loss.id]);
  const stack = [loss];
  while (stack.length) {
    const n = stack.pop()!;
    const def = opDef(n.op);
    if (!def.vjp) continue;
    // A custom box sends gradient where its rule does: into the inputs its vjp gives an adjoint (registered), else into f.
    const rule = n.op === "custom" ? customs.get(n.id) : undefined;
    const skip = (i: number) => (n.op === "custom" ? (rule ? i === 0 || rule.vjp[i - 1] === null : i > 0) : def.noGrad?.includes(i));
    n.inputs.forEach((x, i) => {
      if (skip(i) || seen.has(x.id)) return;
      seen.add(x.id);
      stack.push(x);
    });
  }
  return seen;
}
