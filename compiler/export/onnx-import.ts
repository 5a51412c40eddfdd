/**
 * ONNX import: an ONNX model of supported operators becomes a gradc spec — a
 * TypeScript file like examples/<name>/model.ts whose params hold the ONNX
 * initializers as `{ init: { value: [...] } }` — so a model trained elsewhere
 * can be differentiated, checked and fine-tuned here (add an `m.loss`).
 *
 * Every operator is mirrored on a real builder while the text is written, so
 * shapes are known (Reshape's 0 and -1, Flatten, keepdims) and a model gradc
 * cannot express fails here with E_ONNX_IMPORT naming the node, not later in
 * the spec. Names from the file reach the text only as checked identifiers
 * (anything else is renamed), numbers only as finite literals.
 *
 * Supported: the operators `exportOnnx` writes that have a static meaning
 * (not Shape/ConstantOfShape: dynamic shapes) and the common ones of other
 * exporters: Gemm with transA/transB/alpha/beta, MatMul, Flatten, Squeeze and
 * Unsqueeze, ReduceMean, LogSoftmax, Reciprocal, comparisons and Not/And on
 * 0/1 values; 2-D Conv (pads, strides, dilations, group, bias; auto_pad
 * NOTSET, VALID or SAME_UPPER), MaxPool and AveragePool (ceil_mode 0,
 * AveragePool with count_include_pad 0 — gradc's averages never count
 * padding), GlobalAveragePool.
 */
import { GradcError } from "../errors.ts";
import { builder, type ModelBuilder, type T } from "../frontend/dsl.ts";
import { checkName, showValue } from "../ir/model.ts";
import { size } from "../ir/shape.ts";
import { decodeOnnx } from "./onnx-decode.ts";
import type onnxProto from "onnx-proto";

type IModel = onnxProto.onnx.ModelProto;
type ITensor = onnxProto.onnx.ITensorProto;
type INode = onnxProto.onnx.INodeProto;

export interface ImportOptions {
  /** The spec's batch size B for inputs whose first axis is symbolic (default 32). */
  batch?: number;
  /** The file name shown in the header and in errors. */
  source?: string;
  /** The model name (the spec's builder name). */
  name?: string;
}

export interface OnnxImport {
  /** The spec's TypeScript source. */
  readonly spec: string;
  readonly inputs: readonly string[];
  readonly params: readonly string[];
  readonly outputs: readonly string[];
}

const FLOAT = 1;
const INT64 = 7;
const DOUBLE = 11;
const INT32 = 6;

/** The shortest decimal that reads back as the same float32 (weights are float32). */
function f32Literal(v: number): string {
  if (!Number.isFinite(v)) throw new Error("not finite");
  if (Object.is(v, -0)) return "-0";
  // More digits never read back worse, so the fewest that work is found by bisection over 1..9 (9 always works).
  let [lo, hi] = [1, 9];
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (Math.fround(Number(v.toPrecision(mid))) === v) hi = mid;
    else lo = mid + 1;
  }
  return String(Number(v.toPrecision(lo)));
}

const num = (v: number): string => (Object.is(v, -0) ? "-0" : String(v));

function longs(xs: readonly (number | { toNumber(): number })[]): number[] {
  return xs.map((x) => (typeof x === "number" ? x : x.toNumber()));
}

/** A tensor's values as float64 (float, double, int32 or int64 tensors; raw or typed fields). */
function tensorValues(t: ITensor, what: string, where: string): Float64Array {
  const dims = longs(t.dims ?? []);
  const n = size(dims);
  const raw = t.rawData && t.rawData.length ? t.rawData : undefined;
  const view = raw ? new DataView(raw.buffer, raw.byteOffset, raw.byteLength) : undefined;
  const out = new Float64Array(n);
  const bad = (why: string) => new GradcError("E_ONNX_IMPORT", `${what}: ${why}`, { file: where, hint: "gradc reads float32, float64, int32 and int64 tensors stored in the file" });
  if (t.dataLocation === 1) throw bad("its data is stored outside the file (external data)");
  switch (t.dataType) {
    case FLOAT:
      if (view) {
        if (raw!.length !== n * 4) throw bad(`raw data holds ${raw!.length} bytes, its shape needs ${n * 4}`);
        for (let i = 0; i < n; i++) out[i] = view.getFloat32(i * 4, true);
      } else out.set((t.floatData ?? []).slice(0, n));
      return out;
    case DOUBLE:
      if (view) for (let i = 0; i < n; i++) out[i] = view.getFloat64(i * 8, true);
      else out.set((t.doubleData ?? []).slice(0, n));
      return out;
    case INT32:
      if (view) for (let i = 0; i < n; i++) out[i] = view.getInt32(i * 4, true);
      else out.set((t.int32Data ?? []).slice(0, n));
      return out;
    case INT64:
      if (view) for (let i = 0; i < n; i++) out[i] = Number(view.getBigInt64(i * 8, true));
      else out.set(longs(t.int64Data ?? []).slice(0, n));
      return out;
  }
  throw bad(`data type ${String(t.dataType)} is not supported`);
}

/** `name` as a plain identifier gradc accepts (`input.1` -> `input_1`), or `fallback`. */
function safeName(name: string, fallback: string): string {
  const id = name.replace(/[^A-Za-z0-9_]/g, "_").replace(/^(?=[0-9])/, "_").replace(/^_+/, (u) => (u.length > 1 ? "_" : u)).slice(0, 48);
  try {
    return checkName(id, "value");
  } catch {
    return fallback;
  }
}

interface Value {
  /** The expression naming it in the spec text. */
  readonly code: string;
  /** Its value on the mirror builder (for shapes). */
  readonly t?: T;
  /** A constant known at import time (scalars become literals; int64 tensors feed shapes and axes). */
  readonly constant?: Float64Array;
  readonly dims?: readonly number[];
}

/** `bytes` (a .onnx file) as the source text of a gradc spec (see the file comment). */
export function importOnnx(bytes: Uint8Array, opts: ImportOptions = {}): OnnxImport {
  const source = opts.source ?? "<onnx>";
  let proto: IModel;
  try {
    proto = decodeOnnx(bytes);
  } catch (e) {
    throw new GradcError("E_ONNX_IMPORT", `not an ONNX model: ${(e as Error).message}`, { file: source, hint: "pass a .onnx file (an ONNX ModelProto)" });
  }
  const graph = proto.graph;
  if (!graph) throw new GradcError("E_ONNX_IMPORT", "the ONNX model has no graph", { file: source });
  const fail = (node: INode | undefined, why: string, hint?: string) =>
    new GradcError("E_ONNX_IMPORT", `${node ? `${node.opType} node ${showValue(node.name || node.output?.[0] || "?")}: ` : ""}${why}`, {
      file: source,
      ...(node ? { op: node.opType ?? "" } : {}),
      hint: hint ?? "gradc imports the operators listed in compiler/export/onnx-import.ts; rewrite the rest before exporting",
    });
  for (const o of proto.opsetImport ?? []) if (o.domain && o.domain !== "ai.onnx") throw fail(undefined, `operator set ${showValue(o.domain)} is not the standard one`);

  const opsetEntry = (proto.opsetImport ?? []).find((o) => !o.domain || o.domain === "ai.onnx")?.version;
  const opset = opsetEntry === undefined || opsetEntry === null ? 17 : Number(opsetEntry);
  const B = opts.batch ?? 32;
  const m: ModelBuilder = builder(opts.name ?? "imported", source);
  const inits = new Set((graph.initializer ?? []).map((i) => i.name));
  const symbolic = (d: onnxProto.onnx.TensorShapeProto.IDimension) => !(Number(d.dimValue ?? 0) > 0);
  const batched = (graph.input ?? []).some((i) => !inits.has(i.name) && i.type?.tensorType?.shape?.dim?.[0] && symbolic(i.type.tensorType.shape.dim[0]));
  if (batched) m.batch(B);
  const lines: string[] = [];
  const tables: string[] = [];
  const values = new Map<string, Value>();
  const taken = new Set<string>(["m"]);
  /** A safe, unused identifier for an ONNX name (or for `fallback`). */
  const ident = (name: string, fallback: string): string => {
    const base = safeName(name, fallback);
    let id = base;
    for (let k = 1; taken.has(id) || taken.has(`${id}_values`); k++) id = `${base}_${k}`;
    taken.add(id);
    return id;
  };
  let tmp = 0;
  const bind = (onnxName: string, expr: string, t: T) => {
    const id = ident(onnxName, `v${tmp++}`);
    lines.push(`  const ${id} = ${expr};`);
    values.set(onnxName, { code: id, t });
  };

  // Initializers: scalars and int64 tensors are constants; float tensors are params.
  const params: string[] = [];
  for (const init of graph.initializer ?? []) {
    const name = init.name ?? "";
    const dims = longs(init.dims ?? []);
    const v = tensorValues(init, `initializer ${showValue(name)}`, source);
    if (init.dataType !== FLOAT && init.dataType !== DOUBLE) {
      values.set(name, { code: "", constant: v, dims });
      continue;
    }
    if (v.length === 1 && dims.length <= 1) {
      if (!Number.isFinite(v[0]!)) values.set(name, { code: "", constant: v, dims }); // used by ops that fold it, or an error
      else values.set(name, { code: num(v[0]!), constant: v, dims });
      continue;
    }
    if (v.some((x) => !Number.isFinite(x))) throw fail(undefined, `initializer ${showValue(name)} holds a NaN or infinite weight`);
    const id = ident(name, `p${params.length}`);
    params.push(id);
    const table = `${id}_values`;
    taken.add(table);
    const t = m.param(id, dims, { init: { value: Array.from(v) } });
    lines.push(`  const ${id} = m.param(${JSON.stringify(id)}, ${JSON.stringify(dims)}, { init: { value: ${table} } });`);
    tables.push(`const ${table} = [${Array.from(v, f32Literal).join(", ")}];`);
    values.set(name, { code: id, t });
  }

  // Graph inputs (those that are not initializers): a symbolic first axis is the batch axis.
  const inputs: string[] = [];
  const header: string[] = [];
  for (const input of graph.input ?? []) {
    const name = input.name ?? "";
    if (values.has(name)) continue;
    const tt = input.type?.tensorType;
    if (!tt || (tt.elemType !== FLOAT && tt.elemType !== DOUBLE)) throw fail(undefined, `input ${showValue(name)} is not a float tensor`);
    const dims = (tt.shape?.dim ?? []).map((d, i) => {
      const v = d.dimValue === undefined || d.dimValue === null ? 0 : typeof d.dimValue === "number" ? d.dimValue : d.dimValue.toNumber();
      if (v > 0) return v;
      if (i === 0) return "batch" as const;
      throw fail(undefined, `input ${showValue(name)} has a symbolic axis ${i}; only the first (batch) axis may be symbolic`);
    });
    const id = ident(name, `x${inputs.length}`);
    inputs.push(id);
    const t = m.input(id, dims);
    header.push(`  const ${id} = m.input(${JSON.stringify(id)}, ${JSON.stringify(dims)});`);
    values.set(name, { code: id, t });
  }

  const get = (node: INode, k: number): Value => {
    const name = node.input?.[k];
    const v = name === undefined || name === "" ? undefined : values.get(name);
    if (!v) throw fail(node, `input ${k} ${showValue(name ?? "")} is not produced by an earlier node`);
    return v;
  };
  /** An operand: a tensor, or a finite scalar literal. */
  const operand = (node: INode, k: number): { code: string; x: T | number } => {
    const v = get(node, k);
    if (v.t) return { code: v.code, x: v.t };
    if (v.constant && v.constant.length === 1 && Number.isFinite(v.constant[0]!)) return { code: num(v.constant[0]!), x: v.constant[0]! };
    throw fail(node, `input ${k} is a constant tensor gradc cannot use here`);
  };
  const tensor = (node: INode, k: number): { code: string; t: T } => {
    const v = get(node, k);
    if (!v.t) throw fail(node, `input ${k} must be a tensor, not a constant`);
    return { code: v.code, t: v.t };
  };
  const ints = (node: INode, k: number): number[] | undefined => {
    const name = node.input?.[k];
    if (name === undefined || name === "") return undefined;
    const v = values.get(name);
    if (!v?.constant || v.t) throw fail(node, `input ${k} must be a constant (gradc shapes are static)`);
    return Array.from(v.constant);
  };
  const attr = (node: INode, name: string) => node.attribute?.find((a) => a.name === name);
  const attrInt = (node: INode, name: string, d: number) => {
    const a = attr(node, name);
    return a?.i === undefined || a.i === null ? d : typeof a.i === "number" ? a.i : a.i.toNumber();
  };
  const attrFloat = (node: INode, name: string, d: number) => attr(node, name)?.f ?? d;
  const attrInts = (node: INode, name: string) => {
    const a = attr(node, name);
    return a?.ints && a.ints.length ? longs(a.ints) : undefined;
  };
  const lit = (x: T | number, code: string) => (typeof x === "number" ? num(x) : code);

  const UNARY: Record<string, string> = {
    Neg: "neg", Exp: "exp", Log: "log", Sqrt: "sqrt", Abs: "abs", Sign: "sign", Sin: "sin", Cos: "cos", Tan: "tan",
    Asin: "asin", Acos: "acos", Atan: "atan", Sinh: "sinh", Cosh: "cosh", Tanh: "tanh", Asinh: "asinh", Acosh: "acosh",
    Atanh: "atanh", Sigmoid: "sigmoid", Relu: "relu", Softplus: "softplus",
  };
  const BINARY: Record<string, string> = { Add: "add", Sub: "sub", Mul: "mul", Div: "div", Pow: "pow", Max: "max", Min: "min" };

  for (const node of graph.node ?? []) {
    const type = node.opType ?? "";
    if (node.domain && node.domain !== "ai.onnx") throw fail(node, `operator domain ${showValue(node.domain)} is not the standard one`);
    if ((node.output ?? []).filter((o) => o !== "").length !== 1) throw fail(node, "gradc imports operators with one output");
    const out = node.output![0]!;
    const ew = (method: string, xs: { code: string; x: T | number }[]) => {
      const t = (m as unknown as Record<string, (...a: (T | number)[]) => T>)[method]!(...xs.map((x) => x.x));
      bind(out, `m.${method}(${xs.map((x) => lit(x.x, x.code)).join(", ")})`, t);
    };
    try {
      if (UNARY[type]) {
        ew(UNARY[type]!, [operand(node, 0)]);
      } else if (BINARY[type] && (node.input ?? []).length === 2) {
        ew(BINARY[type]!, [operand(node, 0), operand(node, 1)]);
      } else if (type === "Identity" || (type === "Cast" && attrInt(node, "to", FLOAT) === FLOAT) || (type === "Dropout" && (node.input ?? []).length === 1)) {
        values.set(out, get(node, 0)); // Cast to float: our 0/1 "bools" are floats already
      } else if (type === "Reciprocal") {
        const x = operand(node, 0);
        bind(out, `m.div(1, ${lit(x.x, x.code)})`, m.div(1, x.x));
      } else if (type === "MatMul") {
        const [a, b] = [tensor(node, 0), tensor(node, 1)];
        bind(out, `m.matmul(${a.code}, ${b.code})`, m.matmul(a.t, b.t));
      } else if (type === "Gemm") {
        const [a, b] = [tensor(node, 0), tensor(node, 1)];
        const ac = attrInt(node, "transA", 0) ? `m.transpose(${a.code})` : a.code;
        const bc = attrInt(node, "transB", 0) ? `m.transpose(${b.code})` : b.code;
        let t = m.matmul(attrInt(node, "transA", 0) ? m.transpose(a.t) : a.t, attrInt(node, "transB", 0) ? m.transpose(b.t) : b.t);
        let code = `m.matmul(${ac}, ${bc})`;
        const alpha = attrFloat(node, "alpha", 1);
        const beta = attrFloat(node, "beta", 1);
        if (alpha !== 1) [t, code] = [m.mul(t, alpha), `m.mul(${code}, ${num(alpha)})`];
        if ((node.input ?? []).length > 2 && node.input![2] !== "" && beta !== 0) {
          const c = operand(node, 2);
          const cc = beta === 1 ? lit(c.x, c.code) : `m.mul(${lit(c.x, c.code)}, ${num(beta)})`;
          const cx = beta === 1 ? c.x : typeof c.x === "number" ? c.x * beta : m.mul(c.x, beta);
          [t, code] = [m.add(t, cx), `m.add(${code}, ${cc})`];
        }
        bind(out, code, t);
      } else if (type === "Softmax" || type === "LogSoftmax") {
        const x = tensor(node, 0);
        const rank = x.t.shape.length;
        const axis = attrInt(node, "axis", opset < 13 ? 1 : -1); // before opset 13: the default was 1, over a 2-D coercion
        if (axis !== -1 && axis !== rank - 1) throw fail(node, `axis ${axis} is not the last axis`, "gradc's softmax runs over the last axis: transpose first");
        if (type === "Softmax") bind(out, `m.softmax(${x.code})`, m.softmax(x.t));
        else {
          const keep = [...x.t.shape.slice(0, -1), 1];
          bind(out, `m.sub(${x.code}, m.reshape(m.logsumexp(${x.code}), ${JSON.stringify(keep)}))`, m.sub(x.t, m.reshape(m.logsumexp(x.t), keep)));
        }
      } else if (type === "Transpose") {
        const x = tensor(node, 0);
        const perm = attrInts(node, "perm") ?? [1, 0];
        if (x.t.shape.length !== 2 || perm[0] !== 1 || perm[1] !== 0) throw fail(node, `perm ${JSON.stringify(perm)} of a rank-${x.t.shape.length} tensor: gradc transposes matrices`);
        bind(out, `m.transpose(${x.code})`, m.transpose(x.t));
      } else if (type === "Reshape" || type === "Flatten" || type === "Squeeze" || type === "Unsqueeze") {
        const x = tensor(node, 0);
        const s = x.t.shape;
        let shape: number[];
        if (type === "Reshape") {
          const want = ints(node, 1)!;
          shape = want.map((d, i) => (d === 0 ? s[i]! : d));
          const known = shape.filter((d) => d !== -1).reduce((p, d) => p * d, 1);
          shape = shape.map((d) => (d === -1 ? size(s) / known : d));
        } else if (type === "Flatten") {
          const axis = attrInt(node, "axis", 1);
          const ax = axis < 0 ? axis + s.length : axis;
          shape = [size(s.slice(0, ax)), size(s.slice(ax))];
        } else {
          const axes = (ints(node, 1) ?? attrInts(node, "axes") ?? (type === "Squeeze" ? s.flatMap((d, i) => (d === 1 ? [i] : [])) : undefined))!;
          if (!axes) throw fail(node, "needs its axes");
          if (type === "Squeeze") {
            const norm = axes.map((a) => (a < 0 ? a + s.length : a));
            shape = s.filter((_, i) => !norm.includes(i));
          } else {
            const rank = s.length + axes.length;
            const norm = axes.map((a) => (a < 0 ? a + rank : a));
            shape = [];
            for (let i = 0, j = 0; i < rank; i++) shape.push(norm.includes(i) ? 1 : s[j++]!);
          }
        }
        bind(out, `m.reshape(${x.code}, ${JSON.stringify(shape)})`, m.reshape(x.t, shape));
      } else if (type === "ReduceSum" || type === "ReduceMean") {
        const x = tensor(node, 0);
        const rank = x.t.shape.length;
        const given = ints(node, 1) ?? attrInts(node, "axes");
        if (!given && attrInt(node, "noop_with_empty_axes", 0)) {
          values.set(out, get(node, 0));
          continue;
        }
        const axes = (given ?? x.t.shape.map((_, i) => i)).map((a) => (a < 0 ? a + rank : a));
        const method = type === "ReduceSum" ? "sum" : "mean";
        let t = m[method](x.t, axes);
        let code = `m.${method}(${x.code}, ${JSON.stringify(axes)})`;
        if (attrInt(node, "keepdims", 1)) {
          const keep = x.t.shape.map((d, i) => (axes.includes(i) ? 1 : d));
          [t, code] = [m.reshape(t, keep), `m.reshape(${code}, ${JSON.stringify(keep)})`];
        }
        bind(out, code, t);
      } else if (type === "Expand") {
        const x = operand(node, 0);
        const target = ints(node, 1)!;
        const xs = typeof x.x === "number" ? [] : x.x.shape;
        const rank = Math.max(xs.length, target.length);
        const shape = Array.from({ length: rank }, (_, i) => Math.max(xs[xs.length - rank + i] ?? 1, target[target.length - rank + i] ?? 1));
        bind(out, `m.broadcast(${lit(x.x, x.code)}, ${JSON.stringify(shape)})`, m.broadcast(x.x, shape));
      } else if (type === "Where") {
        const [c, a, b] = [operand(node, 0), operand(node, 1), operand(node, 2)];
        bind(out, `m.where(${lit(c.x, c.code)}, ${lit(a.x, a.code)}, ${lit(b.x, b.code)})`, m.where(c.x, a.x, b.x));
      } else if (type === "GreaterOrEqual" || type === "LessOrEqual") {
        const [a, b] = type === "GreaterOrEqual" ? [operand(node, 0), operand(node, 1)] : [operand(node, 1), operand(node, 0)];
        ew("ge", [a, b]);
      } else if (type === "Greater" || type === "Less") {
        // a > b is 1 - (b >= a)
        const [a, b] = type === "Greater" ? [operand(node, 0), operand(node, 1)] : [operand(node, 1), operand(node, 0)];
        bind(out, `m.sub(1, m.ge(${lit(b.x, b.code)}, ${lit(a.x, a.code)}))`, m.sub(1, m.ge(b.x, a.x)));
      } else if (type === "Equal") {
        const [a, b] = [operand(node, 0), operand(node, 1)];
        const [ac, bc] = [lit(a.x, a.code), lit(b.x, b.code)];
        bind(out, `m.mul(m.ge(${ac}, ${bc}), m.ge(${bc}, ${ac}))`, m.mul(m.ge(a.x, b.x), m.ge(b.x, a.x)));
      } else if (type === "Not") {
        const x = operand(node, 0);
        bind(out, `m.sub(1, ${lit(x.x, x.code)})`, m.sub(1, x.x));
      } else if (type === "And") {
        ew("mul", [operand(node, 0), operand(node, 1)]);
      } else if (type === "Conv" || type === "MaxPool" || type === "AveragePool") {
        const x = tensor(node, 0);
        if (x.t.shape.length !== 4) throw fail(node, `input ${showValue(x.code)} is ${x.t.shape.length}-D; gradc convolves 2-D images [N, C, H, W]`);
        const pair = (nm: string) => {
          const v = attrInts(node, nm);
          if (v && v.length !== 2) throw fail(node, `${nm} ${JSON.stringify(v)} is not 2-D`);
          return v as [number, number] | undefined;
        };
        const autoPad = attr(node, "auto_pad")?.s;
        const ap = autoPad ? new TextDecoder().decode(autoPad) : "NOTSET";
        if (ap === "SAME_LOWER") throw fail(node, "auto_pad SAME_LOWER is not supported", 'gradc\'s "same" padding is SAME_UPPER (the extra cell at the end); give explicit pads');
        const pads = attrInts(node, "pads");
        if (pads && pads.length !== 4) throw fail(node, `pads ${JSON.stringify(pads)} are not [top, left, bottom, right]`);
        const stride = pair("strides");
        // ONNX floors an output size that does not come out whole (the last rows of the padded input go unread);
        // gradc refuses it, so the end padding those rows would be made of is dropped here — exact, and only
        // when the unread rows are padding.
        const [kh, kw] = type === "Conv" ? tensor(node, 1).t.shape.slice(2) : (pair("kernel_shape") ?? [1, 1]);
        const dl = type === "Conv" ? (pair("dilations") ?? [1, 1]) : [1, 1];
        const st = stride ?? [1, 1];
        const p4 = ap === "VALID" || !pads ? [0, 0, 0, 0] : [...pads];
        if (ap !== "SAME_UPPER")
          for (const ax of [0, 1]) {
            const rem = (x.t.shape[2 + ax]! + p4[ax]! + p4[ax + 2]! - dl[ax]! * ((ax ? kw : kh)! - 1) - 1) % st[ax]!;
            if (rem > 0 && p4[ax + 2]! < rem)
              throw fail(node, `output ${ax ? "cols" : "rows"} floor: the last ${rem} input ${ax ? "cols" : "rows"} go unread`, "gradc's output sizes are exact: crop the input or change the padding");
            if (rem > 0) p4[ax + 2]! -= rem;
          }
        const padding: string = ap === "SAME_UPPER" ? '"same"' : p4.every((d) => d === 0) ? '"valid"' : JSON.stringify(p4);
        const padVal = ap === "SAME_UPPER" ? "same" : p4.every((d) => d === 0) ? "valid" : (p4 as [number, number, number, number]);
        const opts: string[] = [];
        const o: Record<string, unknown> = {};
        /** One option, as spec text and as the value the mirrored builder call gets. */
        const set = (key: string, code: string, v: unknown) => {
          opts.push(`${key}: ${code}`);
          o[key] = v;
        };
        if (type === "Conv") {
          const w = tensor(node, 1);
          const dil = pair("dilations");
          const group = attrInt(node, "group", 1);
          if (stride) set("stride", JSON.stringify(stride), stride);
          if (padVal !== "valid") set("padding", padding, padVal);
          if (dil && (dil[0] !== 1 || dil[1] !== 1)) set("dilation", JSON.stringify(dil), dil);
          if (group !== 1) set("groups", String(group), group);
          if ((node.input ?? []).length > 2 && node.input![2] !== "") {
            const b = tensor(node, 2);
            set("bias", b.code, b.t);
          }
          bind(out, `m.conv2d(${x.code}, ${w.code}${opts.length ? `, { ${opts.join(", ")} }` : ""})`, m.conv2d(x.t, w.t, o));
        } else {
          const k = pair("kernel_shape");
          if (!k) throw fail(node, "needs kernel_shape");
          if (attrInt(node, "ceil_mode", 0)) throw fail(node, "ceil_mode 1 is not supported", "gradc's output sizes are exact: pad the input so the windows fit");
          const dil = pair("dilations");
          if (dil && (dil[0] !== 1 || dil[1] !== 1)) throw fail(node, "dilated pooling is not supported");
          if (type === "AveragePool" && attrInt(node, "count_include_pad", 0) && padVal !== "valid")
            throw fail(node, "count_include_pad 1 with padding is not supported", "gradc's average pooling divides by the real cells of each window (count_include_pad 0)");
          set("size", JSON.stringify(k), k);
          if (stride && (stride[0] !== k[0] || stride[1] !== k[1])) set("stride", JSON.stringify(stride), stride);
          if (!stride && (k[0] !== 1 || k[1] !== 1)) set("stride", "1", 1); // ONNX's default stride is 1, gradc's the window
          if (padVal !== "valid") set("padding", padding, padVal);
          const method = type === "MaxPool" ? "maxPool2d" : "avgPool2d";
          bind(out, `m.${method}(${x.code}, { ${opts.join(", ")} })`, m[method](x.t, o as never));
        }
      } else if (type === "GlobalAveragePool") {
        const x = tensor(node, 0);
        bind(out, `m.globalAvgPool(${x.code})`, m.globalAvgPool(x.t));
      } else if (type === "Constant") {
        const t = attr(node, "value")?.t;
        const f = attr(node, "value_float")?.f;
        const v = t ? tensorValues(t, `Constant ${showValue(out)}`, source) : f !== undefined && f !== null ? Float64Array.of(f) : undefined;
        if (!v) throw fail(node, "only value and value_float constants are supported");
        values.set(out, { code: v.length === 1 && Number.isFinite(v[0]!) ? num(v[0]!) : "", constant: v, dims: t ? longs(t.dims ?? []) : [] });
      } else {
        throw fail(node, `operator ${showValue(type)} has no gradc import`);
      }
    } catch (e) {
      if (e instanceof GradcError && e.code !== "E_ONNX_IMPORT") {
        e.message = `${type} node ${showValue(node.name || out)}: ${e.message}`;
        e.info.file = source;
        delete e.info.line;
        delete e.info.col;
      }
      throw e;
    }
  }

  const outputs: string[] = [];
  for (const o of graph.output ?? []) {
    const name = o.name ?? "";
    const v = values.get(name);
    if (!v?.t) throw fail(undefined, `output ${showValue(name)} is not a computed tensor`);
    // Output names share the builder's name space with inputs and params, not with the spec's locals.
    let id = safeName(name, `out${outputs.length}`);
    for (let k = 1, base = id; [...inputs, ...params, ...outputs].includes(id); k++) id = `${base}_${k}`;
    outputs.push(id);
    m.output(id, v.t);
    lines.push(`  m.output(${JSON.stringify(id)}, ${v.code});`);
  }
  m.finish(); // the checks a spec gets (every param used, …)

  const producer = proto.producerName ? `, producer ${showValue(proto.producerName)}` : "";
  const spec = [
    `// Generated by \`gradc import\` from ${showValue(source)} (ONNX opset ${opset}${producer}).`,
    "// The params start at the file's weights; add m.loss(...) to train the model here.",
    'import type { ModelBuilder } from "gradc/dsl";',
    "",
    "export default (m: ModelBuilder) => {",
    ...(batched ? [`  m.batch(${B}); // inputs with a symbolic first axis take up to ${B} examples a step`] : []),
    ...header,
    ...lines,
    "};",
    "",
    ...tables,
    "",
  ].join("\n");
  return { spec, inputs, params, outputs };
}
