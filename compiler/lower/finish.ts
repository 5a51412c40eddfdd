/**
 * The last step of every generated function: drop what nobody reads, then
 * load the leaves and saved values the function reads, once, at its top.
 */
import * as S from "../ir/sexpr.ts";
import type { SExpr } from "../ir/sexpr.ts";
import { type Stmt, walk } from "./stmt.ts";

/**
 * `stmts` without unread `const`s, headed by a `const` for every local it
 * reads that `defines` says it does not define itself, loaded from
 * `loadable`: saved arena values first, then params, then inputs — each in
 * memory order.
 */
export function finish(stmts: readonly Stmt[], loadable: ReadonlyMap<string, SExpr>, defines: (name: string) => boolean): Stmt[] {
  const body = dropUnused(stmts);
  const used = new Set<string>();
  walk(body, (e) => S.refs(e, used));
  const loads: Stmt[] = [...used]
    .filter((nm) => loadable.has(nm) && !defines(nm))
    .sort((x, y) => loadOrder(loadable.get(x)!) - loadOrder(loadable.get(y)!))
    .map((nm) => ({ k: "const", name: nm, e: loadable.get(nm)! }));
  return [...loads, ...body];
}

function loadOrder(e: SExpr): number {
  if (e.k !== "idx" || typeof e.i !== "number") return 0;
  const rank: Record<string, number> = { arena: 0, params: 1, inputs: 2, grads: 3 };
  return (rank[e.arr] ?? 4) * 1e9 + e.i;
}

/** Removes `const`s nobody reads (every statement is pure), and comments left heading nothing. Iterative. */
export function dropUnused(stmts: readonly Stmt[]): Stmt[] {
  // Reads of each name, counted once; deleting a const un-reads its operands (a worklist, not repeated sweeps).
  const count = new Map<string, number>();
  const bump = (e: SExpr, d: number) => {
    for (const r of S.refs(e)) count.set(r, (count.get(r) ?? 0) + d);
  };
  walk(stmts, (e) => bump(e, 1));
  const dead = new Set<Stmt>();
  const byName = new Map<string, Stmt>();
  for (const s of stmts) if (s.k === "const") byName.set(s.name, s);
  const work = [...byName.values()].filter((s) => s.k === "const" && !count.get(s.name));
  while (work.length) {
    const s = work.pop()!;
    if (s.k !== "const" || dead.has(s)) continue;
    dead.add(s);
    for (const r of S.refs(s.e)) {
      const c = count.get(r)! - 1;
      count.set(r, c);
      const def = byName.get(r);
      if (c === 0 && def) work.push(def);
    }
  }
  const cur = stmts.filter((s) => !dead.has(s));
  // A heading stays above its kernel's own comment; any comment followed by nothing or by the next heading goes.
  const next = (i: number) => cur[i + 1];
  return cur.filter((s, i) => s.k !== "comment" || (next(i) !== undefined && !(next(i)!.k === "comment" && (next(i) as { heading?: true }).heading)));
}

/** Helper functions (not `Math`) the statements call, sorted. */
export function helpersOf(stmts: readonly Stmt[]): string[] {
  const out = new Set<string>();
  walk(stmts, (e) => collectCalls(e, out));
  return [...out].sort();
}

function collectCalls(root: SExpr, out: Set<string>): void {
  const stack = [root];
  while (stack.length) {
    const e = stack.pop()!;
    if (e.k === "call") out.add(e.fn);
    if (e.k === "call" || e.k === "math") stack.push(...e.args);
    else if (e.k === "un") stack.push(e.x);
    else if (e.k === "bin") stack.push(e.a, e.b);
    else if (e.k === "cond") stack.push(e.c, e.a, e.b);
  }
}
