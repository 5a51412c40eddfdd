/**
 * Lowering: the memory plan becomes statements. Small nodes are unrolled —
 * every element a scalar `const` — and large ones become loop kernels whose
 * bounds and strides are literals: elementwise chains fused into one loop,
 * elementwise epilogues fused into the matmul that feeds them, reductions
 * fused with the elementwise chain they reduce. Code size grows with the
 * number of tensor ops, not with tensor sizes.
 *
 * The result is a list of statements per function; the emitter only prints.
 */
import type { Node } from "../ir/graph.ts";
import type { Init } from "../ir/model.ts";
import { opDef } from "../ir/ops.ts";
import * as S from "../ir/sexpr.ts";
import type { SExpr } from "../ir/sexpr.ts";
import { type Shape, normAxes, size, strides } from "../ir/shape.ts";
import type { Fn, Plan } from "../plan/memory.ts";
import type { Epi, MatmulKernel } from "../emit/wasm.ts";

export type Stmt =
  | { readonly k: "comment"; readonly text: string }
  | { readonly k: "const"; readonly name: string; readonly e: SExpr }
  | { readonly k: "let"; readonly name: string; readonly e: SExpr }
  | { readonly k: "set"; readonly target: SExpr; readonly op: "=" | "+="; readonly e: SExpr }
  /** Runs wasm kernel `fn` (it reads and writes the shared memory). */
  | { readonly k: "call"; readonly fn: string }
  /** `for (let v = from; v < n; v += step)`; from 0 and step 1 unless given. */
  | { readonly k: "for"; readonly v: string; readonly from?: SExpr; readonly n: SExpr; readonly step?: number; readonly body: readonly Stmt[] };

/** The buffers every generated function takes, by their parameter names. */
export const BUFFERS = ["params", "inputs", "arena", "grads"] as const;
/** `mask` is virtual: element i of the batch mask is `i < n ? 1 : 0`, never stored. */
export type Buffer = (typeof BUFFERS)[number] | "mask";

export interface Slot {
  readonly name: string;
  readonly shape: Shape;
  readonly offset: number;
  readonly size: number;
}

export interface Layout {
  readonly name: string;
  readonly source: string;
  readonly params: readonly (Slot & { readonly init: Init })[];
  readonly paramSize: number;
  /** `batched`: the leading axis is the batch axis; `dropout`: a mask input with that drop rate, filled by the trainer. */
  readonly inputs: readonly (Slot & { readonly range?: readonly [number, number]; readonly batched?: true; readonly dropout?: number })[];
  readonly inputSize: number;
  /** Outputs live at the start of the arena. */
  readonly outputs: readonly Slot[];
  /** Outputs, then every planned intermediate, then the loss. */
  readonly arenaSize: number;
  /** Where `forward` writes the loss. */
  readonly lossOffset?: number;
  /** The compiled batch size B: functions take n <= B real examples (rows n..B-1 of batched inputs must be finite, e.g. zero). */
  readonly batch?: number;
  readonly hasLoss: boolean;
  /** With wasm kernels: the byte offset of each buffer in the module's one WebAssembly.Memory, and its size in pages. */
  readonly memory?: {
    readonly params: number;
    readonly grads: number;
    readonly inputs: number;
    readonly arena: number;
    /** The optimizer kernels' region (scalars, then two state vectors; compiler/emit/optimizers.ts), added by emit. */
    readonly state?: number;
    readonly pages: number;
  };
}

export interface Lowered {
  readonly layout: Layout;
  readonly forward: readonly Stmt[];
  readonly backward: readonly Stmt[];
  /** Forward and backward fused (fully unrolled models only). */
  readonly step?: readonly Stmt[];
  /** Helper functions the statements call (by name), e.g. `nthRoot`. */
  readonly helpers: readonly string[];
  /** WebAssembly SIMD kernels the statements call (`call` statements), built by the emitter. */
  readonly kernels: readonly MatmulKernel[];
  /** Arena floats with no reuse, for the compile report. */
  readonly naiveArenaSize: number;
}

/** Names the emitted module itself uses; spec names that equal one get a suffix. */
const RESERVED = new Set([...BUFFERS, "Math", "layout", "forward", "backward", "nthRoot", "Buf", "n"]);

class Names {
  private readonly used: Set<string>;
  constructor(private readonly parent?: Names) {
    this.used = parent ? new Set() : new Set(RESERVED);
  }
  private taken(n: string): boolean {
    return this.used.has(n) || (this.parent?.taken(n) ?? false);
  }
  fresh(want: string): string {
    let n = want;
    // Function-level names get `_` suffixes (`h_1` stays readable next to `h_1_`); kernel-local ones count up.
    for (let k = 2; this.taken(n); k++) n = this.parent ? `${want}${k}` : `${n}_`;
    this.used.add(n);
    return n;
  }
  /** Names for one kernel: block-scoped, so sibling kernels may reuse `i`, `j`, `acc00`… */
  scope(): Names {
    return new Names(this);
  }
}

/** A strided view of a buffer: element (i0, i1, …) is at base + Σ i_d st_d. */
interface Access {
  readonly arr: Buffer;
  readonly base: number;
  readonly st: readonly number[];
}

const slots = <T extends { name: string; shape: Shape }>(xs: readonly T[]) => {
  let off = 0;
  const out = xs.map((x) => {
    const s = { ...x, shape: [...x.shape], offset: off, size: size(x.shape) };
    off += s.size;
    return s;
  });
  return { slots: out, total: off };
};

const contiguous = (a: Access, shape: Shape) => strides(shape).every((s, d) => shape[d] === 1 || s === a.st[d]);
const unflat = (shape: Shape, i: number) => strides(shape).map((s, d) => Math.floor(i / s) % shape[d]!);
const at = (a: Access, vars: readonly SExpr[]) =>
  element(a.arr, vars.reduce((e, v, d) => S.iadd(e, S.imul(v, S.num(a.st[d]!))), S.num(a.base) as SExpr));
/** A buffer element; for the virtual batch mask, the comparison that defines it. */
const element = (arr: Buffer, i: SExpr): SExpr =>
  arr === "mask" ? S.cond(S.bin("<", i, S.ref("n")), S.num(1), S.num(0)) : S.idx(arr, i);

export interface LowerOptions {
  /** Float32 buffers: constants are rounded to float32 like every stored value. */
  readonly f32?: boolean;
  /** Large f32 matmuls as WebAssembly SIMD kernels (the JS loops otherwise). */
  readonly wasm?: boolean;
  /** Multiply-adds from which a matmul goes to wasm (default WASM_MIN_WORK). */
  readonly wasmMinWork?: number;
}

/** Matmuls with at least this many multiply-adds (and 4+ rows) go to wasm when it is on. */
export const WASM_MIN_WORK = 1 << 14;

export function lower(plan: Plan, opts: LowerOptions = {}): Lowered {
  const p = plan.program;
  const m = p.model;
  const T = plan.unrollLimit;
  const names = new Names();
  const params = slots(m.params.map((l) => ({ name: l.name, shape: l.shape, init: l.init ?? ("xavier" as Init) })));
  const inputs = slots(
    m.inputs.map((l) => ({
      name: l.name,
      shape: l.shape,
      ...(l.range ? { range: l.range } : {}),
      ...(l.batched ? { batched: true as const } : {}),
      ...(l.dropout !== undefined ? { dropout: l.dropout } : {}),
    })),
  );
  const outputs = p.outputs.map((o, i) => ({ name: o.name, shape: [...o.node.shape], offset: plan.outputOffsets[i]!, size: size(o.node.shape) }));
  // The arena: outputs and planned values, the loss, then (wasm) scratch for transposed matmul operands.
  const lossOffset = plan.arenaSize;
  const scratchAt = Math.ceil((lossOffset + 1) / 4) * 4; // 16-byte aligned for SIMD loads
  let scratch = 0;
  const kernels: MatmulKernel[] = [];
  // With wasm, all four buffers are views of one WebAssembly.Memory: params, grads, inputs, arena.
  const align16 = (bytes: number) => Math.ceil(bytes / 16) * 16;
  const region: Record<string, number> = { params: 0 };
  region.grads = align16(params.total * 4);
  region.inputs = align16(region.grads + params.total * 4);
  region.arena = align16(region.inputs + inputs.total * 4);
  const leafAccess = new Map<number, Access>();
  for (const n of [...plan.forward, ...plan.backward])
    if (n.op === "batchMask") leafAccess.set(n.id, { arr: "mask", base: 0, st: [1] });
  m.params.forEach((l, i) => leafAccess.set(l.node.id, { arr: "params", base: params.slots[i]!.offset, st: strides(l.shape) }));
  m.inputs.forEach((l, i) => leafAccess.set(l.node.id, { arr: "inputs", base: inputs.slots[i]!.offset, st: strides(l.shape) }));

  // ---- names -------------------------------------------------------------------
  // A named view (the reshape of a summed bias gradient, say) lends its name to the value it views.
  const spec = new Map(p.names);
  const all = [...plan.forward, ...plan.backward];
  const byId = new Map(all.map((n) => [n.id, n]));
  for (const [id, name] of p.names) {
    let n = byId.get(id);
    while (n && opDef(n.op).kind === "view" && !spec.has(n.inputs[0]!.id)) spec.set((n = n.inputs[0]!).id, name);
  }
  let counter = 0;
  const base = new Map<number, string>();
  const baseName = (n: Node) => {
    let b = base.get(n.id);
    if (!b) base.set(n.id, (b = names.fresh(spec.get(n.id) ?? `${n.op}${counter++}`)));
    return b;
  };
  const elemName = (n: Node, i: number) => (n.shape.length === 0 ? baseName(n) : names.fresh(`${baseName(n)}_${i}`));
  /** How a comment refers to a node: its name, a literal, or a view of one. */
  const label = (n: Node): string =>
    n.op === "const"
      ? S.printNum(n.attrs.value as number)
      : n.op === "transpose"
        ? `${label(n.inputs[0]!)}ᵀ`
        : opDef(n.op).kind === "view"
          ? label(n.inputs[0]!)
          : (base.get(n.id) ?? spec.get(n.id) ?? n.op);
  const describe = (n: Node) => {
    baseName(n);
    const what = `${label(n)} = ${n.op}(${n.inputs.map(label).join(", ")})`;
    const origin = p.origin.get(n.id);
    // Backward lines say which primal op's derivative rule they come from.
    return origin ? `${what}  ⟵ ∂ ${origin.op} ${label(origin)}` : what;
  };

  // ---- values --------------------------------------------------------------------
  /** Per-element scalar expressions of unrolled values (locals or literals). */
  const elems = new Map<number, SExpr[]>();
  /** Where stored values (and leaves) live. */
  const access = new Map<number, Access>(leafAccess);
  /** Locals that any function may load on demand: leaf elements and stored forward scalars. */
  const loadable = new Map<string, SExpr>();
  const definedIn = new Map<string, Fn>();
  let currentFn: Fn = "forward";

  const accessOf = (n: Node): Access | undefined => {
    const hit = access.get(n.id);
    if (hit) return hit;
    if (opDef(n.op).kind !== "view") return undefined;
    const a = accessOf(n.inputs[0]!);
    if (!a) return undefined;
    const x = n.inputs[0]!;
    let r: Access | undefined;
    if (n.op === "transpose") r = { ...a, st: [a.st[1]!, a.st[0]!] };
    else if (n.op === "reshape") r = contiguous(a, x.shape) ? { ...a, st: strides(n.shape) } : undefined;
    else {
      const off = n.shape.length - x.shape.length;
      r = { ...a, st: n.shape.map((d, i) => (i < off || (x.shape[i - off] === 1 && d !== 1) ? 0 : a.st[i - off]!)) };
    }
    if (r) access.set(n.id, r);
    return r;
  };

  /** Unrolled elements of a node (views and constants alias; big stored values are read by literal index). */
  const elemsOf = (n: Node): SExpr[] => {
    const hit = elems.get(n.id);
    if (hit) return hit;
    const def = opDef(n.op);
    let es: SExpr[];
    // A float32 model computes with float32 constants: 2.17 is fround(2.17), so fround(2.17) - 2.17 is 0 as in float32
    // (a float64 literal against a float32-stored value left 7.6e-8 there; the fuzzer found it).
    if (n.op === "const") es = def.lower!([], n, noTemps).map((e) => (opts.f32 && e.k === "num" ? S.num(Math.fround(e.v)) : e));
    else if (n.op === "batchSize") es = [S.ref("n")];
    else if (n.op === "batchMask") es = Array.from({ length: size(n.shape) }, (_, i) => element("mask", S.num(i)));
    else if (def.kind === "leaf" && size(n.shape) <= T) {
      const a = leafAccess.get(n.id)!;
      es = Array.from({ length: size(n.shape) }, (_, i) => {
        const name = elemName(n, i);
        loadable.set(name, S.idx(a.arr, a.base + i));
        return S.ref(name);
      });
    } else if (def.kind === "view" && (elems.has(n.inputs[0]!.id) || elems.has(plan.source(n).id) || size(n.shape) <= T))
      es = def.lower!([elemsOf(n.inputs[0]!)], n, noTemps);
    else {
      const a = accessOf(n);
      if (!a) throw new Error(`internal: ${n.op}#${n.id} has neither elements nor storage`);
      es = Array.from({ length: size(n.shape) }, (_, i) => at(a, unflat(n.shape, i).map(S.num)));
    }
    elems.set(n.id, es);
    return es;
  };
  const noTemps = { temp: (e: SExpr) => e };

  // ---- loop kernels ------------------------------------------------------------------
  let local: Names | undefined; // set while a loop kernel is lowered
  const fresh = (want: string) => (local ?? names).fresh(want);

  /**
   * Loops over `shape`: one flat loop when every read can use the flat index
   * (`vars` is then empty), else one loop per axis.
   */
  const loops = (shape: Shape, flat: boolean, body: (vars: SExpr[], flatIndex: SExpr) => Stmt[]): Stmt[] => {
    if (flat || shape.length <= 1) {
      const v = fresh("i");
      return [{ k: "for", v, n: S.num(size(shape)), body: body(shape.length === 1 ? [S.ref(v)] : [], S.ref(v)) }];
    }
    const vs = shape.map(() => fresh("i"));
    const fi = strides(shape).reduce((e, st, d) => S.iadd(e, S.imul(S.ref(vs[d]!), S.num(st))), S.num(0) as SExpr);
    let inner: Stmt[] = body(vs.map(S.ref), fi);
    for (let d = shape.length - 1; d >= 0; d--) inner = [{ k: "for", v: vs[d]!, n: S.num(shape[d]!), body: inner }];
    return inner;
  };

  /** Inputs of a fused group that are read from storage or locals (not computed inside the group). */
  const groupReads = (root: Node): Node[] => {
    const out: Node[] = [];
    const walk = (n: Node) => {
      for (const x of n.inputs) {
        if (plan.nodes.get(x.id)?.fusedInto === n.id) walk(x);
        else out.push(x);
      }
    };
    walk(root);
    return out;
  };
  /** Can every read of the group use the root's flat index? */
  const flatReads = (root: Node, shape: Shape) =>
    groupReads(root).every((x) => {
      if (size(x.shape) === 1) return true;
      if (x.shape.length !== shape.length || size(x.shape) !== size(shape)) return false;
      const a = accessOf(x);
      return a !== undefined && contiguous(a, x.shape);
    });

  /**
   * The element of `x` that a kernel over `shape` reads at `vars` (numpy
   * broadcasting from `x`'s shape to `shape`), computing fused producers inline
   * into `body`. `pinned` supplies values computed by the kernel itself (a
   * matmul's accumulator).
   */
  const read = (x: Node, shape: Shape, vars: SExpr[], flat: SExpr | undefined, body: Stmt[], pinned: Map<number, SExpr>): SExpr => {
    const pin = pinned.get(x.id);
    if (pin) return pin;
    const src = plan.source(x);
    if (src.op === "const") return elemsOf(src)[0]!;
    // A view of a one-element value (a broadcast scalar adjoint, say) is that value everywhere.
    if (size(src.shape) === 1 && src.op !== "batchMask" && !access.has(src.id) && plan.nodes.get(src.id)?.fusedInto === undefined)
      return elemsOf(src)[0]!;
    if (plan.nodes.get(x.id)?.fusedInto !== undefined) {
      // A fused producer: computed right here, at the same index, into a loop-local const.
      const ins = x.inputs.map((i) => [read(i, x.shape, vars, flat, body, pinned)]);
      const name = fresh(`${baseName(x)}_v`);
      body.push({ k: "const", name, e: opDef(x.op).lower!(ins, scalarNode(x), noTemps)[0]! });
      return S.ref(name);
    }
    if (size(x.shape) === 1) {
      const es = elems.get(x.id);
      if (es) return es[0]!;
      const a = accessOf(x);
      return a ? element(a.arr, S.num(a.base)) : elemsOf(x)[0]!;
    }
    const a = accessOf(x);
    if (a && flat) return element(a.arr, S.iadd(S.num(a.base), flat));
    const off = shape.length - x.shape.length;
    const xv = x.shape.map((d, i) => (d === 1 ? S.num(0) : vars[i + off]!));
    if (a) return at(a, xv);
    // A view with no strided form (a reshape of a transpose, say): read its input at the index it maps to.
    const y = x.inputs[0]!;
    if (opDef(x.op).kind !== "view") throw new Error(`internal: ${x.op}#${x.id} is read by a loop but not stored`);
    if (x.op === "transpose") return read(y, y.shape, [xv[1]!, xv[0]!], undefined, body, pinned);
    if (x.op === "broadcast") return read(y, x.shape, xv, undefined, body, pinned);
    const fx = strides(x.shape).reduce((e, st, d) => S.iadd(e, S.imul(xv[d]!, S.num(st))), S.num(0) as SExpr);
    return read(y, y.shape, unflatExpr(fx, y.shape), undefined, body, pinned);
  };
  /** The multi-index of flat index `f` in `shape`, as expressions. */
  const unflatExpr = (f: SExpr, shape: Shape): SExpr[] =>
    strides(shape).map((st, d) => {
      const q = st === 1 ? f : S.call("Math.floor", S.div(f, S.num(st)));
      return d === 0 ? q : S.bin("%", q, S.num(shape[d]!));
    });

  const destOf = (n: Node): Access => {
    const st = plan.nodes.get(n.id)!.store!;
    const a = { arr: st.arr as Buffer, base: st.offset, st: strides(n.shape) };
    access.set(n.id, a);
    return a;
  };

  /** The kernel of a loop node (the root of its fused group). */
  const kernel = (n: Node): Stmt[] => {
    const def = opDef(n.op);
    const dest = destOf(n);
    const out: Stmt[] = [];
    if (def.kind === "elementwise") {
      const mm = findFusedMatmul(n);
      if (mm) return matmulKernel(mm, n, dest);
      const flat = flatReads(n, n.shape);
      out.push(
        ...loops(n.shape, flat, (vars, fi) => {
          const body: Stmt[] = [];
          const e = def.lower!(n.inputs.map((x) => [read(x, n.shape, vars, flat ? fi : undefined, body, new Map())]), scalarNode(n), noTemps)[0]!;
          body.push({ k: "set", target: S.idx(dest.arr, S.iadd(S.num(dest.base), fi)), op: "=", e });
          return body;
        }),
      );
      return out;
    }
    if (def.kind === "reduce") {
      const x = n.inputs[0]!;
      const axes = normAxes(n.attrs.axes as number[], x.shape.length)!;
      const flat = n.shape.length === 0 && flatReads(n, x.shape);
      if (n.shape.length === 0) {
        const acc = names.fresh(`${baseName(n)}_acc`); // function scope: read after the loop
        definedIn.set(acc, currentFn);
        loadable.set(acc, element(dest.arr, S.num(dest.base))); // the other function reads the stored value
        out.push({ k: "let", name: acc, e: S.num(0) });
        out.push(
          ...loops(x.shape, flat, (vars, fi) => {
            const body: Stmt[] = [];
            body.push({ k: "set", target: S.ref(acc), op: "+=", e: read(x, x.shape, vars, flat ? fi : undefined, body, new Map()) });
            return body;
          }),
        );
        out.push({ k: "set", target: S.idx(dest.arr, dest.base), op: "=", e: S.ref(acc) });
        elems.set(n.id, [S.ref(acc)]);
        return out;
      }
      // Kept axes outside, summed axes inside: each output is accumulated in a local (float64)
      // and stored once, instead of rounding through the float32 arena at every term.
      const vars = x.shape.map(() => S.num(0) as SExpr);
      const names_ = x.shape.map(() => fresh("i"));
      names_.forEach((nm, d) => (vars[d] = S.ref(nm)));
      const acc = fresh("acc");
      const body: Stmt[] = [];
      const e = read(x, x.shape, vars, undefined, body, new Map());
      let inner: Stmt[] = [...body, { k: "set", target: S.ref(acc), op: "+=", e }];
      for (let d = x.shape.length - 1; d >= 0; d--)
        if (axes.includes(d)) inner = [{ k: "for", v: names_[d]!, n: S.num(x.shape[d]!), body: inner }];
      const keptSt = strides(n.shape);
      let k = 0;
      const o = names_.reduce((a, nm, d) => (axes.includes(d) ? a : S.iadd(a, S.imul(S.ref(nm), S.num(keptSt[k++]!)))), S.num(dest.base) as SExpr);
      let outer: Stmt[] = [{ k: "let", name: acc, e: S.num(0) }, ...inner, { k: "set", target: S.idx(dest.arr, o), op: "=", e: S.ref(acc) }];
      for (let d = x.shape.length - 1; d >= 0; d--)
        if (!axes.includes(d)) outer = [{ k: "for", v: names_[d]!, n: S.num(x.shape[d]!), body: outer }];
      out.push(...outer);
      return out;
    }
    if (def.kind === "matmul") return matmulKernel(n, n, dest);
    if (def.kind === "rowwise") {
      const x = n.inputs[0]!;
      const rn = x.shape[x.shape.length - 1]!;
      const rows = size(x.shape) / rn;
      const outN = size(n.shape) / rows;
      const r = fresh("r");
      const body: Stmt[] = [];
      const rb = fresh(`${r}_base`);
      body.push({ k: "const", name: rb, e: S.imul(S.ref(r), S.num(rn)) });
      // Element j of row r: the leading axes are r unflattened, the last is j (any layout, through views).
      const lead = x.shape.length > 1 ? unflatExpr(S.ref(r), x.shape.slice(0, -1)) : [];
      const a = accessOf(x);
      const row = Array.from({ length: rn }, (_, j) =>
        a && contiguous(a, x.shape)
          ? read(x, x.shape, [], S.iadd(S.ref(rb), S.num(j)), body, new Map())
          : read(x, x.shape, [...lead, S.num(j)], undefined, body, new Map()),
      );
      let t = 0;
      const ctx = {
        temp: (e: SExpr) => {
          const name = fresh(`${baseName(n)}_t${t++}`);
          body.push({ k: "const", name, e });
          return S.ref(name);
        },
      };
      const rowNode = { ...n, shape: n.shape.length === x.shape.length ? [rn] : [], inputs: [{ ...x, shape: [rn] }] };
      const es = def.lower!([row], rowNode, ctx);
      es.forEach((e, j) =>
        body.push({ k: "set", target: S.idx(dest.arr, S.iadd(S.num(dest.base), S.iadd(S.imul(S.ref(r), S.num(outN)), S.num(j)))), op: "=", e }),
      );
      return [{ k: "for", v: r, n: S.num(rows), body }];
    }
    throw new Error(`internal: no loop kernel for ${n.op}`);
  };

  /** The matmul fused somewhere inside an elementwise group, if any. */
  const findFusedMatmul = (root: Node): Node | undefined => {
    for (const x of root.inputs) {
      if (plan.nodes.get(x.id)?.fusedInto !== root.id) continue;
      if (x.op === "matmul") return x;
      const deeper = findFusedMatmul(x);
      if (deeper) return deeper;
    }
    return undefined;
  };

  const zero = (dest: Access, count: number): Stmt[] =>
    loops([count], true, (_, fi) => [{ k: "set", target: S.idx(dest.arr, S.iadd(S.num(dest.base), fi)), op: "=", e: S.num(0) }]);

  /**
   * C = A·B into `dest`, then the elementwise epilogue of `root` (root === mm:
   * none). Two register-blocked forms, chosen from B's layout so the innermost
   * loop runs over contiguous memory:
   * - axpy (B row-major — forward, and dW = Xᵀ·dY): a block of R rows of C
   *   accumulates U rows of B at a time, so each C element is loaded and stored
   *   once per U terms and each B element loaded once per R rows; the
   *   epilogue runs on the block while it is hot;
   * - dot (B a transposed matrix — dX = dY·Wᵀ): an RI×SJ block of dot products
   *   kept in local accumulators.
   * Remainders of M, K, N that do not fill a block get the same loops with a
   * block of 1. Measured on this machine (784x128 layer, batch 64): 4x4 axpy
   * blocks run ~4x faster than the unblocked i-p-j loop.
   */
  const matmulKernel = (mm: Node, root: Node, dest: Access): Stmt[] => {
    const [A, B] = mm.inputs as [Node, Node];
    const [M, K] = A.shape as [number, number];
    const N = B.shape[1]!;
    // An operand with no strided form (a reshape of a transposed or unstored value) is first
    // copied, row-major, to arena scratch: operand A at the scratch start, B after it.
    const copies: Stmt[] = [];
    let scratchUsed = 0;
    const materialize = (x: Node): Access => {
      const base = scratchAt + scratchUsed;
      scratchUsed += Math.ceil(size(x.shape) / 4) * 4;
      scratch = Math.max(scratch, scratchUsed);
      const [rv, cv] = [fresh("r"), fresh("c")];
      const body: Stmt[] = [];
      const e = read(x, x.shape, [S.ref(rv), S.ref(cv)], undefined, body, new Map());
      copies.push({
        k: "for", v: rv, n: S.num(x.shape[0]!),
        body: [{ k: "for", v: cv, n: S.num(x.shape[1]!), body: [...body, { k: "set", target: S.idx("arena", S.iadd(S.num(base), S.iadd(S.imul(S.ref(rv), S.num(x.shape[1]!)), S.ref(cv)))), op: "=", e }] }],
      });
      return { arr: "arena", base, st: [x.shape[1]!, 1] };
    };
    const a = accessOf(A) ?? materialize(A);
    let b = accessOf(B) ?? materialize(B);
    const scratchBase = scratchAt + scratchUsed; // the wasm path's transposed B goes after any copies
    const n = (v: number) => S.num(v);
    const r_ = (name: string) => S.ref(name);
    const add = S.iadd;
    const mulc = (e: SExpr, c: number) => S.imul(e, n(c));
    /** Address of element (row, col) of an access, as an expression. */
    const addr = (x: Access, row: SExpr, col: SExpr) => add(add(n(x.base), mulc(row, x.st[0]!)), mulc(col, x.st[1]!));
    const epilogue = (acc: SExpr, row: SExpr, col: SExpr, body: Stmt[]): SExpr =>
      root === mm
        ? acc
        : opDef(root.op).lower!(root.inputs.map((x) => [read(x, root.shape, [row, col], undefined, body, new Map([[mm.id, acc]]))]), scalarNode(root), noTemps)[0]!;
    const forStep = (v: string, from: number, to: number, step: number, body: Stmt[]): Stmt[] =>
      to > from && body.length ? [{ k: "for", v, from: n(from), n: n(to), step, body }] : [];
    const comment: Stmt = { k: "comment", text: `[${M}x${K}]·[${K}x${N}]${root === mm ? "" : ` + fused ${root.op} epilogue`}` };
    const head: Stmt[] = [comment, ...copies];

    const useWasm = opts.wasm === true && M >= 4 && M * N * K >= (opts.wasmMinWork ?? WASM_MIN_WORK) && a.arr !== "mask" && b.arr !== "mask";

    if (!useWasm && b.st[0] === 1 && b.st[1] !== 1) {
      // dot form
      const block = (RI: number, SJ: number, iFrom: number, iTo: number, jFrom: number, jTo: number): Stmt[] => {
        const i = fresh("i");
        const j = fresh("j");
        const p = fresh("p");
        const rows = Array.from({ length: RI }, (_, r) => add(r_(i), n(r)));
        const cols = Array.from({ length: SJ }, (_, c) => add(r_(j), n(c)));
        const accs = rows.map((_, r) => cols.map((_, c) => fresh(`acc${r}${c}`)));
        const acc = (r: number, c: number) => accs[r]![c]!;
        const inner: Stmt[] = [];
        const av = rows.map((_, r) => fresh(`a${r}`));
        const bv = cols.map((_, c) => fresh(`b${c}`));
        rows.forEach((row, r) => inner.push({ k: "const", name: av[r]!, e: element(a.arr, addr(a, row, r_(p))) }));
        cols.forEach((col, c) => inner.push({ k: "const", name: bv[c]!, e: element(b.arr, addr(b, r_(p), col)) }));
        rows.forEach((_, r) => cols.forEach((_, c) => inner.push({ k: "set", target: r_(acc(r, c)), op: "+=", e: S.mul(r_(av[r]!), r_(bv[c]!)) })));
        const body: Stmt[] = [];
        rows.forEach((_, r) => cols.forEach((_, c) => body.push({ k: "let", name: acc(r, c), e: n(0) })));
        body.push(...forStep(p, 0, K, 1, inner));
        const temps: Stmt[] = [];
        const stores: Stmt[] = [];
        rows.forEach((row, r) =>
          cols.forEach((col, c) => stores.push({ k: "set", target: element(dest.arr, addr(dest, row, col)), op: "=", e: epilogue(r_(acc(r, c)), row, col, temps) })),
        );
        return forStep(i, iFrom, iTo, RI, forStep(j, jFrom, jTo, SJ, [...body, ...temps, ...stores]));
      };
      const RI = M >= 2 ? 2 : 1;
      const SJ = N >= 4 ? 4 : 1;
      const iMain = M - (M % RI);
      const jMain = N - (N % SJ);
      return [
        ...head,
        ...block(RI, SJ, 0, iMain, 0, jMain),
        ...block(RI, 1, 0, iMain, jMain, N),
        ...block(1, SJ, iMain, M, 0, jMain),
        ...block(1, 1, iMain, M, jMain, N),
      ];
    }

    // axpy form
    const R = M >= 4 ? 4 : M;
    const U = K >= 4 ? 4 : 1;
    const rowsBlock = (R: number, iFrom: number, iTo: number): Stmt[] => {
      const i = fresh("i");
      const rows = Array.from({ length: R }, (_, r) => add(r_(i), n(r)));
      const c = rows.map((_, r) => fresh(`c${r}`)); // row bases of C
      const body: Stmt[] = rows.map((row, r) => ({ k: "const", name: c[r]!, e: add(n(dest.base), mulc(row, N)) }));
      const aRow = a.st[1] === 1 ? rows.map((row, r) => {
        const name = fresh(`a${r}`);
        body.push({ k: "const", name, e: add(n(a.base), mulc(row, a.st[0]!)) });
        return name;
      }) : [];
      const j = fresh("j");
      const cAt = (r: number) => element(dest.arr, add(r_(c[r]!), r_(j)));
      body.push(...forStep(j, 0, N, 1, rows.map((_, r) => ({ k: "set", target: cAt(r), op: "=", e: n(0) }) as Stmt)));
      const pBlock = (U: number, pFrom: number, pTo: number): Stmt[] => {
        const p = fresh("p");
        const ps = Array.from({ length: U }, (_, u) => add(r_(p), n(u)));
        const inner: Stmt[] = [];
        // A's elements for the block; the address arithmetic is hoisted to a base per row of A
        // (A row-major) or per column (A transposed, as in dW = Xᵀ·dY).
        const colBase = a.st[1] !== 1 ? ps.map((pu, u) => {
          const name = fresh(`q${u}`);
          inner.push({ k: "const", name, e: add(n(a.base), mulc(pu, a.st[1]!)) });
          return name;
        }) : undefined;
        const xs = rows.map((row, r) => ps.map((pu, u) => {
          const name = fresh(`x${r}${u}`);
          const at = colBase ? add(r_(colBase[u]!), mulc(row, a.st[0]!)) : add(add(r_(aRow[r]!), r_(p)), n(u));
          inner.push({ k: "const", name, e: element(a.arr, at) });
          return name;
        }));
        const bRow = ps.map((pu, u) => {
          const name = fresh(`b${u}`);
          inner.push({ k: "const", name, e: add(n(b.base), mulc(pu, b.st[0]!)) });
          return name;
        });
        const ys = ps.map((_, u) => fresh(`y${u}`));
        const jb: Stmt[] = ps.map((_, u) => ({ k: "const", name: ys[u]!, e: element(b.arr, add(r_(bRow[u]!), mulc(r_(j), b.st[1]!))) }));
        rows.forEach((_, r) => jb.push({ k: "set", target: cAt(r), op: "+=", e: S.chain("+", ps.map((_, u) => S.mul(r_(xs[r]![u]!), r_(ys[u]!)))) }));
        inner.push(...forStep(j, 0, N, 1, jb));
        return forStep(p, pFrom, pTo, U, inner);
      };
      const pMain = K - (K % U);
      body.push(...pBlock(U, 0, pMain), ...pBlock(1, pMain, K));
      if (root !== mm)
        rows.forEach((row, r) => {
          const temps: Stmt[] = [];
          const e = epilogue(cAt(r), row, r_(j), temps);
          body.push(...forStep(j, 0, N, 1, [...temps, { k: "set", target: cAt(r), op: "=", e }]));
        });
      return forStep(i, iFrom, iTo, R, body);
    };
    if (useWasm) return wasmMatmul();
    const iMain = M - (M % R);
    return [...head, ...rowsBlock(R, 0, iMain), ...rowsBlock(1, iMain, M)];

    /**
     * The fused epilogue as a wasm Epi, or undefined: only +, -, *, /, neg,
     * comparisons and selects, max, min, abs, sqrt, over operands whose address
     * is affine in (row, col) with column stride 1 or 0, none inside C itself
     * (the kernel writes C tile by tile); temporaries are inlined.
     */
    function wasmEpilogue(dest: Access): Epi | undefined {
      const ACC = "\u0000acc", ROW = "\u0000row", COL = "\u0000col";
      const temps: Stmt[] = [];
      const e = epilogue(S.ref(ACC), S.ref(ROW), S.ref(COL), temps);
      const named = new Map<string, Epi>(); // the epilogue's temporaries, inlined where they are read
      const cLo = region[dest.arr]! + dest.base * 4, cHi = cLo + M * N * 4;
      type Aff = { c: number; r: number; j: number };
      const affine = (x: number | SExpr): Aff | undefined => {
        if (typeof x === "number") return { c: x, r: 0, j: 0 };
        if (x.k === "num") return { c: x.v, r: 0, j: 0 };
        if (x.k === "ref") return x.name === ROW ? { c: 0, r: 1, j: 0 } : x.name === COL ? { c: 0, r: 0, j: 1 } : undefined;
        if (x.k !== "bin") return undefined;
        const [u, v] = [affine(x.a), affine(x.b)];
        if (!u || !v) return undefined;
        if (x.op === "+") return { c: u.c + v.c, r: u.r + v.r, j: u.j + v.j };
        if (x.op !== "*") return undefined;
        if (!u.r && !u.j) return { c: u.c * v.c, r: u.c * v.r, j: u.c * v.j };
        if (!v.r && !v.j) return { c: v.c * u.c, r: v.c * u.r, j: v.c * u.j };
        return undefined;
      };
      const CMP = new Set([">", ">=", "<", "<="]);
      const FN: Record<string, "max" | "min" | "abs" | "sqrt"> = { "Math.max": "max", "Math.min": "min", "Math.abs": "abs", "Math.sqrt": "sqrt" };
      const go = (x: SExpr): Epi | undefined => {
        switch (x.k) {
          case "num":
            return { k: "num", v: x.v };
          case "ref":
            return x.name === ACC ? { k: "acc" } : named.get(x.name);
          case "idx": {
            const at = region[x.arr];
            const f = affine(x.i);
            if (at === undefined || !f || (f.j !== 0 && f.j !== 1)) return undefined;
            const lo = at + f.c * 4;
            const hi = lo + (f.r * (M - 1) + f.j * (N - 1) + 1) * 4;
            if (lo < cHi && hi > cLo) return undefined; // reads C (or the same memory): not while C is being written
            return { k: "load", at: lo, rowBytes: f.r * 4, col: f.j === 1 };
          }
          case "un": {
            const v = go(x.x);
            return x.op === "-" && v ? { k: "neg", x: v } : undefined;
          }
          case "bin": {
            const [u, v] = [go(x.a), go(x.b)];
            if (!u || !v) return undefined;
            return x.op === "+" || x.op === "-" || x.op === "*" || x.op === "/" ? { k: x.op, a: u, b: v } : undefined;
          }
          case "call": {
            const fn = FN[x.fn];
            const args = x.args.map(go);
            if (!fn || args.some((q) => !q)) return undefined;
            if ((fn === "max" || fn === "min") && args.length === 2) return { k: fn, a: args[0]!, b: args[1]! };
            if ((fn === "abs" || fn === "sqrt") && args.length === 1) return { k: fn, x: args[0]! };
            return undefined;
          }
          case "cond": {
            if (x.c.k !== "bin" || !CMP.has(x.c.op)) return undefined;
            const [ca, cb, u, v] = [go(x.c.a), go(x.c.b), go(x.a), go(x.b)];
            if (!ca || !cb || !u || !v) return undefined;
            return { k: "sel", c: { op: x.c.op as ">" | ">=" | "<" | "<=", a: ca, b: cb }, a: u, b: v };
          }
        }
      };
      for (const t of temps) {
        const v = t.k === "const" ? go(t.e) : undefined;
        if (!v || t.k !== "const") return undefined;
        named.set(t.name, v);
      }
      return go(e);
    }

    /**
     * Rows 0..M4 in a wasm SIMD kernel (compiler/emit/wasm.ts), the rest by the
     * JS loops above. A transposed B (dX = dY·Wᵀ) with A row-major goes to the
     * dot-product kernel as it is; any other B that is not row-major is first
     * copied to arena scratch (K·N moves against M·N·K multiply-adds). The
     * epilogue runs on the kernel's registers when wasmEpilogue can translate
     * it, else as a JS pass over the kernel's rows afterwards.
     */
    function wasmMatmul(): Stmt[] {
      const out: Stmt[] = [...head];
      let bk = b;
      // B given transposed and A row-major, both contiguous along p: the dot-product kernel reads them as they are.
      const bT = b.st[0] === 1 && b.st[1] === K && a.st[1] === 1 && K % 4 === 0 && K >= 8;
      if (!bT && (b.st[1] !== 1 || b.st[0] !== N)) {
        scratch = Math.max(scratch, scratchBase - scratchAt + K * N);
        bk = { arr: "arena", base: scratchBase, st: [N, 1] };
        const [pv, jv] = [fresh("p"), fresh("j")];
        out.push({ k: "comment", text: "B in row-major order for the kernel" });
        out.push(
          ...forStep(pv, 0, K, 1, forStep(jv, 0, N, 1, [
            { k: "set", target: element("arena", addr(bk, r_(pv), r_(jv))), op: "=", e: element(b.arr, addr(b, r_(pv), r_(jv))) },
          ])),
        );
      }
      const M4 = M - (M % 4);
      const name = `mm${kernels.length}`;
      const bytes = (x: Access) => region[x.arr]! + x.base * 4;
      // The epilogue on the kernel's registers when wasm has instructions for it, else a JS pass over its rows.
      const epi = root === mm ? undefined : wasmEpilogue(dest);
      kernels.push({
        name, M4, N, K, aBase: bytes(a), sa0: a.st[0]!, sa1: a.st[1]!, bBase: bytes(bk), cBase: bytes(dest),
        ...(bT ? { bT } : {}), ...(epi ? { epilogue: epi } : {}),
      });
      out.push({ k: "call", fn: name });
      if (root !== mm && !epi) {
        const [iv, jv] = [fresh("i"), fresh("j")];
        out.push(
          ...forStep(iv, 0, M4, 1, forStep(jv, 0, N, 1, withBody((body) => [
            { k: "set", target: element(dest.arr, addr(dest, r_(iv), r_(jv))), op: "=", e: epilogue(element(dest.arr, addr(dest, r_(iv), r_(jv))), r_(iv), r_(jv), body) },
          ]))),
        );
      }
      // Rows past the last multiple of 4: the JS kernel (with its own epilogue), reading B where the kernel did.
      b = bk;
      return [...out, ...rowsBlock(1, M4, M)];
    }
  };
  /** Runs `f` with a body it can prepend fused temporaries to; `tempsFirst` keeps `let acc` first. */
  const withBody = (f: (body: Stmt[]) => Stmt[], tempsAfterFirst = false): Stmt[] => {
    const body: Stmt[] = [];
    const tail = f(body);
    if (!tempsAfterFirst) return [...body, ...tail];
    // The epilogue's temporaries go after the accumulation loop, before the final store.
    return [...tail.slice(0, -1), ...body, tail[tail.length - 1]!];
  };
  const storedCopyError = (x: Node): never => {
    throw new Error(`internal: matmul operand ${x.op}#${x.id} has no strided storage`);
  };

  // ---- functions -----------------------------------------------------------------------
  const run = (nodes: readonly Node[], fn: Fn): Stmt[] => {
    currentFn = fn;
    const out: Stmt[] = [];
    for (const n of nodes) {
      const np = plan.nodes.get(n.id)!;
      if (np.fn !== fn || np.fusedInto !== undefined || np.mode === "leaf" || np.mode === "const" || np.mode === "view") continue;
      out.push({ k: "comment", text: describe(n) });
      if (np.mode === "loop") {
        baseName(n);
        local = names.scope();
        try {
          out.push(...kernel(n));
        } finally {
          local = undefined;
        }
        continue;
      }
      const def = opDef(n.op);
      let t = 0;
      const ctx = {
        temp: (e: SExpr) => {
          const name = fresh(`${baseName(n)}_t${t++}`);
          out.push({ k: "const", name, e });
          definedIn.set(name, fn);
          return S.ref(name);
        },
      };
      const es = def.lower!(n.inputs.map(elemsOf), n, ctx);
      const refs = es.map((e, i) => {
        const name = elemName(n, i);
        out.push({ k: "const", name, e });
        definedIn.set(name, fn);
        return S.ref(name);
      });
      elems.set(n.id, refs);
      if (np.store) {
        const dest = destOf(n);
        refs.forEach((r, i) => {
          out.push({ k: "set", target: S.idx(dest.arr, dest.base + i), op: "=", e: r });
          if (dest.arr === "arena") loadable.set((r as { name: string }).name, S.idx("arena", dest.base + i));
        });
      }
    }
    return out;
  };

  /** Copies `x` into a slot unless the plan already computed it there. */
  const copyTo = (x: Node, arr: Buffer, offset: number): Stmt[] => {
    const src = plan.source(x);
    const st = plan.nodes.get(src.id)?.store;
    if (st && st.arr === arr && st.offset === offset && plan.sameOrder(x)) return [];
    if (size(x.shape) <= T || elems.has(x.id) || (elems.has(src.id) && !access.has(src.id)))
      return elemsOf(x).map((e, i) => ({ k: "set", target: S.idx(arr, offset + i), op: "=", e }) as Stmt);
    const flat = flatReads({ ...x, inputs: [x] } as Node, x.shape);
    return loops(x.shape, flat, (vars, fi) => {
      const body: Stmt[] = [];
      body.push({ k: "set", target: S.idx(arr, S.iadd(S.num(offset), fi)), op: "=", e: read(x, x.shape, vars, flat ? fi : undefined, body, new Map()) });
      return body;
    });
  };

  const fwd = run(plan.forward, "forward");
  const outCopies = p.outputs.flatMap((o, i) => copyTo(o.node, "arena", outputs[i]!.offset));
  if (outCopies.length) fwd.push({ k: "comment", text: "outputs" }, ...outCopies);
  // The loss goes to an arena slot, not a return value: returning a double boxes it (one allocation per call).
  if (p.loss) fwd.push({ k: "set", target: S.idx("arena", lossOffset), op: "=", e: elemsOf(p.loss)[0]! });

  const bwd = run(plan.backward, "backward");
  const gradCopies = p.grads.flatMap((g, i) => copyTo(g.node, "grads", params.slots[i]!.offset));
  if (gradCopies.length) bwd.push({ k: "comment", text: "gradients" }, ...gradCopies);

  const finish = (stmts: Stmt[], fn: Fn): Stmt[] => {
    const body = dropUnused(stmts);
    const used = new Set<string>();
    walk(body, (e) => S.refs(e, used));
    // Leaves and values saved by forward are loaded once at the top, under their own names.
    const loads: Stmt[] = [...used]
      .filter((nm) => loadable.has(nm) && definedIn.get(nm) !== fn)
      .sort((x, y) => loadOrder(loadable.get(x)!) - loadOrder(loadable.get(y)!))
      .map((nm) => ({ k: "const", name: nm, e: loadable.get(nm)! }));
    return [...loads, ...body];
  };
  /** Like finish, for statements of both functions: only what neither defines is loaded. */
  const finishStep = (stmts: Stmt[]): Stmt[] => {
    const body = dropUnused(stmts);
    const used = new Set<string>();
    walk(body, (e) => S.refs(e, used));
    const loads: Stmt[] = [...used]
      .filter((nm) => loadable.has(nm) && !definedIn.has(nm))
      .sort((x, y) => loadOrder(loadable.get(x)!) - loadOrder(loadable.get(y)!))
      .map((nm) => ({ k: "const", name: nm, e: loadable.get(nm)! }));
    return [...loads, ...body];
  };
  const forward = finish(fwd, "forward");
  const backward = p.loss ? finish(bwd, "backward") : [];
  // A fully unrolled model also gets `step`: forward then backward in one function, so the
  // forward values the backward pass reads stay in locals instead of a round trip through the arena.
  const unrolled = [...plan.nodes.values()].every((np) => np.mode !== "loop");
  // There, nothing needs the values saved for backward in the arena: only outputs and the loss are stored.
  const outEnd = outputs.reduce((e, o) => Math.max(e, o.offset + o.size), 0);
  const keep = (st: Stmt) =>
    !(st.k === "set" && st.target.k === "idx" && st.target.arr === "arena" && typeof st.target.i === "number" && st.target.i >= outEnd && st.target.i !== lossOffset);
  const step = p.loss && unrolled ? finishStep([...fwd, ...bwd].filter(keep)) : undefined;
  const helpers = new Set<string>();
  walk([...forward, ...backward], (e) => collectCalls(e, helpers));

  return {
    layout: {
      name: m.name,
      source: m.source,
      params: params.slots,
      paramSize: params.total,
      inputs: inputs.slots,
      inputSize: inputs.total,
      outputs,
      arenaSize: scratch ? scratchAt + scratch : plan.arenaSize + (p.loss ? 1 : 0),
      ...(kernels.length
        ? { memory: { ...region, pages: Math.ceil((region.arena! + (scratchAt + scratch) * 4) / 65536) } as Layout["memory"] }
        : {}),
      ...(p.loss ? { lossOffset } : {}),
      ...(m.batch !== undefined ? { batch: m.batch } : {}),
      hasLoss: p.loss !== undefined,
    },
    forward,
    backward,
    ...(step ? { step } : {}),
    helpers: [...helpers].sort(),
    kernels,
    naiveArenaSize: plan.naiveSize,
  };
}

/** A node seen as one element of itself: for applying an elementwise op's template inside a loop. */
function scalarNode(n: Node): Node {
  return { ...n, shape: [], inputs: n.inputs.map((i) => ({ ...i, shape: [] })) };
}

/** Saved arena values first, then params, then inputs — each in memory order. */
function loadOrder(e: SExpr): number {
  if (e.k !== "idx" || typeof e.i !== "number") return 0;
  const rank: Record<string, number> = { arena: 0, params: 1, inputs: 2, grads: 3 };
  return (rank[e.arr] ?? 4) * 1e9 + e.i;
}

/** Visits every expression in a statement tree. */
export function walk(stmts: readonly Stmt[], f: (e: SExpr) => void): void {
  for (const s of stmts) {
    if (s.k === "comment" || s.k === "call") continue;
    if (s.k === "for") {
      f(s.n);
      if (s.from) f(s.from);
      walk(s.body, f);
      continue;
    }
    if (s.k === "set") f(s.target);
    f(s.e);
  }
}

/** Removes `const`s nobody reads (every statement is pure), and comments left heading nothing. */
function dropUnused(stmts: readonly Stmt[]): Stmt[] {
  let cur = [...stmts];
  for (;;) {
    const used = new Set<string>();
    walk(cur, (e) => S.refs(e, used));
    const next = cur.filter((s) => s.k !== "const" || used.has(s.name));
    if (next.length === cur.length) break;
    cur = next;
  }
  return cur.filter((s, i) => s.k !== "comment" || (cur[i + 1] !== undefined && cur[i + 1]!.k !== "comment"));
}

function collectCalls(e: SExpr, out: Set<string>): void {
  switch (e.k) {
    case "call":
      if (!e.fn.startsWith("Math.")) out.add(e.fn);
      e.args.forEach((a) => collectCalls(a, out));
      break;
    case "un":
      collectCalls(e.x, out);
      break;
    case "bin":
      collectCalls(e.a, out);
      collectCalls(e.b, out);
      break;
    case "cond":
      [e.c, e.a, e.b].forEach((a) => collectCalls(a, out));
      break;
  }
}
