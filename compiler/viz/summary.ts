/**
 * The model summary (`gradc summary`, and the table `gradc compile` prints):
 * like Keras's `model.summary()` — every parameter with shape, count and
 * init; every named value with its shape; totals; the arena with and without
 * reuse; which matmuls run as wasm SIMD kernels.
 *
 * `describeLayout` adds what the table needs to the layout, so a generated module
 * carries it too (`layout.values`, `layout.arenaNoReuse`, `layout.wasmKernels`);
 * `summaryTable` prints from the layout alone.
 */
import { type Node, topo } from "../ir/graph.ts";
import type { Box, Init } from "../ir/model.ts";
import { size } from "../ir/shape.ts";
import type { Layout, Lowered } from "../lower/lower.ts";
import type { Plan } from "../plan/memory.ts";

/** Adds `values`, `arenaNoReuse` and `wasmKernels` to the lowered layout (a pure function of the plan and the lowering). */
export function describeLayout(plan: Plan, lowered: Lowered): Lowered {
  const p = plan.program;
  const leaves = new Set([...p.model.inputs, ...p.model.params].map((l) => l.node.id));
  const roots = [...(p.loss ? [p.loss] : []), ...p.outputs.map((o) => o.node), ...p.grads.map((g) => g.node)];
  const all = topo(roots);
  const seen = new Set<string>();
  const values: { name: string; shape: number[]; pass: "forward" | "backward" }[] = [];
  const inForward = new Set(plan.forward.map((n) => n.id));
  const outputs = new Map(p.outputs.map((o) => [o.node.id, o.name]));
  for (const n of [...plan.forward, ...plan.backward]) {
    const name = n === p.loss ? "loss" : outputs.get(n.id) ?? p.names.get(n.id);
    if (!name || leaves.has(n.id) || n.op === "const" || seen.has(name)) continue;
    seen.add(name);
    values.push({ name, shape: [...n.shape], pass: inForward.has(n.id) ? "forward" : "backward" });
  }
  // A kernel computes C[M×N] = A[M×K]·B[K×N] (on its first M4 = M - M % 4 rows) for the matmul node lowering names.
  const byId = new Map(all.map((n) => [n.id, n]));
  const label = (n: Node): string => {
    const own = p.names.get(n.id);
    if (own) return own;
    const side = (x: Node): string => (x.op === "transpose" ? `${side(x.inputs[0]!)}ᵀ` : p.names.get(x.id) ?? x.op);
    return n.op === "matmul" ? `${side(n.inputs[0]!)}·${side(n.inputs[1]!)}` : `${n.op}(${n.inputs.map(side).join(", ")})`;
  };
  // A conv kernel is listed as the matmul it amounts to (out channels × C·R·S × batch pixels); pools multiply nothing.
  const wasmKernels = lowered.kernels.flatMap((k) => {
    if (k.kind === "pool" || k.kind === "sum") return [];
    const mm = k.node === undefined ? undefined : byId.get(k.node);
    const computes = mm ? { computes: label(mm) } : {};
    if (k.kind === "conv") return [{ name: k.name, m: k.K, k: k.C * k.R * k.S, n: k.N * k.OH * k.OW, ...computes }];
    return [{ name: k.name, m: mm ? mm.shape[0]! : k.M4, k: k.K, n: k.N, ...computes }];
  });
  const layout: Layout = {
    ...lowered.layout,
    values,
    arenaNoReuse: lowered.naiveArenaSize,
    ...(wasmKernels.length ? { wasmKernels } : {}),
  };
  return { ...lowered, layout };
}

const int = (n: number) => n.toLocaleString("en-US");
const shapeText = (s: readonly number[]) => `[${s.join(", ")}]`;
function initText(init: Init): string {
  if (typeof init === "string") return init;
  if ("uniform" in init) return `uniform(${init.uniform.join(", ")})`;
  if ("normal" in init) return `normal(${init.normal.join(", ")})`;
  return `${init.value.length} set values`;
}
const bytes = (floats: number, per = 4) => {
  const b = floats * per;
  return b >= 1 << 20 ? `${(b / (1 << 20)).toFixed(1)} MiB` : b >= 1024 ? `${(b / 1024).toFixed(1)} KiB` : `${b} B`;
};

/** Columns padded to their widest cell; a rule under the header. */
function table(head: string[], rows: string[][], right: number[] = []): string[] {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => (right.includes(i) ? c.padStart(w[i]!) : c.padEnd(w[i]!))).join("   ").trimEnd();
  return [line(head), "─".repeat(w.reduce((a, b) => a + b, 0) + 3 * (w.length - 1)), ...rows.map(line)];
}

/** The Keras-like summary of a layout (with `describeLayout`'s fields when present); `boxes` (the model's m.define / m.custom boxes, which the layout does not carry) adds their section. */
export function summaryTable(L: Layout, boxes: readonly Box[] = []): string {
  const out: string[] = [];
  out.push(`Model "${L.name}" (${L.source})${L.batch !== undefined ? `, batches of up to ${L.batch}` : ""}`);
  out.push("");
  out.push(...table(["Parameter", "Shape", "Count", "Init"], L.params.map((p) => [p.name, shapeText(p.shape), int(p.size), initText(p.init)]), [2]));
  out.push("");
  out.push(...table(["Input", "Shape", "Floats", ""], L.inputs.map((i) => [i.name, shapeText(i.shape), int(i.size), [i.batched ? "batch axis" : "", i.dropout !== undefined ? `dropout mask p=${i.dropout}` : ""].filter(Boolean).join(", ")]), [2]));
  if (L.values?.length) {
    out.push("");
    const outputs = new Set(L.outputs.map((o) => o.name));
    out.push(...table(["Value", "Shape", "Floats", ""], L.values.map((v) => [v.name, shapeText(v.shape), int(size(v.shape)), v.name === "loss" ? "loss" : outputs.has(v.name) ? "output" : v.pass]), [2]));
  }
  if (boxes.length) {
    out.push("");
    const kind = (b: Box) => (b.kind === "custom" ? "m.custom: its own vjp (checked by gradc check)" : "m.define: differentiated automatically");
    out.push(...table(["Box", "Calls", "Line", ""], boxes.map((b) => [b.name, int(b.calls), b.where.line !== undefined ? String(b.where.line) : "", kind(b)]), [1, 2]));
  }
  out.push("");
  out.push(`Total params: ${int(L.paramSize)} (${bytes(L.paramSize)} as float32; gradients the same again)`);
  out.push(`Inputs: ${int(L.inputSize)} floats`);
  const noReuse = L.arenaNoReuse !== undefined ? `; ${int(L.arenaNoReuse)} floats without reuse` : "";
  out.push(`Arena: ${int(L.arenaSize)} floats (${bytes(L.arenaSize)}) with liveness-planned reuse${noReuse}`);
  if (L.wasmKernels?.length) {
    out.push(`WebAssembly SIMD kernels: ${L.wasmKernels.length} (the other ops run as JS)`);
    out.push("");
    out.push(...table(["Kernel", "Matmul", "Multiply-adds", "Computes"], L.wasmKernels.map((k) => [k.name, `[${k.m}×${k.k}]·[${k.k}×${k.n}]`, int(k.m * k.k * k.n), k.computes ?? "?"]), [2]));
  } else out.push("WebAssembly SIMD kernels: none (every op runs as JS)");
  return `${out.join("\n")}\n`;
}
