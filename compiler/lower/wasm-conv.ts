/**
 * Convs and pools on wasm: one kernel call per node (the wasm target,
 * compiler/emit/wasm-conv.ts, builds it from a `ConvKernel` or `PoolKernel`
 * descriptor: byte addresses, shapes, attributes, scratch). The plan chose the
 * node for wasm (`convOnWasm`, compiler/plan/target.ts) only when its inputs
 * are stored contiguously; the destination is the fused group's row-major
 * storage. A fused elementwise epilogue runs on conv2d's registers when it can
 * be said in the kernel's `Epi` form with operands indexed by the output
 * channel alone (bias + relu), else as a JS pass over the kernel's output.
 */
import type { Node } from "../ir/graph.ts";
import { opDef } from "../ir/ops.ts";
import * as S from "../ir/sexpr.ts";
import type { SExpr } from "../ir/sexpr.ts";
import type { ConvPlan } from "../plan/memory.ts";
import { convGeometry } from "../plan/target.ts";
import { type Access, at, contiguous } from "./access.ts";
import { type Cx, fresh } from "./context.ts";
import { toEpi } from "./epi.ts";
import type { ConvKernel, Epi, PoolKernel } from "./kernel.ts";
import { read } from "./reads.ts";
import { noTemps, scalarNode } from "./scalar.ts";
import { size, strides } from "../ir/shape.ts";
import type { Stmt } from "./stmt.ts";

/** A conv or pool node to lower (compiler/lower/conv.ts's job). */
export interface WasmConvJob {
  readonly cx: Cx;
  readonly node: Node;
  /** The fused group's root: `node` itself when no elementwise epilogue is fused into the kernel. */
  readonly root: Node;
  readonly dest: Access;
  /** Each input's storage (base and strides). */
  readonly ins: readonly (Access | undefined)[];
  readonly head: readonly Stmt[];
}

export function wasmConv(j: WasmConvJob, cp: ConvPlan): Stmt[] {
  const { cx, node, root, dest } = j;
  const g = convGeometry(node);
  const bytes = (a: Access) => cx.regions[a.arr as keyof typeof cx.regions] + a.base * 4;
  const ins = j.ins.map((a, i) => {
    if (!a || a.arr === "mask" || !contiguous(a, node.inputs[i]!.shape)) throw new Error(`internal: the plan put ${node.op}#${node.id} on wasm with input ${i} not stored contiguously`);
    return bytes(a);
  });
  if (dest.arr === "mask" || !contiguous(dest, root.shape)) throw new Error(`internal: ${node.op}#${node.id}'s destination is not contiguous`);
  const name = `cv${cx.kernels.length}`;
  // conv2d: per-channel operands (bias); a pool gradient with every cell in one window: same-index operands (relu's mask)
  const cells = (node.op === "maxPool2dBack" || node.op === "avgPool2dBack") && g.pad.every((p) => p === 0) && g.stride[0] === g.R && g.stride[1] === g.S && g.H === g.OH * g.R && g.W === g.OW * g.S;
  const epi = root === node ? undefined : node.op === "conv2d" ? convEpilogue(j, "channel") : cells ? convEpilogue(j, "cell") : undefined;
  const common = { name, N: g.N, C: g.C, H: g.H, W: g.W, R: g.R, S: g.S, OH: g.OH, OW: g.OW, stride: g.stride, pad: g.pad, node: node.id };
  const out = bytes(dest);
  if (node.op === "conv2d" || node.op === "conv2dBackInput" || node.op === "conv2dBackFilter") {
    // the three tensors by their role in the forward conv: x, w, y
    const [a, b] = ins as [number, number];
    const [x, w, y] = node.op === "conv2d" ? [a, b, out] : node.op === "conv2dBackInput" ? [out, b, a] : [a, out, b];
    const k: ConvKernel = {
      kind: "conv", op: node.op, ...common, K: g.K, dilation: g.dilation, x, w, y,
      scratch: cx.regions.arena + (cp.scratch ?? 0) * 4, scratchBytes: (cp.scratchFloats ?? 0) * 4,
      ...(epi ? { epilogue: epi } : {}),
    };
    cx.kernels.push(k);
  } else {
    const [a, b] = ins as [number, number | undefined];
    const [x, y, dx] =
      node.op === "maxPool2d" || node.op === "avgPool2d" ? [a, out, 0] : node.op === "maxPool2dBack" ? [a, b!, out] : [0, a, out];
    // an input with no NaN and no −0 (an `ordered` op's output: relu's): the max pools may take pmax for max
    const ordered = (node.op === "maxPool2d" || node.op === "maxPool2dBack") && opDef(node.inputs[0]!.op).ordered === true;
    const k: PoolKernel = { kind: "pool", op: node.op as PoolKernel["op"], ...common, x, y, dx, ...(epi ? { epilogue: epi } : {}), ...(ordered ? { ordered: true } : {}) };
    cx.kernels.push(k);
  }
  const stmts: Stmt[] = [...j.head, { k: "call", fn: name }];
  if (root !== node && !epi) stmts.push(...epiPass(j));
  return stmts;
}

/** The fused epilogue as a JS pass over the destination, which holds the kernel's output. */
function epiPass(j: WasmConvJob): Stmt[] {
  const { cx, node, root, dest } = j;
  const vars = root.shape.map(() => fresh(cx, "i"));
  const refs = vars.map((v) => S.ref(v));
  const body: Stmt[] = [];
  const c = at(dest, refs);
  const pinned = new Map([[node.id, c]]);
  const e = opDef(root.op).lower!(root.inputs.map((x) => [read(cx, x, root.shape, refs, undefined, body, pinned)]), scalarNode(root), noTemps)[0]!;
  let loop: Stmt[] = [...body, { k: "set", target: c, op: "=", e }];
  for (let d = vars.length - 1; d >= 0; d--) loop = [{ k: "for", v: vars[d]!, n: S.num(root.shape[d]!), body: loop }];
  return [{ k: "comment", text: `${root.op} epilogue over the kernel's output` }, ...loop];
}

/**
 * The fused epilogue in the kernel's form, or undefined: +, -, *, /,
 * neg, comparisons and selects, max, min, abs, sqrt over the accumulated value,
 * numbers and loads whose address depends on the output channel k alone
 * (`channel`: a bias b[k], a per-channel scale) or is the destination's own
 * index in another tensor (`cell`: relu's mask in a pool gradient), not
 * overlapping the destination.
 */
function convEpilogue(j: WasmConvJob, mode: "channel" | "cell"): Epi | undefined {
  const { cx, node, root, dest } = j;
  const st = strides(root.shape);
  const lo = cx.regions[dest.arr as keyof typeof cx.regions] + dest.base * 4, hi = lo + size(root.shape) * 4;
  const ACC = "\u0000acc";
  const V = ["\u0000n", "\u0000k", "\u0000h", "\u0000w"];
  const temps: Stmt[] = [];
  const pinned = new Map([[node.id, S.ref(ACC) as SExpr]]);
  const vars = V.map((v) => S.ref(v));
  if (root.shape.length !== 4) return undefined;
  const e = opDef(root.op).lower!(root.inputs.map((x) => [read(cx, x, root.shape, vars, undefined, temps, pinned)]), scalarNode(root), noTemps)[0]!;
  return toEpi(e, temps, ACC, V, cx.regions, (at, f) => {
    if (f.v.every((q) => q === 0)) return { k: "load", at, rowBytes: 0, col: false }; // one value
    if (mode === "channel") return f.v[0] || f.v[2] || f.v[3] ? undefined : { k: "load", at, rowBytes: f.v[1]! * 4, col: false };
    if (!f.v.every((q, d) => q === st[d]) || (at < hi && at + size(root.shape) * 4 > lo)) return undefined;
    return { k: "load", at, rowBytes: 0, col: true };
  });
}
