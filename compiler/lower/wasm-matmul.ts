/**
 * Matmuls on wasm: rows 0..M4 in a WebAssembly SIMD kernel (the wasm target,
 * compiler/emit/wasm.ts, builds it from a `MatmulKernel`), the rest by the JS
 * axpy loops. A transposed B (dX = dY·Wᵀ) with A row-major goes to the
 * dot-product kernel as it is; any other B that is not row-major is first
 * copied to the arena scratch the plan reserved (K·N moves against M·N·K
 * multiply-adds). The epilogue runs on the kernel's registers when it can be
 * said in the kernel's epilogue form (`Epi`), else as a JS pass over the
 * kernel's rows afterwards.
 */
import type { SExpr } from "../ir/sexpr.ts";
import * as S from "../ir/sexpr.ts";
import type { MatmulPlan } from "../plan/memory.ts";
import { type Access, element } from "./access.ts";
import { fresh } from "./context.ts";
import { toEpi } from "./epi.ts";
import type { Epi } from "./kernel.ts";
import { addr, axpyRows, epilogue, forStep, type MatmulJob } from "./js-matmul.ts";
import type { Stmt } from "./stmt.ts";

export function wasmMatmul(j: MatmulJob, mp: MatmulPlan): Stmt[] {
  const { cx, a, b, dest, M, K, N, root, mm } = j;
  const out: Stmt[] = [...j.head];
  let bk = b;
  if (mp.bRowMajor !== undefined) {
    bk = { arr: "arena", base: mp.bRowMajor, st: [N, 1] };
    const [pv, jv] = [fresh(cx, "p"), fresh(cx, "j")];
    out.push({ k: "comment", text: "B in row-major order for the kernel" });
    out.push(
      ...forStep(pv, 0, K, 1, forStep(jv, 0, N, 1, [
        { k: "set", target: element("arena", addr(bk, S.ref(pv), S.ref(jv))), op: "=", e: element(b.arr, addr(b, S.ref(pv), S.ref(jv))) },
      ])),
    );
  }
  const M4 = M - (M % 4);
  const name = `mm${cx.kernels.length}`;
  const bytes = (x: Access) => cx.regions[x.arr as keyof typeof cx.regions] + x.base * 4;
  const epi = root === mm ? undefined : kernelEpilogue(j);
  cx.kernels.push({
    name, M4, N, K, aBase: bytes(a), sa0: a.st[0]!, sa1: a.st[1]!, bBase: bytes(bk), cBase: bytes(dest),
    ...(mp.bT ? { bT: true } : {}), ...(epi ? { epilogue: epi } : {}), node: mm.id,
  });
  out.push({ k: "call", fn: name });
  if (root !== mm && !epi) {
    const [iv, jv] = [fresh(cx, "i"), fresh(cx, "j")];
    const body: Stmt[] = [];
    const c = element(dest.arr, addr(dest, S.ref(iv), S.ref(jv)));
    const set: Stmt = { k: "set", target: c, op: "=", e: epilogue(j, c, S.ref(iv), S.ref(jv), body) };
    out.push(...forStep(iv, 0, M4, 1, forStep(jv, 0, N, 1, [...body, set])));
  }
  // Rows past the last multiple of 4: the JS kernel (with its own epilogue), reading B where the kernel did.
  return [...out, ...axpyRows(j, bk, 1, M4, M)];
}

/**
 * The fused epilogue in the kernel's form, or undefined: only +, -, *, /, neg,
 * comparisons and selects, max, min, abs, sqrt, over operands whose address
 * is affine in (row, col) with column stride 1 or 0, none inside C itself
 * (the kernel writes C tile by tile); temporaries are inlined.
 */
function kernelEpilogue(j: MatmulJob): Epi | undefined {
  const { cx, dest, M, N } = j;
  const regions: Readonly<Record<string, number>> = cx.regions;
  const ACC = "\u0000acc", ROW = "\u0000row", COL = "\u0000col";
  const temps: Stmt[] = [];
  const e = epilogue(j, S.ref(ACC), S.ref(ROW), S.ref(COL), temps);
  const cLo = regions[dest.arr]! + dest.base * 4, cHi = cLo + M * N * 4;
  return toEpi(e, temps, ACC, [ROW, COL], regions, (lo, f) => {
    const [r, c] = f.v as [number, number];
    if (c !== 0 && c !== 1) return undefined;
    const hi = lo + (r * (M - 1) + c * (N - 1) + 1) * 4;
    if (lo < cHi && hi > cLo) return undefined; // reads C (or the same memory): not while C is being written
    return { k: "load", at: lo, rowBytes: r * 4, col: c === 1 };
  });
}
