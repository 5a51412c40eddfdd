// The minified size of browser bundles of a generated module (BENCHMARKS.md, "Browser bundle size";
// bench/bench.ts writes that section from here):
//   inference  layout + buffers + forward of generated/mnist.js: what a page needs to predict
//   training   the module's createTrainer + adam + fitAsync: what a page needs to train
// esbuild --bundle --minify --platform=browser, before gzip (the gzip size beside it), and what the
// biggest inputs contribute (esbuild's metafile).
//
//   npx tsx examples/browser/size.ts
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import * as esbuild from "esbuild";
import { browserOptions } from "./build.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "../..");

export const BUNDLES = {
  inference: {
    target: 30 * 1024,
    code: `
    import { buffers, forward, layout } from "./generated/mnist.js";
    export function predict(x) {
      const b = buffers();
      b.inputs.set(x);
      forward(b.params, b.inputs, b.arena, x.length / 784);
      const o = layout.outputs[0];
      return b.arena.slice(o.offset, o.offset + o.size);
    }`,
  },
  training: {
    target: 80 * 1024,
    code: `
    import { createTrainer } from "./generated/mnist.js";
    import { adam } from "gradc/runtime";
    export async function train(data, onBatchEnd) {
      const t = createTrainer({ optimizer: adam({ lr: 1e-3 }), batchSize: 64, seed: 1 });
      await t.fitAsync(data, { epochs: 1, onBatchEnd });
      return t;
    }`,
  },
} as const;

export interface BundleSize {
  readonly name: keyof typeof BUNDLES;
  readonly bytes: number;
  readonly gzip: number;
  readonly target: number;
  /** Of `bytes`: the wasm kernels' bytecode, as the base64 text the generated module embeds. */
  readonly wasmBase64: number;
  /** Bytes in the output per input file, largest first. */
  readonly parts: readonly (readonly [string, number])[];
}

export async function bundleSizes(): Promise<BundleSize[]> {
  const out: BundleSize[] = [];
  for (const name of Object.keys(BUNDLES) as (keyof typeof BUNDLES)[]) {
    const r = await esbuild.build({
      ...browserOptions,
      stdin: { contents: BUNDLES[name].code, resolveDir: root, sourcefile: `${name}.js`, loader: "js" },
      absWorkingDir: root,
      write: false,
      minify: true,
      metafile: true,
    });
    const js = r.outputFiles[0]!.contents;
    const meta = Object.values(r.metafile.outputs)[0]!;
    const parts = Object.entries(meta.inputs)
      .map(([file, v]) => [file.replace(/^node-only:/, "stub: "), v.bytesInOutput] as const)
      .filter(([, b]) => b > 0)
      .sort((a, b) => b[1] - a[1]);
    const text = new TextDecoder().decode(js);
    const wasmBase64 = [...text.matchAll(/atob\(\s*"([A-Za-z0-9+/=]*)"/g)].reduce((n, m) => n + m[1]!.length, 0);
    out.push({ name, bytes: js.length, gzip: gzipSync(js).length, target: BUNDLES[name].target, wasmBase64, parts });
  }
  return out;
}

const kb = (b: number) => `${(b / 1024).toFixed(1)} KB`;

export function bundleSizeMarkdown(rows: readonly BundleSize[]): string {
  const lines = [
    "| bundle | minified | gzipped | target (minified) | of it: wasm kernels (base64) | largest parts (minified) |",
    "|:---|---:|---:|---:|---:|:---|",
    ...rows.map(
      (r) =>
        `| mnist ${r.name} | ${kb(r.bytes)} | ${kb(r.gzip)} | < ${kb(r.target)} ${r.bytes < r.target ? "PASS" : "FAIL"} | ${kb(r.wasmBase64)} | ` +
        `${r.parts
          .slice(0, 5)
          .map(([f, b]) => `${f} ${kb(b)}`)
          .join(", ")} |`,
    ),
  ];
  return lines.join("\n");
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const rows = await bundleSizes();
  console.log(bundleSizeMarkdown(rows));
  for (const r of rows) {
    console.log(`\n${r.name}: ${r.bytes} bytes minified, ${r.gzip} gzipped`);
    for (const [f, b] of r.parts) console.log(`  ${String(b).padStart(6)}  ${f}`);
  }
}
