/**
 * `gradc graph`: the SVG parses as XML and holds the right nodes and edges for
 * the lecture net (counted by hand from its IR below) and for MNIST; names
 * are present; the PNG is a real, non-blank image of the expected size; the
 * output is byte-deterministic; a file gradc did not write is never replaced.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { crc32 } from "node:zlib";
import { DOMParser, type Element } from "@xmldom/xmldom";
import { Resvg } from "@resvg/resvg-js";
import { describe, expect, it } from "vitest";
import { graphCommand, graphFile } from "../../compiler/cli/graph.ts";
import { GradcError } from "../../compiler/errors.ts";
import { loadSpec } from "../../compiler/frontend/load.ts";
import { modelGraph } from "../../compiler/viz/graph.ts";
import { markPng, wroteByGradc } from "../../compiler/viz/mark.ts";

const LECTURE = "examples/lecture/model.ts";
const MNIST = "examples/mnist/model.ts";
const FWD_FILL = "#e8f0fb";
const BWD_FILL = "#fdecea";
const FWD_LINE = "#2b5797";
const BWD_LINE = "#c0504d";

/** Parses strictly: any XML error (not a warning) fails the test. */
function parseSvg(svg: string) {
  const errors: string[] = [];
  const doc = new DOMParser({ onError: (level, msg) => void (level !== "warning" && errors.push(msg)) }).parseFromString(svg, "image/svg+xml");
  expect(errors).toEqual([]);
  expect(doc.documentElement!.tagName).toBe("svg");
  const all = (tag: string) => Array.from(doc.getElementsByTagName(tag)) as Element[];
  const groups = (cls: string) => all("g").filter((g) => g.getAttribute("class") === cls);
  const fill = (g: Element) => (Array.from(g.getElementsByTagName("path")).concat(Array.from(g.getElementsByTagName("polygon"))) as Element[])[0]?.getAttribute("fill");
  const stroke = (g: Element) => (g.getElementsByTagName("path")[0] as Element | undefined)?.getAttribute("stroke");
  const dashed = (g: Element) => (g.getElementsByTagName("path")[0] as Element | undefined)?.getAttribute("stroke-dasharray") != null;
  const nodes = groups("node");
  const edges = groups("edge");
  const texts = all("text").map((t) => t.textContent ?? "");
  return {
    doc,
    texts,
    width: parseFloat(doc.documentElement!.getAttribute("width")!),
    height: parseFloat(doc.documentElement!.getAttribute("height")!),
    forwardNodes: nodes.filter((g) => fill(g) === FWD_FILL).length,
    backwardNodes: nodes.filter((g) => fill(g) === BWD_FILL).length,
    nodes: nodes.length,
    forwardEdges: edges.filter((g) => stroke(g) === FWD_LINE && !dashed(g)).length,
    backwardEdges: edges.filter((g) => stroke(g) === BWD_LINE).length,
    reuseEdges: edges.filter((g) => stroke(g) === FWD_LINE && dashed(g)).length,
    clusters: groups("cluster").length,
  };
}

describe("gradc graph: the lecture 2-2-1 net", () => {
  // Its program after simplification (`h = x·Wh + bh`, `z = σ(h)`, `y = z·Wo + bo`, loss = Σ ½(y - t)²):
  //   forward ops   x·Wh, h, z, z·Wo, y, y - t, halfSquare, sum                                     8
  //   forward edges 2 + 2 + 1 + 2 + 2 + 2 + 1 + 1                                                  13
  //   backward ops  xᵀ, Woᵀ, zᵀ, d_z = (y-t)·Woᵀ, 1 - z, z(1 - z), d_h = d_z·z(1-z),
  //                 d_Wh = xᵀ·d_h, d_Wo = zᵀ·(y-t)                                               9
  //   backward→backward edges: d_z←Woᵀ, z(1-z)←(1-z), d_h←d_z, d_h←z(1-z), d_Wh←xᵀ, d_Wh←d_h, d_Wo←zᵀ  7
  //   forward→backward (dashed): xᵀ←x, Woᵀ←Wo, zᵀ←z, (1-z)←z, z(1-z)←z, d_z←(y-t), d_Wo←(y-t)      7
  //   cached forward values read by backward: z and y - t (which is d_y, and ∂loss/∂bo)           2
  //   rule groups: ∂ matmul x·Wh, ∂ sigmoid z, ∂ matmul z·Wo                                        3
  it("counts nodes and edges as the IR says, in the DOT and in the laid-out SVG", async () => {
    const model = await loadSpec(LECTURE);
    const { stats } = modelGraph(model, { backward: true });
    expect(stats).toEqual({ forwardOps: 8, backwardOps: 9, inputs: 2, params: 4, reused: 2, forwardEdges: 13, backwardEdges: 7, reuseEdges: 7 });
    const svg = parseSvg((await graphFile(LECTURE, { backward: true, format: "svg" })).bytes as string);
    expect(svg.forwardNodes).toBe(8);
    expect(svg.backwardNodes).toBe(9);
    expect(svg.nodes).toBe(8 + 9 + 2 + 4);
    expect([svg.forwardEdges, svg.backwardEdges, svg.reuseEdges]).toEqual([13, 7, 7]);
    expect(svg.clusters).toBe(3);
    const text = svg.texts.join("\n");
    for (const name of ["x", "t", "Wh", "bh", "Wo", "bo", "h", "z", "y", "loss", "∂loss/∂Wh", "∂loss/∂Wo", "d_h = ∂loss/∂bh", "∂ sigmoid z", "∂ matmul x·Wh", "dz_dh = z × (1 − z)", "d_z = (y − t)·Woᵀ", "1 − z", "xᵀ", "Woᵀ", "x·Wh"])
      expect(svg.texts, name).toContain(name);
    expect(text).toContain("param [2×2] · xavier");
    expect(text).toMatch(/sub \[1×1\] = ∂loss\/∂bo/);
  });

  it("without --backward draws the forward graph only", async () => {
    const svg = parseSvg((await graphFile(LECTURE, { backward: false, format: "svg" })).bytes as string);
    expect([svg.forwardNodes, svg.backwardNodes, svg.nodes]).toEqual([8, 0, 14]);
    expect([svg.forwardEdges, svg.backwardEdges, svg.reuseEdges, svg.clusters]).toEqual([13, 0, 0, 0]);
  });

  it("is byte-deterministic (DOT and SVG)", async () => {
    const a = await graphFile(LECTURE, { backward: true, format: "svg" });
    const b = await graphFile(LECTURE, { backward: true, format: "svg" });
    expect(a.bytes).toBe(b.bytes);
    const model = await loadSpec(LECTURE);
    expect(modelGraph(model, { backward: true }).dot).toBe(modelGraph(await loadSpec(LECTURE), { backward: true }).dot);
  });

  it("renders a PNG of the SVG's size, with both colours in it, and a valid marked chunk", async () => {
    const svgText = (await graphFile(LECTURE, { backward: true, format: "svg" })).bytes as string;
    const { width, height } = parseSvg(svgText); // pt
    const r = await graphFile(LECTURE, { backward: true, format: "png", scale: 1 });
    const png = r.bytes as Uint8Array;
    expect([...png.subarray(0, 8)]).toEqual([137, 80, 78, 71, 13, 10, 26, 10]);
    const dv = new DataView(png.buffer, png.byteOffset);
    // IHDR: width and height at bytes 16 and 20; a pt is 4/3 px
    expect(dv.getUint32(16)).toBe(r.width);
    expect(dv.getUint32(20)).toBe(r.height);
    expect(r.width).toBeCloseTo((width * 4) / 3, -0.5);
    expect(r.height).toBeCloseTo((height * 4) / 3, -0.5);
    const r2 = await graphFile(LECTURE, { backward: true, format: "png", scale: 2 });
    expect(Math.abs(r2.width! - 2 * r.width!)).toBeLessThanOrEqual(1);
    // Every chunk's CRC holds (the tEXt mark included), and the mark is found.
    for (let at = 8; at < png.length; ) {
      const len = dv.getUint32(at);
      expect(dv.getUint32(at + 8 + len), `chunk at ${at}`).toBe(crc32(png.subarray(at + 4, at + 8 + len)));
      at += 12 + len;
    }
    expect(wroteByGradc(png)).toBe(true);
    // Non-blank: most pixels white, but a real share of them ink, blue and red both.
    const px = new Resvg(svgText, { background: "white" }).render().pixels;
    let ink = 0;
    let blue = 0;
    let red = 0;
    for (let i = 0; i < px.length; i += 4) {
      const [R, G, B] = [px[i]!, px[i + 1]!, px[i + 2]!];
      if (R + G + B < 720) ink++;
      if (B > R + 60) blue++;
      if (R > B + 60 && R > G + 40) red++;
    }
    const total = px.length / 4;
    expect(ink / total).toBeGreaterThan(0.02);
    expect(ink / total).toBeLessThan(0.5);
    expect(blue).toBeGreaterThan(500);
    expect(red).toBeGreaterThan(500);
  });
});

describe("gradc graph: MNIST stays one node per tensor op", () => {
  // Forward: x·W1, +b1, h = relu, h·W2, logits, softmaxCE (one fused row-wise op), where(mask), Σ, ÷n, softmax: 10.
  // Backward: 19 tensor ops (the 64×784 batch is one node, not 50,176 scalars; 5 wasm kernels are 5 matmul nodes).
  it("counts", async () => {
    const model = await loadSpec(MNIST);
    const { stats } = modelGraph(model, { backward: true });
    expect([stats.forwardOps, stats.backwardOps, stats.inputs, stats.params]).toEqual([10, 19, 2, 4]);
    const svg = parseSvg((await graphFile(MNIST, { backward: true, format: "svg" })).bytes as string);
    expect([svg.forwardNodes, svg.backwardNodes]).toEqual([10, 19]);
    expect([svg.forwardEdges, svg.backwardEdges, svg.reuseEdges]).toEqual([stats.forwardEdges, stats.backwardEdges, stats.reuseEdges]);
    for (const name of ["x", "y", "W1", "b1", "W2", "b2", "h", "logits", "probs", "loss", "d_logits", "d_h = d_logits·W2ᵀ", "probs − y", "∂loss/∂W1", "∂loss/∂b2", "∂ relu h"])
      expect(svg.texts, name).toContain(name);
    expect(svg.texts).toContain("param [784×128] · he");
  });
});

describe("gradc graph: the command", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "gradc-graph-"));
  const quiet = async (argv: string[]) => {
    const w = process.stderr.write;
    process.stderr.write = (() => true) as typeof w;
    try {
      return await graphCommand(argv);
    } finally {
      process.stderr.write = w;
    }
  };

  it("writes svg, dot and png by extension, and replaces its own output", async () => {
    for (const ext of ["svg", "dot", "png"]) {
      const f = path.join(dir, `lecture.${ext}`);
      expect(await quiet([LECTURE, "--backward", "-o", f])).toBe(0);
      expect(await quiet([LECTURE, "-o", f])).toBe(0); // again: its own file
      expect(wroteByGradc(readFileSync(f))).toBe(true);
    }
    expect(readFileSync(path.join(dir, "lecture.dot"), "utf8")).toMatch(/^digraph "lecture" \{/);
  });

  it("never replaces a file it did not write (unless --force), and leaves it as it was", async () => {
    const f = path.join(dir, "mine.svg");
    writeFileSync(f, "<svg>my drawing</svg>");
    await expect(quiet([LECTURE, "-o", f])).rejects.toThrow(GradcError);
    await expect(quiet([LECTURE, "-o", f])).rejects.toThrow(/not written by gradc/);
    expect(readFileSync(f, "utf8")).toBe("<svg>my drawing</svg>");
    expect(await quiet([LECTURE, "-o", f, "--force"])).toBe(0);
    expect(wroteByGradc(readFileSync(f))).toBe(true);
  });

  it("rejects bad options with E_CLI", async () => {
    await expect(quiet([LECTURE, "--format", "gif", "-o", path.join(dir, "a.x")])).rejects.toMatchObject({ code: "E_CLI" });
    await expect(quiet([LECTURE, "--png"])).rejects.toMatchObject({ code: "E_CLI" });
    await expect(quiet([LECTURE, "--scale", "0", "-o", path.join(dir, "b.png")])).rejects.toMatchObject({ code: "E_CLI" });
    await expect(quiet([])).rejects.toMatchObject({ code: "E_CLI" });
    expect(existsSync(path.join(dir, "b.png"))).toBe(false);
  });

  it("marks PNGs so that a marked PNG is still a PNG of the same size", () => {
    const fake = new Uint8Array(8 + 25 + 12);
    fake.set([137, 80, 78, 71, 13, 10, 26, 10]);
    const m = markPng(fake);
    expect(m.length).toBe(fake.length + 12 + "Software\0gradc".length);
    expect(wroteByGradc(m)).toBe(true);
    expect(wroteByGradc(fake)).toBe(false);
  });

  it.sequential("cleans up", () => rmSync(dir, { recursive: true, force: true }));
});
