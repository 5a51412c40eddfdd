/**
 * Training plots: the SVG parses, draws one polyline per series run (a NaN
 * splits it), labels what it shows, is deterministic, stays browser-safe; the
 * PNG is non-blank and of the expected size; the terminal chart has its rows.
 */
import { readFileSync } from "node:fs";
import { DOMParser, type Element } from "@xmldom/xmldom";
import { Resvg } from "@resvg/resvg-js";
import { describe, expect, it } from "vitest";
import { asciiPlot, historyPlot } from "../../runtime/plot.ts";
import { svgToPng } from "../../runtime/png.ts";

const H = {
  loss: [0.66, 0.29, 0.22, 0.18, 0.15, 0.12, 0.1, 0.085, 0.075, 0.067],
  accuracy: [0.82, 0.92, 0.94, 0.95, 0.96, 0.965, 0.97, 0.975, 0.98, 0.984],
  valLoss: [0.37, 0.3, 0.27, NaN, 0.25, 0.245, 0.235, 0.23, 0.231, 0.232],
  valAccuracy: [0.91, 0.92, 0.93, NaN, 0.935, 0.94, 0.94, 0.943, 0.941, 0.942],
};

function parse(svg: string) {
  const errors: string[] = [];
  const doc = new DOMParser({ onError: (level, msg) => void (level !== "warning" && errors.push(msg)) }).parseFromString(svg, "image/svg+xml");
  expect(errors).toEqual([]);
  const all = (t: string) => Array.from(doc.getElementsByTagName(t)) as Element[];
  return { root: doc.documentElement!, all, texts: all("text").map((t) => t.textContent ?? "") };
}

describe("historyPlot", () => {
  it("docs/batch-growth.svg (examples/batch-growth --plot) parses: both arms, 9 epochs each, against updates", () => {
    const { all, texts } = parse(readFileSync("docs/batch-growth.svg", "utf8"));
    const lines = all("polyline");
    expect(lines.length).toBe(4); // loss and accuracy, one curve per arm
    for (const l of lines) expect(l.getAttribute("points")!.split(" ").length).toBe(9);
    expect(texts.filter((t) => t.startsWith("decay the rate ") || t.startsWith("grow the batch ")).length).toBe(4);
    expect(texts.filter((t) => t.startsWith("updates")).length).toBe(2);
    expect(texts.some((t) => t.includes("2,625 updates") && t.includes("4,500"))).toBe(true);
  });

  it("puts each value at its own x when `x` gives coordinates (updates per epoch), and names the axis", () => {
    const svg = historyPlot({ loss: [4, 2, 1], valLoss: [4, 2, 1] }, { x: { train: [100, 200, 300], validation: [100, 150, 175], label: "updates" } });
    const { all, texts } = parse(svg);
    expect(texts).toContain("updates");
    const [a, b] = all("polyline").map((l) => l.getAttribute("points")!.split(" ").map((p) => Number(p.split(",")[0])));
    expect(a![0]).toBe(b![0]); // both start at x = 100
    expect(b![2]! - b![0]!).toBeCloseTo((a![2]! - a![0]!) * 0.375, 1); // 75 of 200 updates
    expect(all("polyline").map((l) => l.getAttribute("points")!.split(" ").map((p) => p.split(",")[1]))[0]).toEqual(
      all("polyline").map((l) => l.getAttribute("points")!.split(" ").map((p) => p.split(",")[1]))[1],
    ); // the same losses
    // without `x` the picture is what it was: epochs 1..n
    expect(parse(historyPlot(H)).texts).toContain("epoch");
  });
  it("names the two curves as `labels` says (two runs compared: examples/batch-growth)", () => {
    const { texts } = parse(historyPlot(H, { labels: { train: "decay <rate>", validation: "grow" } }));
    expect(texts.filter((t) => t.startsWith("decay <rate> ")).length).toBe(2);
    expect(texts.filter((t) => t.startsWith("grow ")).length).toBe(2);
    expect(texts.some((t) => t.startsWith("train ") || t.startsWith("validation "))).toBe(false);
  });

  it("draws loss and accuracy, train solid and validation dashed, a gap at each NaN", () => {
    const svg = historyPlot(H, { title: "mnist <demo> & co" });
    const { root, all, texts } = parse(svg);
    expect([root.getAttribute("width"), root.getAttribute("height")]).toEqual(["760", "300"]);
    const lines = all("polyline");
    // per panel: train (1 run), validation (2 runs: epochs 1-3 and 5-10)
    expect(lines.length).toBe(2 * (1 + 2));
    expect(lines.filter((l) => l.getAttribute("stroke-dasharray")).length).toBe(4);
    const runs = lines.map((l) => l.getAttribute("points")!.split(" ").length).sort((a, b) => a - b);
    expect(runs).toEqual([3, 3, 6, 6, 10, 10]);
    expect(all("circle").length).toBe(2 * (10 + 9)); // few epochs: a dot per value
    expect(texts).toContain("mnist <demo> & co");
    expect(texts).toContain("loss"); // 0.66 / 0.067 ~ 10x: linear (log from 20x, below)
    expect(texts).toContain("accuracy");
    expect(texts).toContain("train 0.0670");
    expect(texts).toContain("validation 94.20%");
    expect(texts.some((t) => /%$/.test(t))).toBe(true);
  });

  it("chooses a log loss axis for a wide range only, and obeys logLoss", () => {
    expect(parse(historyPlot({ loss: [1, 0.9, 0.8] })).texts).toContain("loss");
    expect(parse(historyPlot({ loss: [10, 1, 0.1] })).texts).toContain("loss (log)");
    expect(parse(historyPlot({ loss: [10, 1, 0.1] }, { logLoss: false })).texts).toContain("loss");
  });

  it("copes with one epoch, no accuracy and no data", () => {
    const one = parse(historyPlot({ loss: [0.5], accuracy: [NaN] }));
    expect(one.all("circle").length).toBe(1);
    expect(one.texts).not.toContain("accuracy");
    expect(parse(historyPlot({ loss: [] })).texts).toContain("no data");
    expect(historyPlot({ loss: [Infinity, NaN] })).toContain("no data");
  });

  it("is a pure function of the numbers", () => {
    expect(historyPlot(H)).toBe(historyPlot(JSON.parse(JSON.stringify(H, (_, v) => (Number.isNaN(v) ? "NaN" : v)), (_, v) => (v === "NaN" ? NaN : v))));
  });

  it("is browser-safe: no imports, no Node globals, no DOM", () => {
    const src = readFileSync("runtime/plot.ts", "utf8").replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, "");
    expect(src).not.toMatch(/\bimport\b|\brequire\(|\bprocess\b|\bBuffer\b|\bdocument\b|\bwindow\b|globalThis/);
  });

  it("rasterizes to a non-blank PNG of 2× its size", () => {
    const svg = historyPlot(H);
    const { png, width, height } = svgToPng(svg);
    expect([width, height]).toEqual([1520, 600]);
    expect([...png.subarray(1, 4)].map((c) => String.fromCharCode(c)).join("")).toBe("PNG");
    const px = new Resvg(svg, { background: "white" }).render().pixels;
    let ink = 0;
    for (let i = 0; i < px.length; i += 4) if (px[i]! + px[i + 1]! + px[i + 2]! < 600) ink++;
    expect(ink / (px.length / 4)).toBeGreaterThan(0.01);
    expect(ink / (px.length / 4)).toBeLessThan(0.3);
  });
});

describe("asciiPlot", () => {
  it("has `height` rows, an axis, the range and the epoch count", () => {
    const s = asciiPlot(H.loss, { height: 6, width: 30, label: "loss" });
    const lines = s.trimEnd().split("\n");
    expect(lines[0]).toBe("loss");
    expect(lines.length).toBe(1 + 6 + 2);
    expect(lines[1]).toMatch(/^ 0\.660 ┤•/); // labels right-aligned to the widest
    expect(lines[6]).toMatch(/^0\.0670 ┤.*•$/);
    expect(lines[7]).toMatch(/└─{30}$/);
    expect(lines[8]!.trimEnd()).toMatch(/1 +10$/);
    expect(lines.slice(1, 7).every((l) => l.split("┤")[1]!.length === 30)).toBe(true);
  });
  it("averages long runs into the width, and survives flat and empty input", () => {
    const long = Array.from({ length: 1000 }, (_, i) => 1 / (i + 1));
    const lines = asciiPlot(long, { width: 40, height: 5 }).trimEnd().split("\n");
    expect(lines[0]!.split("┤")[1]!.length).toBe(40);
    expect(lines.at(-1)!.trimEnd()).toMatch(/1 +1000$/);
    expect(asciiPlot([2, 2, 2], { height: 3, width: 5 })).toContain("•••••");
    expect(asciiPlot([])).toContain("no data");
  });
});
