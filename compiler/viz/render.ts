/**
 * DOT -> SVG by Graphviz compiled to WebAssembly (`@viz-js/viz`: no system
 * Graphviz); deterministic: the same DOT gives the same bytes. (SVG -> PNG is
 * the runtime's Node-only rasterizer, runtime/png.ts, which the CLI loads.)
 */
import { GradcError } from "../errors.ts";

let viz: Promise<import("@viz-js/viz").Viz> | undefined;

export async function dotToSvg(dot: string): Promise<string> {
  viz ??= import("@viz-js/viz").then((m) => m.instance());
  const r = (await viz).render(dot, { format: "svg", engine: "dot" });
  if (r.status !== "success")
    throw new GradcError("E_RENDER", `Graphviz could not lay out the graph: ${r.errors.map((e) => e.message).join("; ")}`, {
      hint: "this is a gradc bug: please report it with the spec (gradc graph --format dot shows the input)",
    });
  return r.output;
}
