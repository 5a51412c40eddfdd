/**
 * TensorFlow.js for Node, as a bundler user gets it: tfjs-core's npm `main`
 * (dist/tf-core.node.js) registers no gradients, and its gradient registry
 * (`@tensorflow/tfjs-core/dist/register_all_gradients`) is only shipped as
 * ESM with extensionless imports that Node cannot load. So the bench bundles
 * tfjs-core (ESM build) + all gradients + the cpu backend + the wasm backend
 * into one CommonJS file with esbuild (a gradc dependency) — one tfjs
 * instance, exactly what webpack/rollup/esbuild users of tfjs run — cached in
 * the OS temp dir by package versions.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const BENCH = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(import.meta.url);

const ENTRY = `
export * from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-core/dist/register_all_gradients";
import "@tensorflow/tfjs-backend-cpu";
export { setWasmPaths, setThreadsCount, getThreadsCount } from "@tensorflow/tfjs-backend-wasm";
`;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function loadTfjs(): Promise<any> {
  const versions = ["tfjs-core", "tfjs-backend-cpu", "tfjs-backend-wasm"].map(
    (p) => JSON.parse(readFileSync(path.join(BENCH, "node_modules", "@tensorflow", p, "package.json"), "utf8")).version as string,
  );
  const out = path.join(tmpdir(), `gradc-bench-tfjs-${versions.join("-")}.cjs`);
  if (!existsSync(out)) {
    const r = await esbuild.build({
      stdin: { contents: ENTRY, resolveDir: BENCH, loader: "js" },
      bundle: true,
      write: false,
      platform: "node",
      format: "cjs",
      target: "node20",
      mainFields: ["module", "main"],
      logLevel: "silent",
    });
    const tmp = `${out}.${process.pid}.tmp`;
    writeFileSync(tmp, r.outputFiles[0]!.text);
    renameSync(tmp, out);
  }
  return require(out);
}

/** Where the wasm backend's .wasm files are on disk. */
export const wasmDir = () => path.join(BENCH, "node_modules", "@tensorflow", "tfjs-backend-wasm", "dist") + path.sep;
