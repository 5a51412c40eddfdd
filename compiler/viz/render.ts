/**
 * DOT -> SVG by Graphviz compiled to WebAssembly (`@viz-js/viz`: no system
 * Graphviz), and SVG -> PNG by resvg. Both are deterministic: the same DOT
 * gives the same bytes.
 */
import { GradcError } from "../errors.ts";
import type { Png, PngOptions } from "../../runtime/png.ts";

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

/** resvg (a native addon) loads on first use, so commands that draw no PNG never load it. */
export async function svgToPng(svg: string, opts?: PngOptions): Promise<Png> {
  return (await import("../../runtime/png.ts")).svgToPng(svg, opts);
}
