/**
 * A loop matmul's kernel: its operands' storage (copied row-major to the
 * scratch the plan reserved when they have no strided form), then the JS
 * loops (js-matmul.ts) or a wasm kernel (wasm-matmul.ts), as the plan chose.
 */
import type { Node } from "../ir/graph.ts";
import * as S from "../ir/sexpr.ts";
import { type Access, accessOf } from "./access.ts";
import { type Cx, fresh } from "./context.ts";
import { axpyRows, dotForm, type MatmulJob } from "./js-matmul.ts";
import { read } from "./reads.ts";
import type { Stmt } from "./stmt.ts";
import { wasmMatmul } from "./wasm-matmul.ts";

/** The statements of matmul `mm`, fused into `root`, storing to `dest`. */
export function matmulKernel(cx: Cx, mm: Node, root: Node, dest: Access): Stmt[] {
  const [A, B] = mm.inputs as [Node, Node];
  const [M, K] = A.shape as [number, number];
  const N = B.shape[1]!;
  const mp = cx.plan.nodes.get(mm.id)!.matmul!;
  // An operand with no strided form (a reshape of a transposed or unstored value) is first
  // copied, row-major, to the arena scratch the plan reserved for it.
  const copies: Stmt[] = [];
  const materialize = (x: Node, base: number): Access => {
    const [rv, cv] = [fresh(cx, "r"), fresh(cx, "c")];
    const body: Stmt[] = [];
    const e = read(cx, x, x.shape, [S.ref(rv), S.ref(cv)], undefined, body, new Map());
    const cols = x.shape[1]!;
    copies.push({
      k: "for", v: rv, n: S.num(x.shape[0]!),
      body: [{ k: "for", v: cv, n: S.num(cols), body: [...body, { k: "set", target: S.idx("arena", S.iadd(S.num(base), S.iadd(S.imul(S.ref(rv), S.num(cols)), S.ref(cv)))), op: "=", e }] }],
    });
    return { arr: "arena", base, st: [cols, 1] };
  };
  const stored = (x: Node): Access => {
    const acc = accessOf(cx.access, cx.plan, x);
    if (!acc) throw new Error(`internal: matmul operand ${x.op}#${x.id} has no strided storage and the plan reserved no copy`);
    return acc;
  };
  const a = mp.aCopy !== undefined ? materialize(A, mp.aCopy) : stored(A);
  const b = mp.bCopy !== undefined ? materialize(B, mp.bCopy) : stored(B);
  const comment: Stmt = { k: "comment", text: `[${M}x${K}]·[${K}x${N}]${root === mm ? "" : ` + fused ${root.op} epilogue`}` };
  const job: MatmulJob = { cx, mm, root, dest, a, b, M, K, N, head: [comment, ...copies] };
  if (mp.wasm) return wasmMatmul(job, mp);
  if (b.st[0] === 1 && b.st[1] !== 1) return dotForm(job);
  const R = M >= 4 ? 4 : M;
  const iMain = M - (M % R);
  return [...job.head, ...axpyRows(job, b, R, 0, iMain), ...axpyRows(job, b, 1, iMain, M)];
}

