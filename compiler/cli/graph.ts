/**
 * `gradc graph <spec> [-o file] [--backward] [--format svg|dot|png] [--png] [--scale N]`:
 * the model's DAG (and its derivative) as a picture. The format follows the
 * output's extension unless given; without -o, SVG or DOT goes to stdout.
 * It never overwrites a file gradc did not write.
 */
import { existsSync, readFileSync } from "node:fs";
import { parseArgs } from "./args.ts";
import { GradcError } from "../errors.ts";
import { displayPath, loadSpec } from "../frontend/load.ts";
import { modelGraph } from "../viz/graph.ts";
import { dotToSvg } from "../viz/render.ts";

/** resvg (a native addon) loads on first use, so commands that draw no PNG never load it. */
const svgToPng = async (...a: Parameters<typeof import("../../runtime/png.ts").svgToPng>) => (await import("../../runtime/png.ts")).svgToPng(...a);
import { markPng, MARK, wroteByGradc } from "../viz/mark.ts";
import { writeAtomically } from "./write.ts";

const FORMATS = ["svg", "dot", "png"] as const;
type Format = (typeof FORMATS)[number];
const USE = "gradc graph examples/lecture/model.ts --backward -o lecture.svg";

/** The picture of one spec, as the bytes `gradc graph` writes. */
export async function graphFile(spec: string, opts: { backward: boolean; format: Format; scale?: number }) {
  const model = await loadSpec(spec);
  const { dot, stats } = modelGraph(model, { backward: opts.backward });
  if (opts.format === "dot") return { model, stats, bytes: dot as string | Uint8Array };
  const svg = markSvg(await dotToSvg(dot), `gradc graph of ${model.source}${opts.backward ? ", forward and backward" : ""}`);
  if (opts.format === "svg") return { model, stats, bytes: svg as string | Uint8Array };
  const png = await svgToPng(svg, { scale: opts.scale ?? 2 });
  return { model, stats, bytes: markPng(png.png), width: png.width, height: png.height };
}

/**
 * The pictures the README shows, as `gradc regen` writes them (and `regen --check` compares them).
 * Each is exactly what the command in its comment prints: `gradc graph <spec> [--backward] -o <file>`.
 */
export async function docPictures(): Promise<Record<string, string>> {
  const pics: [string, string, boolean][] = [
    ["docs/lecture-forward.svg", "examples/lecture/model.ts", false],
    ["docs/lecture-backward.svg", "examples/lecture/model.ts", true],
    ["docs/mnist-backward.svg", "examples/mnist/model.ts", true],
  ];
  const out: Record<string, string> = {};
  for (const [file, spec, backward] of pics) out[file] = (await graphFile(spec, { backward, format: "svg" })).bytes as string;
  return out;
}

/** Graphviz's SVG with a header comment saying who wrote it (after the XML declaration, which must come first). */
function markSvg(svg: string, command: string): string {
  const at = svg.indexOf("?>") + 2;
  const safe = command.replace(/[^\x20-\x7e]/g, "?").replace(/-(?=-)/g, "-\u200b"); // "--" may not appear in an XML comment
  return `${svg.slice(0, at)}\n<!-- ${safe}: ${MARK} -->${svg.slice(at)}`;
}

export async function graphCommand(argv: string[]): Promise<number> {
  const { flags, bools, positional } = parseArgs(argv, { flags: ["o", "out", "format", "scale"], bools: ["backward", "png", "force"] });
  if (positional.length !== 1) throw new GradcError("E_CLI", "graph takes one spec file", { hint: USE });
  const file = flags.get("o")?.at(-1) ?? flags.get("out")?.at(-1);
  const asked = flags.get("format")?.at(-1) ?? (bools.has("png") ? "png" : undefined);
  const ext = file?.match(/\.(svg|dot|gv|png)$/i)?.[1]?.toLowerCase();
  const format = (asked ?? (ext === "gv" ? "dot" : ext) ?? "svg") as Format;
  if (!FORMATS.includes(format)) throw new GradcError("E_CLI", `--format must be svg, dot or png, got '${asked}'`, { hint: USE });
  if (format === "png" && !file) throw new GradcError("E_CLI", "a PNG needs an output file (-o model.png)", { hint: `${USE.replace(".svg", ".png")}` });
  const rawScale = flags.get("scale")?.at(-1);
  const scale = rawScale === undefined ? undefined : Number(rawScale);
  if (scale !== undefined && !(Number.isFinite(scale) && scale > 0 && scale <= 8))
    throw new GradcError("E_CLI", `--scale must be a number in (0, 8], got '${rawScale}'`);
  if (file && existsSync(file) && !bools.has("force") && !wroteByGradc(readFileSync(file)))
    throw new GradcError("E_CLI", `${displayPath(file)} exists and was not written by gradc; not overwriting it`, {
      hint: "choose another -o, or pass --force to replace it",
    });
  const r = await graphFile(positional[0]!, { backward: bools.has("backward"), format, ...(scale ? { scale } : {}) });
  if (!file) {
    process.stdout.write(r.bytes);
    return 0;
  }
  writeAtomically({ [file]: r.bytes }, { replace: true }); // checked above: a picture with gradc's mark, or --force
  const s = r.stats;
  const size = "width" in r ? ` (${r.width}×${r.height} px)` : "";
  process.stderr.write(
    `wrote ${displayPath(file)}${size}: ${s.inputs} input(s), ${s.params} param(s), ${s.forwardOps} forward ops` +
      (bools.has("backward") ? (r.model.loss ? `, ${s.backwardOps} backward ops reading ${s.reused} cached forward values` : "; no loss, so no backward graph") : "") +
      "\n",
  );
  return 0;
}
