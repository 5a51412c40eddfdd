/**
 * WebAssembly SIMD matmul kernels, built and validated with binaryen (a
 * compile-time dependency only: the generated module embeds the bytes).
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
import binaryen from "binaryen";

export interface MatmulKernel {
  readonly name: string;
  /** Rows computed here (a multiple of 4); the caller does rows M4..M. */
  readonly M4: number;
  readonly N: number;
  readonly K: number;
  /** Byte addresses and A's strides (in elements). */
  readonly aBase: number;
  readonly sa0: number;
  readonly sa1: number;
  readonly bBase: number;
  readonly cBase: number;
}

const ZERO = Array.from({ length: 16 }, () => 0);

function addKernel(m: binaryen.Module, k: MatmulKernel): void {
  const { i32, v128, f32 } = binaryen;
  const { M4, N, K, aBase, sa0, sa1, bBase, cBase } = k;
  const N8 = N - (N % 8);
  // locals: i j p pa pb pc | 8 accumulators | av b0 b1 | f (scalar tail)
  const I = 0, J = 1, P = 2, PA = 3, PB = 4, PC = 5, ACC = 6, AV = 14, B0 = 15, B1 = 16, F = 17;
  const get = (l: number, t = i32) => m.local.get(l, t);
  const set = (l: number, v: number) => m.local.set(l, v);
  const c = (v: number) => m.i32.const(v);
  const add = (a: number, b: number) => m.i32.add(a, b);
  const mul = (a: number, b: number) => m.i32.mul(a, b);
  const ltU = (a: number, b: number) => m.i32.lt_u(a, b);

  // p loop of a tile: two vectors of B's row p, four splatted scalars of A's column p.
  const tileP: number[] = [set(B0, m.v128.load(0, 16, get(PB))), set(B1, m.v128.load(16, 16, get(PB)))];
  for (let r = 0; r < 4; r++) {
    tileP.push(set(AV, m.f32x4.splat(m.f32.load(r * sa0 * 4, 4, get(PA)))));
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
  for (let r = 0; r < 4; r++)
    for (let h = 0; h < 2; h++) tile.push(m.v128.store(r * N * 4 + h * 16, 16, get(PC), get(ACC + r * 2 + h, v128)));
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
        m.f32.store(0, 4, add(c(cBase), m.i32.shl(add(mul(add(get(I), c(r)), c(N)), get(J)), c(2))), get(F, f32)),
      );
    }
    rowBlock.push(set(J, c(N8)), m.loop("tj", m.block(null, [...tail, set(J, add(get(J), c(1))), m.br("tj", ltU(get(J), c(N)))])));
  }
  rowBlock.push(set(I, add(get(I), c(4))), m.br("i", ltU(get(I), c(M4))));
  const vars = [i32, i32, i32, i32, i32, i32, ...Array<number>(8).fill(v128), v128, v128, v128, f32];
  m.addFunction(k.name, binaryen.none, binaryen.none, vars, m.block(null, [set(I, c(0)), m.loop("i", m.block(null, rowBlock))]));
  m.addFunctionExport(k.name, k.name);
}

/** A validated, optimized wasm module (SIMD128) holding every kernel, importing `env.memory` of `pages` pages. */
export function buildWasm(kernels: readonly MatmulKernel[], pages: number): Uint8Array {
  const m = new binaryen.Module();
  try {
    m.setFeatures(binaryen.Features.MVP | binaryen.Features.SIMD128);
    m.setMemory(pages, pages, null, [], false, false, "0");
    m.addMemoryImport("0", "env", "memory");
    for (const k of kernels) addKernel(m, k);
    if (!m.validate()) throw new Error("internal: binaryen rejected the generated wasm kernels");
    binaryen.setOptimizeLevel(3);
    binaryen.setShrinkLevel(0);
    m.optimize();
    return m.emitBinary();
  } finally {
    m.dispose();
  }
}
