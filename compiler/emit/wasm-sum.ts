/**
 * The wasm sum kernel (`SumKernel`, compiler/lower/kernel.ts): y[b] = Σ_{a,c} x[(a·B + b)·Cc + c]
 * over a float32 input [A, B, Cc] stored contiguously — a conv's bias gradient ([N, K, OH, OW]
 * summed over all but K: A = N, B = K, Cc = OH·OW), a dense layer's ([N, M] over the rows:
 * A = N, B = M, Cc = 1).
 *
 * Rounding: each output is a float64 sum stored once as float32, like the JS loops' float64
 * accumulator, except that runs of up to 1,024 contiguous terms are first summed in four f32x4
 * accumulators (sixteen float32 partial sums of at most 64 terms each, then promoted): the JS
 * loops spent ~1 ns a term (LeNet's first bias gradient, 110,592 terms, 116 µs); this reads four
 * floats per instruction.
 */
import * as binaryen from "./wasm-encoder.ts"; // binaryen's builder API, on our own encoder
import type { SumKernel } from "../lower/kernel.ts";
import { wasmHelpers } from "./wasm-helpers.ts";

const ZERO = Array.from({ length: 16 }, () => 0);
/** Terms of one contiguous run summed in float32 before the float64 total takes them. */
const PIECE = 1024;
/** i8x16.shuffle lanes picking the f32 lanes `l` of (a, b) (b's lanes are 4..7). */
const lanes = (l: readonly number[]) => l.flatMap((q) => [4 * q, 4 * q + 1, 4 * q + 2, 4 * q + 3]);

export function addSumKernel(m: binaryen.Module, k: SumKernel): void {
  const { i32, f32, f64, v128 } = binaryen;
  const h = wasmHelpers(m);
  const { get, set, c, add } = h;
  const vars: number[] = [];
  const local = (t: number) => (vars.push(t), vars.length - 1);
  let labels = 0;
  const { A, B, Cc } = k;
  /** base + L·step, in bytes */
  const lin = (base: number, L: number, step: number) => add(c(base), h.mul(get(L), c(step)));
  const Bi = local(i32), Ai = local(i32), P = local(i32), Q = local(i32), E = local(i32);
  const T = local(f64), D = local(v128), D1 = local(v128), V = local(v128);
  const acc = [local(v128), local(v128), local(v128), local(v128)];
  /** `body` for L = from … to−1 (a loop unless it runs once). */
  const count = (L: number, from: number, to: number, step: number, body: number[]): number[] => {
    if (to <= from) return [];
    if (to - from <= step) return [set(L, c(from)), ...body];
    const lab = `l${labels++}`;
    return [set(L, c(from)), m.loop(lab, m.block(null, [...body, set(L, add(get(L), c(step))), m.br(lab, h.ltU(get(L), c(to)))]))];
  };
  /** D += the four lanes of v as two f64x2 */
  const intoD = (d: number, v: () => number, hi: number) => set(d, m.f64x2.add(get(d, v128), m.f64x2.promote_low_f32x4(hi ? m.i8x16.shuffle(v(), v(), lanes([2, 3, 0, 1])) : v())));
  const body: number[] = [];
  const rowBytes = B * Cc * 4;
  if (Cc >= 4) {
    // per output b: the A runs of Cc contiguous terms, P walking up from run to run
    const Cv = Cc - (Cc % 4);
    const perB: number[] = [set(D, m.v128.const(ZERO)), set(T, m.f64.const(0)), set(P, lin(k.x, Bi, Cc * 4))];
    const run: number[] = [];
    for (let p0 = 0; p0 < Cv; p0 += PIECE) {
      const p1 = Math.min(Cv, p0 + PIECE);
      const blocks = Math.floor((p1 - p0) / 16);
      const rest = (p1 - p0 - blocks * 16) / 4;
      const used = blocks ? 4 : rest;
      for (let j = 0; j < used; j++) run.push(set(acc[j]!, m.v128.const(ZERO)));
      const addAt = (j: number, off: number, ptr: number) => set(acc[j]!, m.f32x4.add(get(acc[j]!, v128), m.v128.load(off, 4, get(ptr))));
      if (blocks === 1) for (let j = 0; j < 4; j++) run.push(addAt(j, (p0 + 4 * j) * 4, P));
      else if (blocks > 1) {
        const lab = `v${labels++}`;
        run.push(
          set(Q, add(get(P), c(p0 * 4))),
          set(E, add(get(P), c((p0 + blocks * 16) * 4))),
          m.loop(lab, m.block(null, [addAt(0, 0, Q), addAt(1, 16, Q), addAt(2, 32, Q), addAt(3, 48, Q), set(Q, add(get(Q), c(64))), m.br(lab, h.ltU(get(Q), get(E)))])),
        );
      }
      for (let j = 0; j < rest; j++) run.push(addAt(j, (p0 + blocks * 16 + 4 * j) * 4, P));
      // the piece's sixteen partial sums into D (f64x2)
      let s = get(acc[0]!, v128);
      for (let j = 1; j < used; j++) s = m.f32x4.add(s, get(acc[j]!, v128));
      run.push(set(V, s), intoD(D, () => get(V, v128), 0), intoD(D, () => get(V, v128), 1));
    }
    for (let q = Cv; q < Cc; q++) run.push(set(T, m.f64.add(get(T, f64), m.f64.promote(m.f32.load(q * 4, 4, get(P))))));
    run.push(set(P, add(get(P), c(rowBytes))));
    perB.push(...count(Ai, 0, A, 1, run));
    const total = m.f64.add(m.f64.add(m.f64x2.extract_lane(get(D, v128), 0), m.f64x2.extract_lane(get(D, v128), 1)), get(T, f64));
    perB.push(m.f32.store(0, 4, lin(k.y, Bi, 4), m.f32.demote(total)));
    body.push(...count(Bi, 0, B, 1, perB));
  } else {
    // Cc < 4: four outputs at a time along b when Cc = 1 (contiguous), each lane its own float64 sum
    const B4 = Cc === 1 ? B - (B % 4) : 0;
    if (B4) {
      const run = [
        set(V, m.v128.load(0, 4, get(P))),
        intoD(D, () => get(V, v128), 0),
        intoD(D1, () => get(V, v128), 1),
        set(P, add(get(P), c(rowBytes))),
      ];
      const perB = [set(D, m.v128.const(ZERO)), set(D1, m.v128.const(ZERO)), set(P, lin(k.x, Bi, 4)), ...count(Ai, 0, A, 1, run)];
      perB.push(m.v128.store(0, 4, lin(k.y, Bi, 4), m.i8x16.shuffle(m.f32x4.demote_f64x2_zero(get(D, v128)), m.f32x4.demote_f64x2_zero(get(D1, v128)), lanes([0, 1, 4, 5]))));
      body.push(...count(Bi, 0, B4, 4, perB));
    }
    const run: number[] = [];
    for (let q = 0; q < Cc; q++) run.push(set(T, m.f64.add(get(T, f64), m.f64.promote(m.f32.load(q * 4, 4, get(P))))));
    run.push(set(P, add(get(P), c(rowBytes))));
    const perB = [set(T, m.f64.const(0)), set(P, lin(k.x, Bi, Cc * 4)), ...count(Ai, 0, A, 1, run), m.f32.store(0, 4, lin(k.y, Bi, 4), m.f32.demote(get(T, f64)))];
    body.push(...count(Bi, B4, B, 1, perB));
  }
  m.addFunction(k.name, binaryen.none, binaryen.none, vars, m.block(null, body));
  m.addFunctionExport(k.name, k.name);
}
