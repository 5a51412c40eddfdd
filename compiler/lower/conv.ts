/**
 * Conv and pool nodes (placeholder until conv-ops' JS loop lowering lands: only the wasm path, as
 * `convOnWasm` chooses; a node the plan keeps in JS is an internal error here).
 */
import type { Node } from "../ir/graph.ts";
import { type Access, accessOf } from "./access.ts";
import type { Cx } from "./context.ts";
import type { Stmt } from "./stmt.ts";
import { wasmConv } from "./wasm-conv.ts";

export function convKernel(cx: Cx, node: Node, root: Node, dest: Access): Stmt[] {
  const ins = node.inputs.map((x) => accessOf(cx.access, cx.plan, x));
  const head: Stmt[] = [{ k: "comment", text: `${node.op}${root === node ? "" : ` + fused ${root.op} epilogue`}` }];
  const cp = cx.plan.nodes.get(node.id)!.conv;
  if (!cp?.wasm) throw new Error(`internal: no JS lowering for ${node.op} yet`);
  return wasmConv({ cx, node, root, dest, ins, head }, cp);
}
