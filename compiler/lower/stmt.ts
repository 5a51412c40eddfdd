/**
 * Statements: what lowering produces for each generated function and what the
 * emitter prints, one statement per line.
 */
import type { SExpr } from "../ir/sexpr.ts";
import { BUFFERS } from "../../runtime/abi.ts";

export { BUFFERS };

export type Stmt =
  /** `heading`: the comment naming the node the statements after it compute (kernels add their own below it). */
  | { readonly k: "comment"; readonly text: string; readonly heading?: true }
  | { readonly k: "const"; readonly name: string; readonly e: SExpr }
  | { readonly k: "let"; readonly name: string; readonly e: SExpr }
  | { readonly k: "set"; readonly target: SExpr; readonly op: "=" | "+="; readonly e: SExpr }
  /** Runs wasm kernel `fn` (it reads and writes the shared memory). */
  | { readonly k: "call"; readonly fn: string }
  /** `for (let v = from; v < n; v += step)`; from 0 and step 1 unless given. */
  | { readonly k: "for"; readonly v: string; readonly from?: SExpr; readonly n: SExpr; readonly step?: number; readonly body: readonly Stmt[] };

/** A buffer statements index; `mask` is virtual: element i of the batch mask is `i < n ? 1 : 0`, never stored. */
export type Buffer = (typeof BUFFERS)[number] | "mask";

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
