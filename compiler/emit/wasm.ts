/**
 * WebAssembly SIMD matmul kernels, built with our own encoder
 * (wasm-encoder.ts, binaryen's builder API) and embedded as bytes in the
 * generated module.
 *
 * One kernel per large matmul, specialized to its shapes and addresses:
 * C[i, j] = Σ_p A[i, p] B[p, j] for rows 0..M4 (a multiple of 4), with B
 * row-major and C row-major; A is read by scalar loads at any strides, so the
 * same kernel serves x·W (forward) and Xᵀ·dY (dW). Register blocking is what
 * makes it fast: a 4×8 tile of C lives in eight f32x4 accumulators while the
 * p loop streams two vectors of B's row p and splats four scalars of A's
 * column p — 8 multiply-adds per 2 vector loads. Tiles no larger than 4×8:
 * V8 keeps about 15 vector registers, and larger tiles spill. Constant row
 * offsets are folded into the loads' offset immediates. Columns past the last
 * multiple of 8 get a scalar tail loop.
 */
import * as binaryen from "./wasm-encoder.ts"; // binaryen's builder API, on our own encoder
import type { Epi, MatmulKernel, WasmKernel } from "../lower/kernel.ts";
import { addOptimizers, type OptimizerRegions } from "./optimizers.ts";
import { addConvKernel, addPoolKernel, type ConvTiles, type EpiAt } from "./wasm-conv.ts";
import { wasmHelpers } from "./wasm-helpers.ts";
import { addSumKernel } from "./wasm-sum.ts";

export type { Epi, MatmulKernel };

/**
 * The epilogue as wasm, for four lanes (vector: columns colOff..colOff+3 of
 * the tile) or one (scalar). `acc` is the local holding the accumulated value,
 * I and J the locals of the tile's first row and column, r the row in the tile;
 * `held`, when given, names a local already holding a load's value (a pool
 * gradient's cell of x) — that load is then not repeated.
 */
function epiExpr(m: binaryen.Module, e: Epi, o: EpiAt): number {
  const { i32, v128, f32 } = binaryen;
  const go = (x: Epi) => epiExpr(m, x, o);
  const V = o.vector;
  const F = V ? m.f32x4 : m.f32;
  switch (e.k) {
    case "acc":
      return m.local.get(o.acc, V ? v128 : f32);
    case "num":
      return V ? m.f32x4.splat(m.f32.const(e.v)) : m.f32.const(e.v);
    case "load": {
      const held = o.held?.(e);
      if (held !== undefined) return m.local.get(held, V ? v128 : f32);
      const row = e.rowBytes ? m.i32.mul(m.local.get(o.I, i32), m.i32.const(e.rowBytes)) : null;
      const col = e.col ? m.i32.shl(m.local.get(o.J, i32), m.i32.const(2)) : null;
      const ptr = row !== null && col !== null ? m.i32.add(row, col) : (row ?? col ?? m.i32.const(0));
      const offset = e.at + o.r * e.rowBytes + (e.col ? o.colOff * 4 : 0);
      if (V && e.col) return m.v128.load(offset, 4, ptr);
      const x = m.f32.load(offset, 4, ptr);
      return V ? m.f32x4.splat(x) : x;
    }
    case "neg":
      return F.neg(go(e.x));
    case "abs":
      return F.abs(go(e.x));
    case "sqrt":
      return F.sqrt(go(e.x));
    case "+":
      return F.add(go(e.a), go(e.b));
    case "-":
      return F.sub(go(e.a), go(e.b));
    case "*":
      return F.mul(go(e.a), go(e.b));
    case "/":
      return F.div(go(e.a), go(e.b));
    case "max":
      return F.max(go(e.a), go(e.b));
    case "min":
      return F.min(go(e.a), go(e.b));
    case "sel": {
      const cmp = { ">": F.gt, ">=": F.ge, "<": F.lt, "<=": F.le }[e.c.op];
      const c = cmp(go(e.c.a), go(e.c.b));
      // c ? a : 0 is a & c (the mask all ones or all zeros): one instruction where bitselect takes three
      if (V && e.b.k === "num" && Object.is(e.b.v, 0)) return m.v128.and(go(e.a), c);
      return V ? m.v128.bitselect(go(e.a), go(e.b), c) : m.select(c, go(e.a), go(e.b));
    }
  }
}

const ZERO = Array.from({ length: 16 }, () => 0);

function addKernel(m: binaryen.Module, k: MatmulKernel): void {
  if (k.bT) return addKernelBT(m, k);
  const { i32, v128, f32 } = binaryen;
  const { M4, N, K, aBase, sa0, sa1, bBase, cBase } = k;
  const N8 = N - (N % 8);
  // locals: i j p pa pb pc | 8 accumulators | av b0 b1 | f (scalar tail)
  const I = 0, J = 1, P = 2, PA = 3, PB = 4, PC = 5, ACC = 6, AV = 14, B0 = 15, B1 = 16, F = 17;
  const { get, set, c, add, mul, ltU } = wasmHelpers(m);

  // p loop of a tile: two vectors of B's row p, four splatted scalars of A's column p.
  const tileP: number[] = [set(B0, m.v128.load(0, 16, get(PB))), set(B1, m.v128.load(16, 16, get(PB)))];
  // A's four values: load32_splat (one load that fills the four lanes) — V8 emits a broadcast load for it, where
  // f32.load + f32x4.splat took a load and a shuffle (x·W kernels 25-35% faster; for Xᵀ·dY it also beat one vector
  // load + four lane shuffles).
  for (let r = 0; r < 4; r++) {
    tileP.push(set(AV, m.v128.load32_splat(r * sa0 * 4, 4, get(PA))));
    for (let h = 0; h < 2; h++) {
      const a = ACC + r * 2 + h;
      tileP.push(set(a, m.f32x4.add(get(a, v128), m.f32x4.mul(get(AV, v128), get(h ? B1 : B0, v128)))));
    }
  }
  tileP.push(
    set(PA, add(get(PA), c(sa1 * 4))),
    set(PB, add(get(PB), c(N * 4))),
    set(P, add(get(P), c(1))),
    m.br("p", ltU(get(P), c(K))),
  );
  const tile: number[] = [
    ...Array.from({ length: 8 }, (_, a) => set(ACC + a, m.v128.const(ZERO))),
    set(P, c(0)),
    set(PA, add(c(aBase), mul(get(I), c(sa0 * 4)))),
    set(PB, add(c(bBase), m.i32.shl(get(J), c(2)))),
    m.loop("p", m.block(null, tileP)),
    set(PC, add(c(cBase), m.i32.shl(add(mul(get(I), c(N)), get(J)), c(2)))),
  ];
  const epi = (acc: number, r: number, colOff: number, vector: boolean) =>
    k.epilogue ? epiExpr(m, k.epilogue, { vector, acc, I, J, r, colOff }) : get(acc, vector ? v128 : f32);
  for (let r = 0; r < 4; r++)
    for (let h = 0; h < 2; h++) tile.push(m.v128.store(r * N * 4 + h * 16, 16, get(PC), epi(ACC + r * 2 + h, r, h * 4, true)));
  tile.push(set(J, add(get(J), c(8))), m.br("j", ltU(get(J), c(N8))));

  const rowBlock: number[] = [];
  if (N8 > 0) rowBlock.push(set(J, c(0)), m.loop("j", m.block(null, tile)));
  if (N8 < N) {
    // scalar tail: columns N8..N of the four rows
    const tail: number[] = [];
    for (let r = 0; r < 4; r++) {
      const aAt = add(c(aBase), m.i32.shl(add(mul(add(get(I), c(r)), c(sa0)), mul(get(P), c(sa1))), c(2)));
      const bAt = add(c(bBase), m.i32.shl(add(mul(get(P), c(N)), get(J)), c(2)));
      tail.push(
        set(F, m.f32.const(0)),
        set(P, c(0)),
        m.loop(`t${r}`, m.block(null, [
          set(F, m.f32.add(get(F, f32), m.f32.mul(m.f32.load(0, 4, aAt), m.f32.load(0, 4, bAt)))),
          set(P, add(get(P), c(1))),
          m.br(`t${r}`, ltU(get(P), c(K))),
        ])),
        m.f32.store(0, 4, add(c(cBase), m.i32.shl(add(mul(add(get(I), c(r)), c(N)), get(J)), c(2))), epi(F, r, 0, false)),
      );
    }
    rowBlock.push(set(J, c(N8)), m.loop("tj", m.block(null, [...tail, set(J, add(get(J), c(1))), m.br("tj", ltU(get(J), c(N)))])));
  }
  rowBlock.push(set(I, add(get(I), c(4))), m.br("i", ltU(get(I), c(M4))));
  const vars = [i32, i32, i32, i32, i32, i32, ...Array<number>(8).fill(v128), v128, v128, v128, f32];
  m.addFunction(k.name, binaryen.none, binaryen.none, vars, m.block(null, [set(I, c(0)), m.loop("i", m.block(null, rowBlock))]));
  m.addFunctionExport(k.name, k.name);
}

/**
 * C = A·Bᵀ with both operands contiguous along p, as dot products: a 4×2 tile
 * of C is eight f32x4 accumulators of partial sums over p (lanes p mod 4),
 * fed by one vector of each of the two B rows and of the four A rows per step
 * of four p — the same 8 multiply-adds per 6 loads as the row-major kernel,
 * with no transposed copy of B. Each accumulator's four lanes are summed once
 * per tile; an odd last column gets a 4×1 tile.
 */
function addKernelBT(m: binaryen.Module, k: MatmulKernel): void {
  const { i32, v128, f32 } = binaryen;
  const { M4, N, K, aBase, sa0, sa1, bBase, cBase } = k;
  if (sa1 !== 1 || K % 4 !== 0) throw new Error("internal: the A·Bᵀ kernel needs A contiguous along p and K a multiple of 4");
  const I = 0, J = 1, PA = 2, PB = 3, END = 4, PC = 5, ACC = 6, AV = 14, B0 = 15, B1 = 16, F = 17;
  const { get, set, c, add, mul, ltU } = wasmHelpers(m);
  const lanes = (v: number) =>
    m.f32.add(
      m.f32.add(m.f32x4.extract_lane(get(v, v128), 0), m.f32x4.extract_lane(get(v, v128), 1)),
      m.f32.add(m.f32x4.extract_lane(get(v, v128), 2), m.f32x4.extract_lane(get(v, v128), 3)),
    );
  /** The tile of four rows and `cols` (1 or 2) columns at column J; the loop label is unique per tile kind. */
  const tile = (cols: number, label: string): number[] => {
    const step: number[] = [];
    for (let h = 0; h < cols; h++) step.push(set(B0 + h, m.v128.load(h * K * 4, 16, get(PB))));
    for (let r = 0; r < 4; r++) {
      step.push(set(AV, m.v128.load(r * sa0 * 4, 16, get(PA))));
      for (let h = 0; h < cols; h++) {
        const a = ACC + r * 2 + h;
        step.push(set(a, m.f32x4.add(get(a, v128), m.f32x4.mul(get(AV, v128), get(B0 + h, v128)))));
      }
    }
    step.push(set(PA, add(get(PA), c(16))), set(PB, add(get(PB), c(16))), m.br(label, ltU(get(PB), get(END))));
    const out: number[] = [];
    for (let r = 0; r < 4; r++) for (let h = 0; h < cols; h++) out.push(set(ACC + r * 2 + h, m.v128.const(ZERO)));
    out.push(
      set(PA, add(c(aBase), mul(get(I), c(sa0 * 4)))),
      set(PB, add(c(bBase), mul(get(J), c(K * 4)))),
      set(END, add(get(PB), c(K * 4))),
      m.loop(label, m.block(null, step)),
      set(PC, add(c(cBase), m.i32.shl(add(mul(get(I), c(N)), get(J)), c(2)))),
    );
    for (let r = 0; r < 4; r++)
      for (let h = 0; h < cols; h++) {
        const sum = lanes(ACC + r * 2 + h);
        if (!k.epilogue) out.push(m.f32.store((r * N + h) * 4, 4, get(PC), sum));
        else out.push(set(F, sum), m.f32.store((r * N + h) * 4, 4, get(PC), epiExpr(m, k.epilogue, { vector: false, acc: F, I, J, r, colOff: h })));
      }
    return out;
  };
  const N2 = N - (N % 2);
  const rowBlock: number[] = [];
  if (N2 > 0) rowBlock.push(set(J, c(0)), m.loop("j", m.block(null, [...tile(2, "p"), set(J, add(get(J), c(2))), m.br("j", ltU(get(J), c(N2)))])));
  if (N2 < N) rowBlock.push(set(J, c(N2)), ...tile(1, "p1"));
  rowBlock.push(set(I, add(get(I), c(4))), m.br("i", ltU(get(I), c(M4))));
  const vars = [i32, i32, i32, i32, i32, i32, ...Array<number>(8).fill(v128), v128, v128, v128, f32];
  m.addFunction(k.name, binaryen.none, binaryen.none, vars, m.block(null, [set(I, c(0)), m.loop("i", m.block(null, rowBlock))]));
  m.addFunctionExport(k.name, k.name);
}

/** The parameter update over the params and grads regions (byte addresses, 16-byte aligned). */
export interface UpdateRegions {
  readonly params: number;
  readonly grads: number;
  /** Parameters (floats); the update runs over whole vectors, into the padding up to the next region. */
  readonly size: number;
}

/**
 * `sgd(lr)`: p -= lr g over every parameter, four lanes at a time, two
 * vectors per iteration. In JS this loop is 15-20% of a large model's step.
 * The arithmetic is float32 (lr rounded to float32, then the product), where
 * the JS loop computes lr * g in float64 and rounds once.
 */
function addSgd(m: binaryen.Module, r: UpdateRegions): void {
  const { i32, v128, f32 } = binaryen;
  const LR = 0, I = 1, RATE = 2;
  const { get, c } = wasmHelpers(m);
  const vecs = Math.ceil(r.size / 4);
  const pairs = vecs >> 1;
  const delta = r.grads - r.params;
  // p[i] = p[i] - rate * g[i] at byte offset `off` from the pointer I (which walks the params region)
  const upd = (off: number) =>
    m.v128.store(
      off, 16, get(I),
      m.f32x4.sub(m.v128.load(off, 16, get(I)), m.f32x4.mul(get(RATE, v128), m.v128.load(off + delta, 16, get(I)))),
    );
  const body: number[] = [m.local.set(RATE, m.f32x4.splat(get(LR, f32))), m.local.set(I, c(r.params))];
  // The loop's bound is a constant operand of the compare, not a local (binaryen's -O3 did this: sgd 3% faster).
  if (pairs > 0)
    body.push(m.loop("v", m.block(null, [upd(0), upd(16), m.local.set(I, m.i32.add(get(I), c(32))), m.br("v", m.i32.lt_u(get(I), c(r.params + pairs * 32)))])));
  if (vecs % 2) body.push(upd(0));
  m.addFunction("sgd", binaryen.createType([f32]), binaryen.none, [i32, v128], m.block(null, body));
  m.addFunctionExport("sgd", "sgd");
}

/**
/**
 * The module's contents into `m`: the kernels (matmuls here, convolutions and
 * pools in wasm-conv.ts), the `sgd` update, with `optimizers` the trainer's
 * update kernels (compiler/emit/optimizers.ts), and the import of
 * `env.memory` of `pages` pages. Written against binaryen's API only, so a
 * test builds the same templates with binaryen and compares
 * (test/emit/wasm-encoder.test.ts). `tiles` overrides the conv kernels'
 * register tiles (for measuring them; bench/conv-kernels.ts).
 */
export function addWasmContents(m: binaryen.Module, kernels: readonly WasmKernel[], pages: number, update: UpdateRegions, optimizers?: OptimizerRegions, tiles?: ConvTiles): void {
  if (update.params % 16 || update.grads % 16) throw new Error("internal: the update regions must be 16-byte aligned");
  m.setFeatures(binaryen.Features.MVP | binaryen.Features.SIMD128);
  m.setMemory(pages, pages, null, [], false, false, "0");
  m.addMemoryImport("0", "env", "memory");
  for (const k of kernels)
    if (k.kind === "conv") addConvKernel(m, k, epiExpr, tiles);
    else if (k.kind === "pool") addPoolKernel(m, k, epiExpr);
    else if (k.kind === "sum") addSumKernel(m, k);
    else addKernel(m, k);
  addSgd(m, update);
  if (optimizers) addOptimizers(m, optimizers);
}

/**
 * A validated wasm module (SIMD128) holding every kernel and the `sgd`
 * update (see `addWasmContents`): the templates' instructions as written, not
 * optimized further — measured as fast as binaryen's -O3 of the same code
 * (BENCHMARKS.md, "Compile time").
 */
export function buildWasm(kernels: readonly WasmKernel[], pages: number, update: UpdateRegions, optimizers?: OptimizerRegions, tiles?: ConvTiles): Uint8Array {
  const m = new binaryen.Module();
  addWasmContents(m, kernels, pages, update, optimizers, tiles);
  if (!m.validate()) throw new Error(`internal: the generated wasm kernels are invalid:\n  ${m.errors.join("\n  ")}`);
  const bytes = m.emitBinary();
  if (!WebAssembly.validate(bytes)) throw new Error("internal: WebAssembly.validate rejected the generated wasm kernels");
  return bytes;
}
