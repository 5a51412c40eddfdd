/**
 * ONNX export: the forward graph of a model as an ONNX model (opset 17, IR
 * version 8), so the weights trained here can be served by ONNX Runtime or
 * taken on in PyTorch.
 *
 *   - inputs: the model's inputs that some output reads (targets of the loss
 *     are left out), a batch axis as the symbolic dimension "N";
 *   - params: initializers holding the given values (float32);
 *   - outputs: the model's declared outputs, by their spec names;
 *   - every op of the op table maps to standard ONNX operators through
 *     `EXPORT_RULES` below: one entry per op, a direct operator where ONNX has
 *     one, otherwise a decomposition written in the entry (expm1, log1p, cbrt,
 *     nthRoot, logsumexp, bceLogits, …). An entry of `null` means "no ONNX
 *     form": exporting a model that uses it is E_ONNX_OP naming the op.
 *
 * The batch mask. gradc's `mean` and `sum` over the batch axis count only the
 * first n rows of a padded batch (the `batchMask` and `batchSize` leaves). An
 * ONNX model is run on exactly the rows it is given, so `batchSize` becomes
 * the batch axis' length, Shape(x)[0], and `batchMask` a vector of ones of
 * that length: the same numbers gradc computes for the first n rows.
 *
 * Dropout masks (inputs the trainer fills while training, ones otherwise)
 * are the constant 1: the exported graph is the inference graph.
 *
 * The protobuf is built with onnx-proto (static protobufjs code generated
 * from ONNX's own onnx.proto), not by hand.
 */
import onnxProto from "onnx-proto";
import { GradcError, fmtShape } from "../errors.ts";
import { type Node, topo } from "../ir/graph.ts";
import type { Model } from "../ir/model.ts";
import type { OpName } from "../ir/ops.ts";
import { normAxes, size } from "../ir/shape.ts";

const { onnx } = onnxProto;
type INode = onnxProto.onnx.INodeProto;
type ITensor = onnxProto.onnx.ITensorProto;
type IAttr = onnxProto.onnx.IAttributeProto;
type IValueInfo = onnxProto.onnx.IValueInfoProto;

import { BATCH_DIM, type Dim, type ExportOptions as PublicExportOptions, ONNX_IR_VERSION, ONNX_OPSET, type OnnxExport, type ParamValues } from "./onnx-types.ts";

export { BATCH_DIM, ONNX_IR_VERSION, ONNX_OPSET, type Dim, type OnnxExport, type ParamValues };

export interface ExportOptions extends PublicExportOptions {
  /** Export rules (tests replace one to check the E_ONNX_OP path). */
  rules?: ExportRules;
}

// ---------------------------------------------------------------------------
// The ONNX graph being built

const FLOAT = onnx.TensorProto.DataType.FLOAT;
const INT64 = onnx.TensorProto.DataType.INT64;
const A = onnx.AttributeProto.AttributeType;

type AttrValue = number | readonly number[] | { readonly int: number } | { readonly ints: readonly number[] } | ITensor;

const isNumbers = (v: AttrValue): v is readonly number[] => Array.isArray(v);

function attr(name: string, v: AttrValue): IAttr {
  if (typeof v === "number") return { name, type: A.FLOAT, f: v };
  if (isNumbers(v)) return { name, type: A.FLOATS, floats: [...v] };
  if ("int" in v) return { name, type: A.INT, i: v.int };
  if ("ints" in v) return { name, type: A.INTS, ints: [...v.ints] };
  return { name, type: A.TENSOR, t: v };
}

/** Little-endian float32 bytes (ONNX raw_data is little-endian whatever the host). */
function f32Bytes(values: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i]!, true);
  return out;
}

/** The graph under construction: nodes, initializers and a name space. */
export class OnnxGraph {
  readonly nodes: INode[] = [];
  readonly initializers: ITensor[] = [];
  private readonly taken = new Set<string>();
  private readonly consts = new Map<string, string>();
  private readonly counts = new Map<string, number>();

  /** Reserves `name` exactly (spec names); false if it was taken. */
  reserve(name: string): boolean {
    if (this.taken.has(name)) return false;
    this.taken.add(name);
    return true;
  }
  /** A name not used yet: `base`, else `base_1`, `base_2`, … */
  fresh(base: string): string {
    let name = base;
    for (let k = 1; this.taken.has(name); k++) name = `${base}_${k}`;
    this.taken.add(name);
    return name;
  }
  /** Adds one node; returns its output's name (`out`, or a fresh one from the op type). */
  op(type: string, inputs: readonly string[], attrs: Readonly<Record<string, AttrValue>> = {}, out?: string): string {
    const output = out ?? this.fresh(type.toLowerCase());
    this.nodes.push({
      opType: type,
      name: `${type}_${this.nodes.length}`,
      input: [...inputs],
      output: [output],
      attribute: Object.entries(attrs).map(([k, v]) => attr(k, v)),
    });
    this.counts.set(type, (this.counts.get(type) ?? 0) + 1);
    return output;
  }
  /** A float32 initializer of `dims` holding `values` (row-major). */
  tensor(name: string, dims: readonly number[], values: ArrayLike<number>): string {
    this.initializers.push({ name, dims: [...dims], dataType: FLOAT, rawData: f32Bytes(values) });
    return name;
  }
  /** A float32 scalar constant (one initializer per distinct value). */
  scalar(v: number): string {
    const key = `f${Object.is(v, -0) ? "-0" : String(v)}`;
    let name = this.consts.get(key);
    if (!name) this.consts.set(key, (name = this.tensor(this.fresh("c"), [], [v])));
    return name;
  }
  /** An int64 vector constant (shapes, axes, indices). */
  ints(values: readonly number[], dims: readonly number[] = [values.length]): string {
    const key = `i[${values.join(",")}]${dims.length}`;
    let name = this.consts.get(key);
    if (!name) {
      name = this.fresh("i64");
      this.initializers.push({ name, dims: [...dims], dataType: INT64, int64Data: [...values] });
      this.consts.set(key, name);
    }
    return name;
  }
  get opCounts(): ReadonlyMap<string, number> {
    return this.counts;
  }
}

// ---------------------------------------------------------------------------
// Export rules: one entry per op of the table

/** What a rule sees: its node, its inputs' ONNX names and symbolic shapes, and helpers. */
export interface RuleCtx {
  readonly g: OnnxGraph;
  readonly node: Node;
  /** ONNX names of the node's inputs (float32 tensors). */
  readonly ins: readonly string[];
  /** The node's ONNX output name; the rule's last op must write it. */
  readonly out: string;
  /** The output's symbolic shape (the batch axis as "N"). */
  readonly shape: readonly Dim[];
  /** The node's input `i` as an ONNX bool tensor, `input != 0` (a `ge` or `step` input gives its comparison directly). */
  bool(i: number): string;
  /** The batch axis' length as a [1] int64 tensor (Shape of a batched input, first axis). */
  batchLength(): string;
}

/** Writes `ctx.out`; `null` in the table means the op has no ONNX form. */
export type ExportRule = (ctx: RuleCtx) => void;
export type ExportRules = Readonly<Record<OpName, ExportRule | null>>;

/** An ONNX operator applied to the inputs as they are. */
const direct =
  (type: string, attrs?: Readonly<Record<string, AttrValue>>): ExportRule =>
  ({ g, ins, out }) =>
    void g.op(type, ins, attrs, out);
/** f(x) then 1 / f(x): sec, csc, cot, sech, csch, coth. */
const recipOf =
  (type: string): ExportRule =>
  ({ g, ins, out }) =>
    void g.op("Reciprocal", [g.op(type, ins)], {}, out);
/** f(1 / x): asec, acsc, acot, asech, acsch, acoth. */
const ofRecip =
  (type: string): ExportRule =>
  ({ g, ins, out }) =>
    void g.op(type, [g.op("Reciprocal", ins)], {}, out);
/** ln(x) / c. */
const logOver =
  (c: number): ExportRule =>
  ({ g, ins, out }) =>
    void g.op("Div", [g.op("Log", ins), g.scalar(c)], {}, out);
const castFloat = { to: { int: FLOAT } } as const;

/**
 * log1p(x) without the cancellation of log(1 + x) for small x (Goldberg 1991,
 * thm. 4): u = 1 + x; x where u == 1, else log(u) · x / (u - 1).
 */
function log1p(g: OnnxGraph, x: string, out?: string): string {
  const u = g.op("Add", [x, g.scalar(1)]);
  const d = g.op("Sub", [u, g.scalar(1)]);
  const r = g.op("Mul", [g.op("Log", [u]), g.op("Div", [x, d])]);
  return g.op("Where", [g.op("Equal", [d, g.scalar(0)]), x, r], {}, out);
}

export const EXPORT_RULES: ExportRules = {
  // Leaves are bound by `exportOnnx` itself (graph inputs, initializers, the batch length).
  input: null,
  param: null,
  batchSize: ({ g, out, batchLength }) => void g.op("Cast", [g.op("Squeeze", [batchLength()])], castFloat, out),
  batchMask: ({ g, out, batchLength }) =>
    void g.op("ConstantOfShape", [batchLength()], { value: { dims: [1], dataType: FLOAT, floatData: [1] } }, out),
  const: null,

  add: direct("Add"),
  sub: direct("Sub"),
  mul: direct("Mul"),
  div: direct("Div"),
  neg: direct("Neg"),
  pow: direct("Pow"),
  max: direct("Max"),
  min: direct("Min"),
  ge: ({ g, ins, out }) => void g.op("Cast", [g.op("GreaterOrEqual", ins)], castFloat, out),
  where: ({ g, ins, out, bool }) => void g.op("Where", [bool(0), ins[1]!, ins[2]!], {}, out),

  exp: direct("Exp"),
  // e^x - 1 = tanh(x/2) (e^x + 1): exact in exact arithmetic, and without exp(x) - 1's cancellation near 0.
  expm1: ({ g, ins: [x], out }) =>
    void g.op("Mul", [g.op("Tanh", [g.op("Mul", [x!, g.scalar(0.5)])]), g.op("Add", [g.op("Exp", [x!]), g.scalar(1)])], {}, out),
  log: direct("Log"),
  log1p: ({ g, ins: [x], out }) => void log1p(g, x!, out),
  log2: logOver(Math.LN2),
  log10: logOver(Math.LN10),
  logb: ({ g, ins: [x, base], out }) => void g.op("Div", [g.op("Log", [x!]), g.op("Log", [base!])], {}, out),
  sqrt: direct("Sqrt"),
  // The real cube root: sign(x) |x|^(1/3).
  cbrt: ({ g, ins: [x], out }) =>
    void g.op("Mul", [g.op("Sign", [x!]), g.op("Pow", [g.op("Abs", [x!]), g.scalar(1 / 3)])], {}, out),
  // The real n-th root: -(-x)^(1/n) for x < 0 and odd integer n, else x^(1/n) (NaN for x < 0 otherwise).
  nthRoot: ({ g, ins: [x, n], out }) => {
    const inv = g.op("Reciprocal", [n!]);
    const odd = g.op("And", [
      g.op("Equal", [g.op("Floor", [n!]), n!]),
      g.op("Equal", [g.op("Abs", [g.op("Mod", [n!, g.scalar(2)], { fmod: { int: 1 } })]), g.scalar(1)]),
    ]);
    const neg = g.op("And", [g.op("Less", [x!, g.scalar(0)]), odd]);
    const r = g.op("Pow", [g.op("Abs", [x!]), inv]);
    g.op("Where", [neg, g.op("Neg", [r]), g.op("Pow", [x!, inv])], {}, out);
  },
  abs: direct("Abs"),
  sign: direct("Sign"),

  sin: direct("Sin"),
  cos: direct("Cos"),
  tan: direct("Tan"),
  sec: recipOf("Cos"),
  csc: recipOf("Sin"),
  cot: recipOf("Tan"),
  asin: direct("Asin"),
  acos: direct("Acos"),
  atan: direct("Atan"),
  asec: ofRecip("Acos"),
  acsc: ofRecip("Asin"),
  acot: ofRecip("Atan"),

  sinh: direct("Sinh"),
  cosh: direct("Cosh"),
  tanh: direct("Tanh"),
  sech: recipOf("Cosh"),
  csch: recipOf("Sinh"),
  coth: recipOf("Tanh"),
  asinh: direct("Asinh"),
  acosh: direct("Acosh"),
  atanh: direct("Atanh"),
  asech: ofRecip("Acosh"),
  acsch: ofRecip("Asinh"),
  acoth: ofRecip("Atanh"),

  sigmoid: direct("Sigmoid"),
  relu: direct("Relu"),
  softplus: direct("Softplus"),
  step: ({ g, ins, out }) => void g.op("Cast", [g.op("Greater", [ins[0]!, g.scalar(0)])], castFloat, out),
  halfSquare: ({ g, ins: [x], out }) => void g.op("Mul", [g.op("Mul", [x!, g.scalar(0.5)]), x!], {}, out),
  // max(x,0) - x z + log1p(e^-|x|) = softplus(x) - x z.
  bceLogits: ({ g, ins: [x, z], out }) => void g.op("Sub", [g.op("Softplus", [x!]), g.op("Mul", [x!, z!])], {}, out),

  sum: ({ g, node, ins, out }) => {
    const axes = normAxes(node.attrs.axes as number[], node.inputs[0]!.shape.length)!;
    if (axes.length === 0) g.op("Identity", ins, {}, out);
    else g.op("ReduceSum", [ins[0]!, g.ints(axes)], { keepdims: { int: 0 } }, out);
  },
  // m + log(sum(exp(x - m))) over the last axis, m the row maximum (the op's own shift).
  logsumexp: ({ g, ins: [x], out }) => {
    const m = g.op("ReduceMax", [x!], { axes: { ints: [-1] }, keepdims: { int: 1 } });
    const s = g.op("ReduceSum", [g.op("Exp", [g.op("Sub", [x!, m])]), g.ints([-1])], { keepdims: { int: 0 } });
    g.op("Add", [g.op("Squeeze", [m, g.ints([-1])]), g.op("Log", [s])], {}, out);
  },
  softmax: direct("Softmax", { axis: { int: -1 } }),
  // softmaxCE(x, z) = logsumexp(x) - sum(z x) per row: the max-shifted logsumexp, then the dot with the targets.
  softmaxCE: ({ g, ins: [x, z], out }) => {
    const m = g.op("ReduceMax", [x!], { axes: { ints: [-1] }, keepdims: { int: 1 } });
    const s = g.op("ReduceSum", [g.op("Exp", [g.op("Sub", [x!, m])]), g.ints([-1])], { keepdims: { int: 0 } });
    const lse = g.op("Add", [g.op("Squeeze", [m, g.ints([-1])]), g.op("Log", [s])]);
    const zx = g.op("ReduceSum", [g.op("Mul", [z!, x!]), g.ints([-1])], { keepdims: { int: 0 } });
    g.op("Sub", [lse, zx], {}, out);
  },

  matmul: direct("MatMul"),
  transpose: direct("Transpose", { perm: { ints: [1, 0] } }),
  // [N, d1, d2, …] -> [N, d1·d2·…] is ONNX's Flatten (axis 1): m.flatten.
  reshape: ({ g, node, ins, out, shape }) => {
    const x = node.inputs[0]!.shape;
    if (x.length > 2 && shape.length === 2 && node.shape[0] === x[0]) g.op("Flatten", ins, { axis: { int: 1 } }, out);
    else g.op("Reshape", [ins[0]!, g.ints(shape.map((d) => (d === BATCH_DIM ? -1 : d)))], {}, out);
  },
  // Expand broadcasts both ways, so the batch axis (already N in the input) can be written as 1.
  broadcast: ({ g, ins, out, shape }) => void g.op("Expand", [ins[0]!, g.ints(shape.map((d) => (d === BATCH_DIM ? 1 : d)))], {}, out),

  // NCHW and OIHW, pads [top, left, bottom, right]: ONNX's own conventions, so the attributes map 1:1.
  // (A bias added to a conv2d becomes Conv's third input: see `exportOnnx`.)
  conv2d: ({ g, node, ins, out }) => void g.op("Conv", ins, convAttrs(node), out),
  // conv2d's input gradient is ONNX's ConvTranspose with the same filter [K, C/groups, R, S] (output_padding 0: sizes are exact).
  conv2dBackInput: ({ g, node, ins, out }) => void g.op("ConvTranspose", ins, convAttrs(node), out),
  maxPool2d: ({ g, node, ins, out }) => void g.op("MaxPool", ins, poolAttrs(node), out),
  avgPool2d: ({ g, node, ins, out }) => void g.op("AveragePool", ins, { ...poolAttrs(node), count_include_pad: { int: 0 } }, out),
  // The gradients of the filter and of the pools appear only in gradient graphs, which are not exported.
  conv2dBackFilter: null,
  maxPool2dBack: null,
  maxPool2dPick: null,
  avgPool2dBack: null,
};

/** Conv / ConvTranspose attributes of a conv op (the filter is input 1 of both). */
function convAttrs(n: Node): Record<string, AttrValue> {
  const w = n.inputs[1]!.shape;
  const a = n.attrs;
  return {
    kernel_shape: { ints: [w[2]!, w[3]!] },
    strides: { ints: a.stride as number[] },
    pads: { ints: a.pad as number[] },
    dilations: { ints: a.dilation as number[] },
    group: { int: a.groups as number },
  };
}
const poolAttrs = (n: Node): Record<string, AttrValue> => ({
  kernel_shape: { ints: n.attrs.size as number[] },
  strides: { ints: n.attrs.stride as number[] },
  pads: { ints: n.attrs.pad as number[] },
});

// ---------------------------------------------------------------------------
// Symbolic shapes: which axes are the batch axis

const whereOf = (m: Model, n: Node) => {
  const w = m.where.get(n.id);
  return w ? { ...w } : { file: m.source };
};
const show = (s: readonly Dim[]) => `[${s.join(",")}]`;

/** Numpy broadcasting of symbolic shapes; the batch axis meets only itself or 1. */
function broadcastSym(m: Model, n: Node, shapes: readonly (readonly Dim[])[]): Dim[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out: Dim[] = [];
  for (let ax = 0; ax < rank; ax++) {
    const dims = shapes.map((s) => s[s.length - rank + ax] ?? 1);
    if (dims.includes(BATCH_DIM)) {
      const fixed = dims.find((d) => d !== BATCH_DIM && d !== 1);
      if (fixed !== undefined) throw batchMix(m, n, shapes);
      out.push(BATCH_DIM);
    } else out.push(Math.max(...(dims as number[])));
  }
  return out;
}

function batchMix(m: Model, n: Node, shapes: readonly (readonly Dim[])[]): GradcError {
  return new GradcError(
    "E_ONNX_BATCH",
    `${n.op}: combines the batch axis with a fixed axis of the same length ${m.batch} (shapes ${shapes.map(show).join(", ")}); the exported batch axis has any length N`,
    {
      ...whereOf(m, n),
      op: n.op,
      shapes: n.inputs.map((i) => [...i.shape]),
      hint: 'derive the other operand from a "batch" input (or reduce over the batch axis first) instead of a fixed-size tensor',
    },
  );
}

/** The symbolic output shape of `n` given its inputs' symbolic shapes. */
function symShape(m: Model, n: Node, ins: readonly (readonly Dim[])[]): Dim[] {
  const [x] = ins;
  switch (n.op) {
    case "batchMask":
      return [BATCH_DIM];
    case "batchSize":
      return [];
    case "matmul": {
      const [a, b] = ins as [readonly Dim[], readonly Dim[]];
      if ((a[1] === BATCH_DIM) !== (b[0] === BATCH_DIM)) throw batchMix(m, n, ins);
      return [a[0]!, b[1]!];
    }
    case "transpose":
      return [x![1]!, x![0]!];
    case "sum": {
      const axes = normAxes(n.attrs.axes as number[], x!.length)!;
      return x!.filter((_, i) => !axes.includes(i));
    }
    case "logsumexp":
    case "softmaxCE": // one value per row (was declared with the logits' shape: ONNX Runtime warned and merged leniently)
      return x!.slice(0, -1);
    case "softmax":
      return [...x!];
    case "conv2d":
    case "conv2dBackInput":
    case "maxPool2d":
    case "maxPool2dBack":
    case "maxPool2dPick":
    case "avgPool2d":
    case "avgPool2dBack": // images stay in their rows
      return [x![0]!, ...n.shape.slice(1)];
    case "conv2dBackFilter":
      return [...n.shape];
    case "broadcast": {
      const target = n.attrs.shape as number[];
      return target.map((d, i) => (x![x!.length - target.length + i] === BATCH_DIM ? BATCH_DIM : d));
    }
    case "reshape": {
      const target = n.attrs.shape as number[];
      const at = x!.indexOf(BATCH_DIM);
      if (at < 0) return [...target];
      // The batch axis survives a reshape that keeps everything before it and everything after it together.
      const prod = (ds: readonly Dim[]) => ds.reduce<number>((p, d) => p * (d as number), 1);
      const before = prod(x!.slice(0, at));
      const after = x!.slice(at + 1);
      if (!after.includes(BATCH_DIM)) {
        const j = target.findIndex((d, k) => d === m.batch && prod(target.slice(0, k)) === before && prod(target.slice(k + 1)) === prod(after));
        if (j >= 0) return target.map((d, k) => (k === j ? BATCH_DIM : d));
      }
      throw new GradcError("E_ONNX_BATCH", `reshape: ${show(x!)} to ${fmtShape(target)} merges or splits the batch axis; the exported batch axis has any length N`, {
        ...whereOf(m, n),
        op: "reshape",
        shapes: [[...n.inputs[0]!.shape]],
        hint: "keep the batch axis as its own axis in the reshape (reshape the per-example axes only)",
      });
    }
  }
  return broadcastSym(m, n, ins); // elementwise
}

// ---------------------------------------------------------------------------

function paramValues(model: Model, params: ParamValues): Map<string, ArrayLike<number>> {
  const out = new Map<string, ArrayLike<number>>();
  if (params instanceof Float32Array || params instanceof Float64Array) {
    const total = model.params.reduce((s, p) => s + size(p.shape), 0);
    if (params.length !== total)
      throw new GradcError("E_ARG", `exportOnnx: params has ${params.length} numbers, model '${model.name}' has ${total}`, {
        hint: "pass the module's or trainer's whole params buffer, or an object of arrays by param name",
      });
    let at = 0;
    for (const p of model.params) out.set(p.name, params.subarray(at, (at += size(p.shape))));
    return out;
  }
  for (const p of model.params) {
    const v = Object.hasOwn(params, p.name) ? params[p.name] : undefined;
    if (!v || typeof v.length !== "number" || v.length !== size(p.shape))
      throw new GradcError("E_ARG", `exportOnnx: ${v ? `${v.length} numbers` : "no values"} for param '${p.name}' ${fmtShape(p.shape)}, which needs ${size(p.shape)}`, {
        hint: "pass every param of the model, row-major",
      });
    out.set(p.name, v);
  }
  return out;
}

function valueInfo(name: string, shape: readonly Dim[]): IValueInfo {
  return {
    name,
    type: {
      tensorType: {
        elemType: FLOAT,
        shape: { dim: shape.map((d) => (d === BATCH_DIM ? { dimParam: BATCH_DIM } : { dimValue: d })) },
      },
    },
  };
}

/** The forward graph of `model` with `params` as initializers, as an ONNX model (see the file comment). */
export function exportOnnx(model: Model, params: ParamValues, opts: ExportOptions = {}): OnnxExport {
  if (model.outputs.length === 0)
    throw new GradcError("E_ONNX_NO_OUTPUT", `model '${model.name}' declares no output, so there is nothing to export`, {
      file: model.source,
      hint: 'declare what the exported model computes: m.output("probs", m.softmax(logits))',
    });
  const rules = opts.rules ?? EXPORT_RULES;
  const values = paramValues(model, params);
  const g = new OnnxGraph();
  // Spec names first, so that generated names never take them.
  const leafNames = new Map<number, string>();
  for (const l of [...model.inputs, ...model.params]) leafNames.set(l.node.id, l.name);
  for (const name of [...leafNames.values(), ...model.outputs.map((o) => o.name), ...model.names.values()]) g.reserve(name);

  const order = topo(model.outputs.map((o) => o.node));
  const reached = new Set(order.map((n) => n.id));
  const graphInputs = model.inputs.filter((l) => reached.has(l.node.id) && l.dropout === undefined);
  const batchInput = graphInputs.find((l) => l.batched);
  const dropoutIds = new Set(model.inputs.filter((l) => l.dropout !== undefined).map((l) => l.node.id));

  const name = new Map<number, string>();
  const sym = new Map<number, readonly Dim[]>();
  const bools = new Map<number, string>();
  let batchLen: string | undefined;
  const batchLength = () => {
    if (!batchInput) throw new GradcError("E_ONNX_BATCH", `model '${model.name}' reduces over a batch axis but no output reads a batched input`, { file: model.source });
    return (batchLen ??= g.op("Shape", [batchInput.name], { start: { int: 0 }, end: { int: 1 } }, g.fresh("batch_length")));
  };
  const boolOf = (n: Node): string => {
    let b = bools.get(n.id);
    if (b) return b;
    const [a, c] = n.inputs.map((i) => name.get(i.id)!);
    if (n.op === "ge") b = g.op("GreaterOrEqual", [a!, c!]);
    else if (n.op === "step") b = g.op("Greater", [a!, g.scalar(0)]);
    else b = g.op("Not", [g.op("Equal", [name.get(n.id)!, g.scalar(0)])]);
    bools.set(n.id, b);
    return b;
  };

  // Symbolic shapes of every node first: the Gemm fusion below looks at a node's users.
  for (const n of order) {
    if (n.op === "input") sym.set(n.id, dropoutIds.has(n.id) ? [] : n.attrs.batch === 1 ? [BATCH_DIM, ...n.shape.slice(1)] : [...n.shape]);
    else if (n.op === "param") sym.set(n.id, [...n.shape]);
    else if (n.op === "const") sym.set(n.id, []);
    else sym.set(n.id, symShape(model, n, n.inputs.map((i) => sym.get(i.id)!)));
  }

  // add(matmul(a, b), c) with the matmul used nowhere else is one Gemm (x·W + bias).
  const uses = new Map<number, number>();
  for (const n of order) for (const i of n.inputs) uses.set(i.id, (uses.get(i.id) ?? 0) + 1);
  for (const o of model.outputs) uses.set(o.node.id, (uses.get(o.node.id) ?? 0) + 1);
  const gemm = new Map<number, [Node, Node]>();
  for (const n of order) {
    if (n.op !== "add") continue;
    const k = n.inputs.findIndex((i) => i.op === "matmul" && uses.get(i.id) === 1);
    if (k < 0) continue;
    const [mm, c] = [n.inputs[k]!, n.inputs[1 - k]!];
    const cs = sym.get(c.id)!;
    // C must broadcast one way to the matmul's [M, N]: static, rank <= 2, and the add keeps the matmul's shape.
    if (cs.includes(BATCH_DIM) || cs.length > 2 || n.shape.some((d, i) => d !== mm.shape[i])) continue;
    gemm.set(n.id, [mm, c]);
  }
  const fused = new Set([...gemm.values()].map(([mm]) => mm.id));
  // add(conv2d(x, w), b as [1, K, 1, 1]) with the conv used nowhere else is one Conv with a bias (m.conv2d's `bias`).
  const convBias = new Map<number, [Node, Node]>();
  for (const n of order) {
    if (n.op !== "add") continue;
    const k = n.inputs.findIndex((i) => i.op === "conv2d" && uses.get(i.id) === 1);
    if (k < 0) continue;
    const [conv, c] = [n.inputs[k]!, n.inputs[1 - k]!];
    const K = conv.shape[1]!;
    const cs = sym.get(c.id)!;
    const perChannel = (cs.length === 4 && cs[0] === 1) || cs.length === 3 ? cs.slice(-3) : undefined;
    if (!perChannel || perChannel[0] !== K || perChannel[1] !== 1 || perChannel[2] !== 1 || n.shape.some((d, i) => d !== conv.shape[i])) continue;
    fused.add(conv.id);
    // the [K] vector itself when c is its reshape (read by nothing else): no Reshape back
    const vec = c.op === "reshape" && uses.get(c.id) === 1 && c.inputs[0]!.shape.length === 1 ? c.inputs[0]! : undefined;
    if (vec) fused.add(c.id);
    convBias.set(n.id, [conv, vec ?? c]);
  }
  // reshape(sum(x, [2, 3]) / (H·W), [N, C, 1, 1]) over an image x is GlobalAveragePool (m.globalAvgPool).
  const gap = new Map<number, Node>();
  for (const n of order) {
    const dv = n.inputs[0];
    if (n.op !== "reshape" || dv?.op !== "div" || uses.get(dv.id) !== 1) continue;
    const [sm, cnt] = dv.inputs as [Node, Node];
    const x = sm.inputs[0];
    if (sm.op !== "sum" || uses.get(sm.id) !== 1 || !x || x.shape.length !== 4 || cnt.op !== "const") continue;
    const axes = normAxes(sm.attrs.axes as number[], 4);
    if (axes?.join() !== "2,3" || cnt.attrs.value !== x.shape[2]! * x.shape[3]!) continue;
    if (n.shape.join() !== [x.shape[0], x.shape[1], 1, 1].join()) continue;
    fused.add(sm.id);
    fused.add(dv.id);
    if (uses.get(cnt.id) === 1) fused.add(cnt.id);
    gap.set(n.id, x);
  }

  for (const n of order) {
    const leaf = leafNames.get(n.id);
    if (n.op === "input") {
      name.set(n.id, dropoutIds.has(n.id) ? g.scalar(1) : leaf!); // inference: a dropout mask is all ones
      continue;
    }
    if (n.op === "param") {
      name.set(n.id, g.tensor(leaf!, n.shape, values.get(leaf!)!));
      continue;
    }
    if (n.op === "const") {
      if (fused.has(n.id)) continue; // GlobalAveragePool's H·W
      name.set(n.id, g.scalar(n.attrs.value as number));
      continue;
    }
    if (fused.has(n.id)) continue; // emitted as part of its Gemm
    const shape = sym.get(n.id)!;
    const spec = model.names.get(n.id);
    const out = spec ?? g.fresh(n.op);
    name.set(n.id, out);
    const gm = gemm.get(n.id);
    if (gm) {
      const [mm, c] = gm;
      const [a, b] = mm.inputs.map((i) => name.get(i.id)!);
      g.op("Gemm", [a!, b!, name.get(c.id)!], {}, out);
      continue;
    }
    const cb = convBias.get(n.id);
    if (cb) {
      const [conv, c] = cb;
      const [x, w] = conv.inputs.map((i) => name.get(i.id)!);
      const bias = c.shape.length === 1 ? name.get(c.id)! : g.op("Reshape", [name.get(c.id)!, g.ints([conv.shape[1]!])]);
      g.op("Conv", [x!, w!, bias], convAttrs(conv), out);
      continue;
    }
    const gx = gap.get(n.id);
    if (gx) {
      g.op("GlobalAveragePool", [name.get(gx.id)!], {}, out);
      continue;
    }
    const rule = Object.hasOwn(rules, n.op) ? rules[n.op as OpName] : undefined;
    if (!rule)
      throw new GradcError("E_ONNX_OP", `${n.op}: has no ONNX form, so model '${model.name}' cannot be exported`, {
        ...whereOf(model, n),
        op: n.op,
        hint: "give the op an ONNX rule in EXPORT_RULES (compiler/export/onnx.ts), or rewrite that part of the model with ops that have one",
      });
    rule({
      g,
      node: n,
      ins: n.inputs.map((i) => name.get(i.id)!),
      out,
      shape,
      bool: (i) => boolOf(n.inputs[i]!),
      batchLength,
    });
  }

  // Outputs by their declared names (an Identity where the value already has another name).
  const outputs = model.outputs.map((o) => {
    const v = name.get(o.node.id)!;
    if (v !== o.name) g.op("Identity", [v], {}, o.name);
    return { name: o.name, shape: sym.get(o.node.id)! };
  });
  const inputs = graphInputs.map((l) => ({ name: l.name, shape: sym.get(l.node.id)! }));

  const doc = `${model.name}: the forward graph of ${model.source}, exported by gradc${opts.weights ? `; weights: ${opts.weights}` : ""}`;
  const proto = onnx.ModelProto.create({
    irVersion: ONNX_IR_VERSION,
    opsetImport: [{ domain: "", version: ONNX_OPSET }],
    producerName: "gradc",
    producerVersion: opts.producerVersion ?? "",
    docString: doc,
    metadataProps: [
      { key: "gradc.model", value: model.name },
      { key: "gradc.source", value: model.source },
      ...(opts.weights ? [{ key: "gradc.weights", value: opts.weights }] : []),
    ],
    graph: {
      name: model.name,
      docString: doc,
      node: g.nodes,
      initializer: g.initializers,
      input: inputs.map((i) => valueInfo(i.name, i.shape)),
      output: outputs.map((o) => valueInfo(o.name, o.shape)),
    },
  });
  const bytes = onnx.ModelProto.encode(proto).finish();
  return { bytes, opset: ONNX_OPSET, inputs, outputs, ops: g.opCounts };
}

