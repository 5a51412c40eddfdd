/**
 * `gradc summary`: the table's counts match the layout (and the layout the
 * model), and the generated module exports the same summary fields.
 */
import { describe, expect, it } from "vitest";
import { importModule } from "../../compiler/emit/load.ts";
import { loadSpec } from "../../compiler/frontend/load.ts";
import { compile } from "../../compiler/index.ts";
import { size } from "../../compiler/ir/shape.ts";
import { isMatmul } from "../../compiler/lower/kernel.ts";
import { summaryTable } from "../../compiler/viz/summary.ts";

const num = (s: string) => Number(s.replace(/,/g, ""));
/** The rows of the table headed `head` (after its rule, up to the blank line). */
function rows(text: string, head: string): string[][] {
  const lines = text.split("\n");
  const at = lines.findIndex((l) => l.startsWith(head));
  expect(at, head).toBeGreaterThanOrEqual(0);
  const out: string[][] = [];
  for (let i = at + 2; i < lines.length && lines[i]!.trim(); i++) out.push(lines[i]!.trim().split(/ {3,}/));
  return out;
}

describe.each(["lecture", "mnist"])("gradc summary: %s", (name) => {
  it("matches the layout, the model and the generated module", async () => {
    const model = await loadSpec(`examples/${name}/model.ts`);
    const c = await compile(model);
    const L = c.lowered.layout;
    const text = summaryTable(L);
    // params: one row each, count = product of the model's shape, total = paramSize
    const ps = rows(text, "Parameter");
    expect(ps.map((r) => r[0])).toEqual(model.params.map((p) => p.name));
    ps.forEach((r, i) => {
      expect(num(r[2]!)).toBe(size(model.params[i]!.shape));
      expect(r[3]).toBe(String(model.params[i]!.init));
    });
    expect(ps.reduce((a, r) => a + num(r[2]!), 0)).toBe(L.paramSize);
    expect(text).toContain(`Total params: ${L.paramSize.toLocaleString("en-US")} `);
    expect(rows(text, "Input").map((r) => r[0])).toEqual(model.inputs.map((i) => i.name));
    // named values: every spec name, the loss, the outputs, the gradient names
    const vs = rows(text, "Value");
    expect(vs.map((r) => r[0])).toEqual(L.values!.map((v) => v.name));
    for (const v of vs) expect(num(v[2]!)).toBe(size(L.values!.find((x) => x.name === v[0])!.shape));
    for (const n of [...model.names.values(), "loss", ...model.outputs.map((o) => o.name)]) expect(vs.map((r) => r[0])).toContain(n);
    // arena with and without reuse
    expect(L.arenaNoReuse).toBe(c.lowered.naiveArenaSize);
    expect(text).toContain(`Arena: ${L.arenaSize.toLocaleString("en-US")} floats`);
    expect(text).toContain(`${L.arenaNoReuse!.toLocaleString("en-US")} floats without reuse`);
    // wasm kernels: one row per matmul (or conv) kernel of the lowering; sums and pools multiply nothing
    const mms = c.lowered.kernels.filter((k) => k.kind !== "sum" && k.kind !== "pool");
    expect(L.wasmKernels?.length ?? 0).toBe(mms.length);
    if (mms.length) {
      const ks = rows(text, "Kernel");
      expect(ks.map((r) => r[0])).toEqual(mms.map((k) => k.name));
      ks.forEach((r, i) => {
        const k = L.wasmKernels![i]!;
        expect(num(r[2]!)).toBe(k.m * k.k * k.n);
        expect(k.m - (k.m % 4)).toBe(c.lowered.kernels.filter(isMatmul)[i]!.M4);
      });
    } else expect(text).toContain("WebAssembly SIMD kernels: none");
    // the generated module exports the same layout
    const mod = await importModule(c.js);
    expect(JSON.parse(JSON.stringify(mod.layout))).toEqual(JSON.parse(JSON.stringify(L)));
  });
});

it("names what mnist's five wasm kernels compute", async () => {
  const c = await compile(await loadSpec("examples/mnist/model.ts"));
  expect(c.lowered.layout.wasmKernels!.map((k) => `${k.computes} ${k.m}x${k.k}x${k.n}`)).toEqual([
    "x·W1 64x784x128",
    "h·W2 64x128x10",
    "d_h 64x10x128",
    "d_W1 784x64x128",
    "d_W2 128x64x10",
  ]);
  expect(c.lowered.layout.values!.filter((v) => v.pass === "backward").map((v) => v.name)).toEqual(["d_logits", "d_h", "d_W1", "d_b1", "d_W2", "d_b2"]);
});

it("names each of deep's same-sized kernels by the matmul lowering gave it, not by its dimensions", async () => {
  const c = await compile(await loadSpec("examples/deep/model.ts"));
  const ks = c.lowered.layout.wasmKernels!;
  expect(ks.map((k) => k.computes)).toEqual(["x·W1", "h1·W2", "h2·W3", "h3·W4", "h4·W5", "d_h4", "d_h3", "d_h2", "d_h1", "d_W1", "d_W2", "d_W3", "d_W4", "d_W5"]);
  expect(ks.map((k) => k.name)).toEqual(c.lowered.kernels.filter((k) => k.kind !== "sum").map((k) => k.name));
});

describe("gradc summary: boxes", () => {
  it("lists each m.custom and m.define box with its calls and spec line (examples/boxes)", async () => {
    const model = await loadSpec("examples/boxes/model.ts");
    const text = summaryTable((await compile(model)).lowered.layout, model.boxes);
    const src = (await import("node:fs")).readFileSync("examples/boxes/model.ts", "utf8").split("\n");
    const lineOf = (s: string) => src.findIndex((l) => l.includes(s)) + 1;
    expect(rows(text, "Box")).toEqual([
      ["sigmoidBox", "1", String(lineOf('m.custom("sigmoidBox"')), "m.custom: its own vjp (checked by gradc check)"],
      ["affine", "2", String(lineOf('m.define("affine"')), "m.define: differentiated automatically"],
    ]);
  });
  it("has no Box section without boxes", async () => {
    const model = await loadSpec("examples/xor/model.ts");
    expect(model.boxes).toBeUndefined();
    expect(summaryTable((await compile(model)).lowered.layout, model.boxes)).not.toContain("Box ");
  });
});
