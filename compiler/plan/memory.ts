/**
 * The memory plan: how each scheduled node is computed (unrolled to scalars
 * or as a loop kernel), which elementwise nodes are fused into the kernel
 * that consumes them, and where every stored value lives — one arena, with
 * offsets assigned by liveness so values whose lifetimes do not overlap share
 * space, and in-place reuse for elementwise kernels.
 */
import type { Node } from "../ir/graph.ts";
import { opDef } from "../ir/ops.ts";
import { normAxes, size, strides } from "../ir/shape.ts";
import type { Schedule } from "./schedule.ts";
import { chooseTarget, convGeometry, convOnWasm, convScratchFloats, matmulOnWasm, sumOnWasm, type Target } from "./target.ts";
import { viewStrides } from "./views.ts";

export type Mode = "leaf" | "const" | "view" | "unroll" | "loop";
export type Fn = "forward" | "backward";

export interface NodePlan {
  readonly mode: Mode;
  readonly fn: Fn;
  /** Position in forward-then-backward order. */
  readonly pos: number;
  /** The consumer whose kernel computes this node inline (never stored). */
  fusedInto?: number;
  /** Where the value is stored, if it is. */
  store?: { readonly arr: "arena" | "grads"; readonly offset: number };
  /** Loop matmuls: the kernel's target and its arena scratch. */
  matmul?: MatmulPlan;
  /** Loop conv and pool nodes: the kernel's target and its arena scratch. */
  conv?: ConvPlan;
  /** Loop sums: a wasm reduction (compiler/emit/wasm-sum.ts) instead of JS loops. */
  sum?: { readonly wasm: boolean };
}

/** How a loop conv or pool node runs: JS loops (compiler/lower/conv.ts) or a wasm kernel (compiler/lower/wasm-conv.ts). */
export interface ConvPlan {
  readonly wasm: boolean;
  /** wasm: the kernel's scratch (a padded copy of its input), an absolute 16-byte aligned arena offset, `scratchFloats` long. */
  readonly scratch?: number;
  readonly scratchFloats?: number;
}

/**
 * How a loop matmul C = A·B runs. Operands with no strided form (a reshape of
 * a transposed or unstored value) are first copied row-major to arena scratch;
 * a wasm kernel also needs B row-major, or transposed with A row-major along
 * a K that is a multiple of 4 (the A·Bᵀ dot-product kernel), else B is copied.
 * Scratch offsets are absolute arena offsets, 16-byte aligned; every matmul's
 * scratch starts at `Plan.scratchOffset` (kernels run one at a time).
 */
export interface MatmulPlan {
  readonly wasm: boolean;
  readonly aCopy?: number;
  readonly bCopy?: number;
  /** wasm: B read as stored by the A·Bᵀ kernel. */
  readonly bT?: boolean;
  /** wasm: where B is copied row-major for the kernel. */
  readonly bRowMajor?: number;
}

export interface Plan extends Schedule {
  readonly nodes: ReadonlyMap<number, NodePlan>;
  /** Outputs occupy the start of the arena, in order. */
  readonly outputOffsets: readonly number[];
  readonly arenaSize: number;
  /** What the arena would take with no reuse (every stored value its own slot). */
  readonly naiveSize: number;
  readonly unrollLimit: number;
  /** The code target the plan was made for (scratch depends on it). */
  readonly target: Target;
  /** The loss slot, right after the planned values. */
  readonly lossOffset: number;
  /** Matmul scratch: from this (16-byte aligned) offset, `scratchSize` floats; 0 when no kernel needs any. */
  readonly scratchOffset: number;
  readonly scratchSize: number;
  /** The whole arena: outputs, planned values, the loss slot (with a loss), scratch. */
  readonly totalArenaSize: number;
  /** Non-view source of a node (through reshape/broadcast/transpose). */
  source(n: Node): Node;
  /** Does a node hold its source's elements in the source's order (itself, or reshapes of it)? */
  sameOrder(n: Node): boolean;
}

export interface PlanOptions {
  /** Nodes whose work (elements × reduction length) is at most this are unrolled to scalars. */
  unrollLimit?: number;
  /** JS or wasm (compiler/plan/target.ts); float32 with wasm by default. */
  target?: Target;
}

export const DEFAULT_UNROLL_LIMIT = 16;

/** Elements touched to compute a node: what decides unrolled vs loop. */
export function work(n: Node): number {
  const def = opDef(n.op);
  if (def.work) return def.work(n);
  if (def.kind === "reduce" || def.kind === "rowwise") return size(n.inputs[0]!.shape);
  if (def.kind === "matmul") return size(n.shape) * n.inputs[0]!.shape[1]!;
  return size(n.shape);
}

const isView = (n: Node) => opDef(n.op).kind === "view";

export function planMemory(s: Schedule, opts: PlanOptions = {}): Plan {
  const T = opts.unrollLimit ?? DEFAULT_UNROLL_LIMIT;
  const p = s.program;
  const order = [...s.forward.map((n) => [n, "forward"] as const), ...s.backward.map((n) => [n, "backward"] as const)];
  const nodes = new Map<number, NodePlan>();
  order.forEach(([n, fn], pos) => {
    const def = opDef(n.op);
    const mode: Mode =
      n.op === "const" ? "const" : def.kind === "leaf" ? "leaf" : def.kind === "view" ? "view" : work(n) <= T ? "unroll" : "loop";
    if (!nodes.has(n.id)) nodes.set(n.id, { mode, fn, pos });
  });
  const source = (n: Node): Node => {
    while (isView(n)) n = n.inputs[0]!;
    return n;
  };
  /** Does `n` hold its source's elements in the source's order (itself, or reshapes of it)? */
  const sameOrder = (n: Node): boolean => {
    while (n.op === "reshape") n = n.inputs[0]!;
    return !isView(n);
  };
  const byId = new Map(order.map(([n]) => [n.id, n]));

  // Who reads each (non-view) value; views are looked through.
  const users = new Map<number, Node[]>();
  for (const [n] of order) {
    if (isView(n) || opDef(n.op).kind === "leaf") continue;
    for (const i of n.inputs) {
      const src = source(i);
      (users.get(src.id) ?? users.set(src.id, []).get(src.id)!).push(n);
    }
  }
  const outputRoots = new Set(p.outputs.map((o) => source(o.node).id));
  const gradRoots = new Map<number, number>(); // source id -> param index, where the gradient is that value in order
  p.grads.forEach((g, i) => {
    if (sameOrder(g.node) && !gradRoots.has(source(g.node).id)) gradRoots.set(source(g.node).id, i);
  });
  const gradSources = new Set(p.grads.map((g) => source(g.node).id));
  const rootIds = new Set([...outputRoots, ...gradSources, ...(p.loss ? [p.loss.id] : [])]);

  // Fusion, consumers first: an elementwise (or matmul, conv, pool) loop node with a single
  // same-shape elementwise (or sum) consumer in the same function is computed inside it;
  // a group holds at most one matmul or conv (its kernel computes the group: the rest is its epilogue).
  const hasMatmul = new Map<number, boolean>();
  const fusedRoot = new Map<number, number>(); // node -> root of the group it is fused into (a long chain: no walk per node)
  for (let k = order.length - 1; k >= 0; k--) {
    const [n] = order[k]!;
    const np = nodes.get(n.id)!;
    if (np.mode !== "loop" || np.pos !== k) continue;
    const kind = opDef(n.op).kind;
    const heavy = kind === "matmul" || kind === "conv";
    hasMatmul.set(n.id, (hasMatmul.get(n.id) ?? false) || heavy);
    const us = users.get(n.id) ?? [];
    if (rootIds.has(n.id) || us.length !== 1) continue;
    const c = us[0]!;
    const cp = nodes.get(c.id)!;
    const ck = opDef(c.op).kind;
    if (cp.mode !== "loop" || cp.fn !== np.fn || !c.inputs.includes(n)) continue;
    const root = fusedRoot.get(c.id) ?? c.id;
    const okShape =
      (ck === "elementwise" && size(c.shape) === size(n.shape) && c.shape.length === n.shape.length) || ck === "reduce";
    const okKind = kind === "elementwise" || (heavy && ck === "elementwise");
    if (!okShape || !okKind) continue;
    const rootIsSum = opDef(byId.get(root)!.op).kind === "reduce";
    if ((heavy || hasMatmul.get(n.id)) && (hasMatmul.get(root) || rootIsSum)) continue;
    np.fusedInto = c.id;
    fusedRoot.set(n.id, root);
    if (hasMatmul.get(n.id)) {
      // The whole chain up to the group's root now contains a matmul.
      for (let r: number | undefined = c.id; r !== undefined; r = nodes.get(r)!.fusedInto) hasMatmul.set(r, true);
    }
  }

  /** Everything the kernel rooted at `root` reads: inputs of the root and of the nodes fused into it (depth-first, iteratively). */
  const groupInputs = (root: Node): Node[] => {
    const out: Node[] = [];
    const todo: [Node, Node][] = root.inputs.map((x) => [x, root] as [Node, Node]).reverse();
    while (todo.length) {
      const [x, parent] = todo.pop()!;
      if (nodes.get(x.id)?.fusedInto === parent.id) for (let i = x.inputs.length - 1; i >= 0; i--) todo.push([x.inputs[i]!, x]);
      else out.push(x);
    }
    return out;
  };
  // The kernel each node is computed in, once fusion is decided (consumers come later in `order`).
  const rootOf = new Map<number, number>();
  for (let k = order.length - 1; k >= 0; k--) {
    const id = order[k]![0].id;
    if (rootOf.has(id)) continue;
    const f = nodes.get(id)!.fusedInto;
    rootOf.set(id, f === undefined ? id : (rootOf.get(f) ?? groupRoot(nodes, f)));
  }

  // Storage: which values must be in memory.
  const stored: Node[] = [];
  for (const [k, [n, fn]] of order.entries()) {
    const np = nodes.get(n.id)!;
    if (np.pos !== k || np.fusedInto !== undefined) continue;
    if (np.mode === "loop") {
      stored.push(n);
      continue;
    }
    if (np.mode !== "unroll") continue;
    const us = users.get(n.id) ?? [];
    // Read by a loop kernel: stored (a matmul needs strided storage even for a one-element operand).
    const readByLoop = us.some((u) => nodes.get(u.id)!.mode === "loop" && (size(n.shape) > 1 || u.op === "matmul"));
    // Read by the other function — as an input, or as a gradient copied out at the end of backward.
    const crossesFn = us.some((u) => nodes.get(u.id)!.fn !== fn) || (fn === "forward" && gradSources.has(n.id));
    if (readByLoop || crossesFn || outputRoots.has(n.id)) stored.push(n);
  }

  // Fixed slots: outputs at the start of the arena, gradients straight into `grads`.
  const outputOffsets: number[] = [];
  let top = 0;
  for (const o of p.outputs) {
    outputOffsets.push(top);
    top += size(o.node.shape);
  }
  const fixedArena = new Map<number, number>();
  p.outputs.forEach((o, i) => {
    const src = source(o.node);
    if (!fixedArena.has(src.id) && sameOrder(o.node) && nodes.get(src.id)?.mode !== "leaf" && src.op !== "const")
      fixedArena.set(src.id, outputOffsets[i]!);
  });
  const paramOffsets: number[] = [];
  p.grads.reduce((off, g) => (paramOffsets.push(off), off + size(g.param.shape)), 0);
  const pos = (n: Node) => nodes.get(rootOf.get(n.id) ?? groupRoot(nodes, n.id))!.pos;
  // With wasm kernels every planned value starts 16-byte aligned (its slot a whole number of f32x4 vectors): a
  // kernel's vector loads and stores at a 4-byte offset split a cache line every fourth access.
  // (Asked before the kernels' targets are final: a module that may run a wasm matmul or conv.)
  const target = opts.target ?? chooseTarget();
  const mayRunWasm = order.some(([n], k) => {
    const np = nodes.get(n.id)!;
    if (np.mode !== "loop" || np.pos !== k) return false;
    if (n.op === "matmul") return matmulOnWasm(target, n.inputs[0]!.shape[0]!, n.inputs[1]!.shape[1]!, n.inputs[0]!.shape[1]!, false);
    return target.wasm && opDef(n.op).kind === "conv";
  });
  const slot = (n: Node) => (mayRunWasm ? Math.ceil(size(n.shape) / 4) * 4 : size(n.shape));
  if (mayRunWasm) top = Math.ceil(top / 4) * 4;
  const naiveSize = top + stored.reduce((a, n) => a + size(n.shape), 0);

  // Liveness: a value lives from its kernel to its last reader's kernel.
  const end = new Map<number, number>();
  for (const n of stored) end.set(n.id, (users.get(n.id) ?? []).reduce((e, u) => Math.max(e, pos(u)), pos(n)));
  // Outputs are copied out after the last forward kernel, gradients after the last backward one.
  const copyOut = (x: Node, at: number) => {
    const src = source(x);
    if (end.has(src.id)) end.set(src.id, Math.max(end.get(src.id)!, at));
  };
  for (const o of p.outputs) copyOut(o.node, s.forward.length);
  for (const g of p.grads) copyOut(g.node, order.length);
  if (p.loss) copyOut(p.loss, s.forward.length);

  const free: { off: number; size: number }[] = [];
  // Live values: a min-heap by end (for release) and, per end, in allocation order (for the in-place search).
  type Live = { n: Node; off: number; end: number; gone?: boolean };
  const heap: Live[] = [];
  const endingAt = new Map<number, Live[]>();
  const release = (t: number) => {
    let freed = false;
    while (heap.length && heap[0]!.end < t) {
      const l = heapPop(heap);
      if (l.gone) continue;
      l.gone = true;
      freed = true;
      free.push({ off: l.off, size: slot(l.n) });
    }
    if (!freed) return;
    free.sort((a, b) => a.off - b.off);
    for (let i = free.length - 2; i >= 0; i--)
      if (free[i]!.off + free[i]!.size === free[i + 1]!.off) {
        free[i]!.size += free[i + 1]!.size;
        free.splice(i + 1, 1);
      }
  };
  for (const n of stored.sort((a, b) => pos(a) - pos(b))) {
    const np = nodes.get(n.id)!;
    const fixed = fixedArena.get(n.id);
    if (fixed !== undefined) {
      np.store = { arr: "arena", offset: fixed };
      continue;
    }
    const g = gradRoots.get(n.id);
    if (g !== undefined && np.fn === "backward" && (users.get(n.id) ?? []).length === 0) {
      np.store = { arr: "grads", offset: paramOffsets[g]! };
      continue;
    }
    const t = pos(n);
    release(t);
    const sz = slot(n);
    // In place: a pure elementwise kernel may overwrite an input read at the same index that dies here.
    const reads = groupInputs(n);
    const inPlace =
      np.mode === "loop" && opDef(n.op).kind === "elementwise" && !hasMatmul.get(n.id)
        ? endingAt.get(t)?.find(
            (l) =>
              !l.gone &&
              size(l.n.shape) === size(n.shape) &&
              // every read of that buffer in the kernel must be at the kernel's own index (not transposed, not broadcast)
              reads.some((i) => source(i) === l.n) &&
              reads.every((i) => source(i) !== l.n || sameIndex(i, l.n, n)),
          )
        : undefined;
    let off: number;
    if (inPlace) {
      off = inPlace.off;
      inPlace.gone = true;
    } else {
      const slot = free.find((f) => f.size >= sz);
      if (slot) {
        off = slot.off;
        slot.off += sz;
        slot.size -= sz;
        if (slot.size === 0) free.splice(free.indexOf(slot), 1);
      } else {
        off = top;
        top += sz;
      }
    }
    np.store = { arr: "arena", offset: off };
    const l: Live = { n, off, end: end.get(n.id)! };
    heapPush(heap, l);
    (endingAt.get(l.end) ?? endingAt.set(l.end, []).get(l.end)!).push(l);
  }

  // Matmul scratch, after the loss slot: shared by all kernels, as large as the largest needs.
  const lossOffset = top;
  const scratchOffset = Math.ceil((lossOffset + 1) / 4) * 4; // 16-byte aligned for SIMD loads
  let scratchSize = 0;
  const storageStrides = (src: Node): readonly number[] | undefined =>
    src.op === "batchMask" ? [1] : src.op === "param" || src.op === "input" || nodes.get(src.id)!.store ? strides(src.shape) : undefined;
  const stridesOf = (x: Node): readonly number[] | undefined => {
    const src = source(x);
    const st = storageStrides(src);
    return st && viewStrides(x, src, st);
  };
  for (const [k, [n]] of order.entries()) {
    const np = nodes.get(n.id)!;
    if (n.op !== "matmul" || np.mode !== "loop" || np.pos !== k) continue;
    const [A, B] = n.inputs as [Node, Node];
    const [M, K] = A.shape as [number, number];
    const N = B.shape[1]!;
    let used = 0;
    const copy = () => scratchOffset + used;
    let aSt = stridesOf(A);
    let bSt = stridesOf(B);
    const mp: { -readonly [K in keyof MatmulPlan]: MatmulPlan[K] } = {
      wasm: matmulOnWasm(target, M, N, K, source(A).op === "batchMask" || source(B).op === "batchMask"),
    };
    if (!aSt) {
      mp.aCopy = copy();
      used += Math.ceil(size(A.shape) / 4) * 4;
      aSt = [K, 1];
    }
    if (!bSt) {
      mp.bCopy = copy();
      used += Math.ceil(size(B.shape) / 4) * 4;
      bSt = [N, 1];
    }
    if (mp.wasm) {
      if (bSt[0] === 1 && bSt[1] === K && aSt[1] === 1 && K % 4 === 0 && K >= 8) mp.bT = true;
      else if (bSt[1] !== 1 || bSt[0] !== N) {
        mp.bRowMajor = copy();
        used += K * N;
      }
    }
    scratchSize = Math.max(scratchSize, used);
    np.matmul = mp;
  }
  // Conv and pool kernels: JS or wasm (inputs stored contiguously), and a wasm kernel's scratch, from the same offset.
  for (const [k, [n]] of order.entries()) {
    const np = nodes.get(n.id)!;
    if (opDef(n.op).kind !== "conv" || np.mode !== "loop" || np.pos !== k) continue;
    const contiguous = n.inputs.every((x) => {
      const st = source(x).op === "batchMask" ? undefined : stridesOf(x);
      const want = strides(x.shape);
      return st !== undefined && st.every((v, i) => v === want[i] || x.shape[i] === 1);
    });
    const wasm = convOnWasm(target, n, contiguous);
    const floats = wasm ? Math.ceil(convScratchFloats(convGeometry(n)) / 4) * 4 : 0;
    scratchSize = Math.max(scratchSize, floats);
    np.conv = { wasm, ...(floats ? { scratch: scratchOffset, scratchFloats: floats } : {}) };
  }
  // Sums over a stored, contiguous value: a wasm reduction when the module runs wasm kernels anyway.
  const moduleOnWasm = [...nodes.values()].some((np) => np.matmul?.wasm || np.conv?.wasm);
  for (const [k, [n]] of order.entries()) {
    const np = nodes.get(n.id)!;
    if (n.op !== "sum" || np.mode !== "loop" || np.pos !== k || !np.store) continue;
    const x = n.inputs[0]!;
    const st = source(x).op === "batchMask" || nodes.get(source(x).id)?.fusedInto !== undefined ? undefined : stridesOf(x);
    const want = strides(x.shape);
    const contiguous = st !== undefined && st.every((v, i) => v === want[i] || x.shape[i] === 1);
    np.sum = { wasm: sumOnWasm(target, x.shape, normAxes(n.attrs.axes as number[], x.shape.length)!, contiguous, moduleOnWasm) };
  }
  const totalArenaSize = scratchSize ? scratchOffset + scratchSize : top + (p.loss ? 1 : 0);
  return {
    ...s, nodes, outputOffsets, arenaSize: top, naiveSize, unrollLimit: T, target,
    lossOffset, scratchOffset, scratchSize, totalArenaSize, source, sameOrder,
  };
}

/** Binary min-heap on `end`. */
function heapPush<T extends { end: number }>(h: T[], x: T): void {
  h.push(x);
  for (let i = h.length - 1; i > 0; ) {
    const p = (i - 1) >> 1;
    if (h[p]!.end <= h[i]!.end) break;
    [h[p], h[i]] = [h[i]!, h[p]!];
    i = p;
  }
}
function heapPop<T extends { end: number }>(h: T[]): T {
  const top = h[0]!;
  const last = h.pop()!;
  if (h.length) {
    h[0] = last;
    for (let i = 0; ; ) {
      const [l, r] = [2 * i + 1, 2 * i + 2];
      let m = i;
      if (l < h.length && h[l]!.end < h[m]!.end) m = l;
      if (r < h.length && h[r]!.end < h[m]!.end) m = r;
      if (m === i) break;
      [h[m], h[i]] = [h[i]!, h[m]!];
      i = m;
    }
  }
  return top;
}

/** The id of the kernel a node is computed in: its own, or that of the root of its fusion chain. */
export function groupRoot(nodes: ReadonlyMap<number, NodePlan>, id: number): number {
  for (let f = nodes.get(id)?.fusedInto; f !== undefined; f = nodes.get(id)?.fusedInto) id = f;
  return id;
}

/** Does `consumer` read `input` (possibly through a reshape of `src`) at its own flat index? */
function sameIndex(input: Node, src: Node, consumer: Node): boolean {
  let x = input;
  while (x.op === "reshape") x = x.inputs[0]!;
  return x === src && size(input.shape) === size(consumer.shape) && input.shape.length === consumer.shape.length;
}
