// runtime/index.ts — what `gradc/runtime` is outside Node — is browser-safe: bundled for the browser
// it needs no Node built-in and names no Node global (process, Buffer, require) anywhere; the Node
// parts are in runtime/node.ts only.
import * as esbuild from "esbuild";
import { describe, expect, it } from "vitest";

async function bundle(entry: string, platform: "browser" | "node") {
  const r = await esbuild.build({ entryPoints: [entry], bundle: true, write: false, format: "esm", platform, metafile: true, logLevel: "silent", packages: platform === "node" ? "external" : undefined });
  return { code: r.outputFiles[0]!.text, inputs: Object.keys(r.metafile.inputs), imports: Object.values(r.metafile.outputs).flatMap((o) => o.imports.map((i) => i.path)) };
}

describe("the browser-safe runtime", () => {
  it("runtime/index.ts bundles for the browser with no Node built-in and no Node global", async () => {
    const { code, inputs, imports } = await bundle("runtime/index.ts", "browser");
    expect(imports).toEqual([]);
    expect(inputs.filter((f) => !f.startsWith("runtime/"))).toEqual([]);
    expect(inputs).not.toContain("runtime/node.ts");
    for (const global of ["process", "Buffer", "require", "__dirname", "global"]) expect(code, global).not.toMatch(new RegExp(`\\b${global}\\b(?!:)`));
    expect(code).not.toMatch(/node:/);
  });

  it("the Node parts are runtime/node.ts's", async () => {
    const { imports } = await bundle("runtime/node.ts", "node");
    expect([...new Set(imports)].sort()).toEqual(["cli-progress", "node:crypto", "node:fs", "node:module", "node:path", "node:url", "node:worker_threads"]); // worker_threads: training threads
  });
});
