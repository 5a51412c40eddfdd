/**
 * SVG -> PNG in Node, through resvg (a real SVG rasterizer; its prebuilt
 * binary comes as an npm package, no system library). Node-only: it belongs
 * behind the runtime's Node entry (`gradc/runtime/node`), not in the
 * browser-safe core — a browser draws the SVG from `plot.ts` itself.
 *
 * Text is set in Liberation Sans or DejaVu Sans when the system has them
 * (Liberation Sans has Helvetica's metrics, which Graphviz lays labels out
 * with); the image is `scale` times the SVG's own size, on white.
 */
import { Resvg } from "@resvg/resvg-js";

export interface PngOptions {
  /** Pixels per SVG unit (default 2: sharp on high-density screens). */
  readonly scale?: number;
}

export interface Png {
  readonly png: Uint8Array;
  readonly width: number;
  readonly height: number;
}

export function svgToPng(svg: string, opts: PngOptions = {}): Png {
  const scale = opts.scale ?? 2;
  const r = new Resvg(svg, {
    fitTo: { mode: "zoom", value: scale },
    background: "white",
    font: { loadSystemFonts: true, defaultFontFamily: "Liberation Sans", sansSerifFamily: "Liberation Sans" },
    logLevel: "off",
  }).render();
  return { png: new Uint8Array(r.asPng()), width: r.width, height: r.height };
}
