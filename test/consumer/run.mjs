// The consumer test (`npm run test:consumer`, run by .ci/run): gradc as a user gets it.
// Packs the package, installs the tarball into fresh apps in a temp folder and runs README's
// "Use gradc in your app" blocks there verbatim (the only change: `npm install gradc` installs the
// tarball): an ESM app compiles a spec with `npx gradc`, trains in Node, type-checks a consumer
// under tsc --strict (node16, nodenext, bundler) and bundles a page for the browser with esbuild
// (then runs the bundle in a context with no Node globals); a CommonJS app trains with require();
// a runtime-only app (--omit=optional) trains the generated module without the compiler. Measures
// the installed sizes and the minified browser bundles (xor and mnist, inference and training).
// Prints one line per check, then `consumer: N passed, N failed`; GRADC_KEEP=1 keeps the folder;
// --write writes the size table to bench/SIZES.md (which bench/bench.ts puts into BENCHMARKS.md).
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import vm from "node:vm";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const HERE = path.join(ROOT, "test/consumer");
const TSC = path.join(ROOT, "node_modules/typescript/bin/tsc");
const work = mkdtempSync(path.join(tmpdir(), "gradc-consumer-"));
const results = [];
const sizes = {};
const t0 = performance.now();

function check(name, fn) {
  const t = performance.now();
  try {
    const note = fn();
    results.push(true);
    console.log(`ok    ${name} (${((performance.now() - t) / 1000).toFixed(1)} s)${note ? `: ${note}` : ""}`);
  } catch (e) {
    results.push(false);
    console.log(`FAIL  ${name}\n${String(e?.stdout ?? "")}${String(e?.stderr ?? "")}${e?.stack ?? e}`.replace(/\n/g, "\n      "));
  }
}

/** Runs a command in `cwd`; throws with its output when it fails. */
function run(cwd, cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd, encoding: "utf8", env: { ...process.env, CI: "1", npm_config_audit: "false", npm_config_fund: "false", ...opts.env } });
  if (r.status !== 0 && !opts.fail) {
    const err = new Error(`${cmd} ${args.join(" ")} exited ${r.status} in ${cwd}`);
    Object.assign(err, { stdout: r.stdout, stderr: r.stderr });
    throw err;
  }
  return r;
}
const sh = (cwd, line) => run(cwd, "sh", ["-c", line]);

/** README's blocks marked `<!-- consumer: NAME -->`, by name. */
function readmeBlocks() {
  const text = readFileSync(path.join(ROOT, "README.md"), "utf8");
  const blocks = {};
  for (const m of text.matchAll(/<!-- consumer: (\S+) -->\n```\w*\n([\s\S]*?)```/g)) blocks[m[1]] = m[2];
  for (const want of ["xor.ts", "train.mjs", "node.sh", "train.cjs", "page.js", "bundle.sh"])
    if (!blocks[want]) throw new Error(`README.md has no block marked <!-- consumer: ${want} -->`);
  return blocks;
}

/** The shell lines of a block, in order, with `npm install gradc` pointed at the tarball. */
const shellLines = (block, tarball) =>
  block
    .split("\n")
    .map((l) => l.replace(/\s+#.*$/, "").trim())
    .filter(Boolean)
    .map((l) => l.replace(/^npm install gradc(?=\s|$)/, `npm install --prefer-offline ${tarball}`));

const du = (dir) => {
  let n = 0;
  for (const f of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, f.name);
    if (f.isDirectory()) n += du(p);
    else if (f.isFile()) n += statSync(p).size;
  }
  return n;
};
const mb = (n) => `${(n / 1e6).toFixed(n < 1e7 ? 2 : 0)} MB`;
const kb = (n) => `${(n / 1024).toFixed(1)} KB`;

function app(name, type) {
  const dir = path.join(work, name);
  mkdirSync(dir);
  writeFileSync(path.join(dir, "package.json"), `${JSON.stringify({ name, version: "1.0.0", private: true, type }, null, 2)}\n`);
  return dir;
}

const blocks = readmeBlocks();
let tarball = "";
check("npm pack", () => {
  run(ROOT, process.execPath, ["scripts/build.mjs"]); // what the tarball ships is built from the sources as they are
  const out = run(ROOT, "npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", work]).stdout;
  const [info] = JSON.parse(out);
  tarball = path.join(work, info.filename);
  const files = info.files.map((f) => f.path);
  const bad = files.filter((f) => /^(test|bench|\.ci|scripts|compiler|runtime|generated)\//.test(f) || f.endsWith(".map"));
  if (bad.length) throw new Error(`the tarball ships ${bad.join(", ")}`);
  for (const need of ["dist/index.js", "dist/dsl.js", "dist/cli.js", "dist/runtime.js", "dist/runtime-node.js", "dist/runtime-worker.js", "bin/gradc.js", "dist/types/runtime/index.d.ts"])
    if (!files.includes(need)) throw new Error(`the tarball lacks ${need}`);
  const pkg = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8"));
  if (pkg.sideEffects !== false) throw new Error(`package.json sideEffects is ${pkg.sideEffects}`);
  sizes.tarball = info.size;
  return `${files.length} files, ${kb(info.size)} packed, ${kb(info.unpackedSize)} unpacked`;
});

// ---- an ESM app: README's Node lines, verbatim -----------------------------------------
const esm = app("esm-app", "module");
writeFileSync(path.join(esm, "xor.ts"), blocks["xor.ts"]);
writeFileSync(path.join(esm, "train.mjs"), blocks["train.mjs"]);
check("ESM app: README's install, compile and train lines", () => {
  const out = shellLines(blocks["node.sh"], tarball).map((l) => sh(esm, l).stdout).join("");
  for (const f of ["generated/xor.js", "generated/xor.d.ts", "xor.weights.json"])
    if (!existsSync(path.join(esm, f))) throw new Error(`no ${f} after the README's lines`);
  if (existsSync(path.join(esm, "generated/package.json"))) throw new Error("an ESM app got a marker package.json it does not need");
  if (existsSync(path.join(esm, "generated/xor.ts"))) throw new Error("compile wrote xor.ts without --ts");
  if (!/accuracy: 1\b/.test(out)) throw new Error(`training did not reach accuracy 1:\n${out}`);
  sizes.full = du(path.join(esm, "node_modules"));
  return `trained to ${/loss: ([\d.e-]+)/.exec(out)?.[1]}; node_modules ${mb(sizes.full)}`;
});

check("the CLI: --version, --help, compile --help, errors as one line", () => {
  const version = sh(esm, "npx gradc --version").stdout.trim();
  if (version !== `gradc ${JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")).version}`) throw new Error(`--version printed '${version}'`);
  for (const cmd of ["--help", "compile --help", "check --help", "grad --help", "regen --help", "demo --help"])
    if (!/^usage: gradc/.test(sh(esm, `npx gradc ${cmd}`).stdout)) throw new Error(`gradc ${cmd} printed no usage`);
  for (const [cmd, code] of [
    ["regen", "E_CLI"],
    ["compile no-such.ts", "E_SPEC_LOAD"],
    ["compile xor.ts --backend gpu", "E_CLI"],
    ["compile xor.ts --precision f16", "E_CLI"],
    ["check", "E_CLI"],
  ]) {
    const r = run(esm, "sh", ["-c", `npx gradc ${cmd}`], { fail: true });
    if (r.status === 0 || !new RegExp(`^error\\[${code}\\] `).test(r.stderr) || /\n\s+at /.test(r.stderr))
      throw new Error(`gradc ${cmd}: exit ${r.status}, stderr:\n${r.stderr}`);
  }
  sh(esm, "npx gradc demo xor --steps 2000"); // the demo's spec ships in the package (examples/*/model.ts)
  sh(esm, "npx gradc check xor.ts");
  // The compiler API from plain Node, no TypeScript loader: gradc and gradc/dsl are built JS.
  writeFileSync(
    path.join(esm, "api.mjs"),
    `import { compile } from "gradc";
import { builder } from "gradc/dsl";
const m = builder("lin", "api.mjs");
const w = m.param("w", [2]);
m.loss(m.sum(w.mul(w)));
const c = await compile(m.finish());
const mod = await import("data:text/javascript," + encodeURIComponent(c.js));
const b = mod.buffers();
b.params.set([1, 2]);
mod.forward(b.params, b.inputs, b.arena);
mod.backward(b.params, b.inputs, b.arena, b.grads);
console.log(b.arena[mod.layout.lossOffset] === 5 && b.grads[0] === 2 && b.grads[1] === 4 && c.dts.includes("export declare function backward"));\n`,
  );
  if (run(esm, process.execPath, ["api.mjs"]).stdout.trim() !== "true") throw new Error("compile() from gradc did not emit a module with backward");
  run(esm, "npx", ["gradc", "compile", "xor.ts", "-o", "f64", "--precision", "f64", "--backend", "js"]);
  if (!/Float64Array/.test(readFileSync(path.join(esm, "f64/xor.js"), "utf8"))) throw new Error("--precision f64 did not build a Float64Array module");
  run(esm, "npx", ["gradc", "compile", "xor.ts", "-o", "."]);
  const head = readFileSync(path.join(esm, "xor.js"), "utf8").split("\n")[1];
  if (head !== "// Regenerate with: npx gradc compile xor.ts -o .") throw new Error(`-o . header: ${head}`);
  run(esm, "npx", ["gradc", "compile", "xor.ts", "-o", "standalone", "--standalone"]);
  const alone = readFileSync(path.join(esm, "standalone/xor.js"), "utf8");
  if (/\bimport\b/.test(alone) || /createTrainer/.test(alone)) throw new Error("--standalone output imports something");
});

check("tsc --strict: the consumer and the compiler API, node16 / nodenext / bundler", () => {
  cpSync(path.join(HERE, "consumer.ts"), path.join(esm, "consumer.ts"));
  cpSync(path.join(HERE, "compiler-api.ts"), path.join(esm, "compiler-api.ts"));
  for (const [mod, res] of [["node16", "node16"], ["nodenext", "nodenext"], ["esnext", "bundler"]]) {
    tsconfig(esm, `tsconfig.${res}.json`, { module: mod, moduleResolution: res, exactOptionalPropertyTypes: true }, ["consumer.ts", "compiler-api.ts"]);
    run(esm, process.execPath, [TSC, "-p", `tsconfig.${res}.json`]);
  }
  return "no @types/node, no skipLibCheck";
});

check("bundler: README's esbuild lines build the page for the browser; it trains with no Node global", () => {
  writeFileSync(path.join(esm, "page.js"), blocks["page.js"]);
  for (const l of shellLines(blocks["bundle.sh"], tarball)) sh(esm, l);
  const bundle = readFileSync(path.join(esm, "public/page.js"), "utf8");
  // A page's globals only: no process, Buffer, require, module.
  const store = new Map();
  const page = {
    document: { body: { textContent: "" } },
    localStorage: { getItem: (k) => store.get(k) ?? null, setItem: (k, v) => void store.set(k, String(v)) },
    console,
    performance,
    TextEncoder,
    TextDecoder,
    WebAssembly,
    atob,
    btoa,
  };
  vm.runInNewContext(bundle, page);
  if (page.document.body.textContent !== "accuracy 1") throw new Error(`the page shows '${page.document.body.textContent}'`);
  if (!store.has("gradc:xor")) throw new Error("save('xor') wrote nothing to localStorage");
  sizes.xorTrain = bundle.length;
  return `public/page.js ${kb(bundle.length)}, checkpoint in localStorage`;
});

/** A consumer's tsconfig: strict, noUncheckedIndexedAccess, no @types (so no Node types to lean on), no skipLibCheck. */
function tsconfig(dir, name, options, files) {
  const compilerOptions = { strict: true, noUncheckedIndexedAccess: true, noEmit: true, target: "es2022", lib: ["es2022", "dom"], types: [], skipLibCheck: false, ...options };
  writeFileSync(path.join(dir, name), JSON.stringify({ compilerOptions, files }, null, 2));
}

/** A minified browser bundle of `source` (an ES module in the ESM app); its size. */
function bundleSize(name, source) {
  writeFileSync(path.join(esm, `${name}.mjs`), source);
  run(esm, "npx", ["esbuild", `${name}.mjs`, "--bundle", "--platform=browser", "--format=esm", "--minify", `--outfile=public/${name}.js`]);
  return statSync(path.join(esm, `public/${name}.js`)).size;
}

check("bundles: inference alone is the generated code; mnist inference and training", () => {
  const infer = (mod) => `import { buffers, forward, layout } from "./generated/${mod}.js";
const b = buffers();
forward(b.params, b.inputs, b.arena);
console.log(layout.name, b.arena[layout.outputs[0].offset]);\n`;
  sizes.xorInfer = bundleSize("xor-infer", infer("xor"));
  const js = readFileSync(path.join(esm, "generated/xor.js"), "utf8");
  if (readFileSync(path.join(esm, "public/xor-infer.js"), "utf8").includes("RuntimeError")) throw new Error("the inference bundle holds the runtime");
  run(esm, "npx", ["gradc", "compile", "node_modules/gradc/examples/mnist/model.ts", "-o", "generated/"]);
  sizes.mnistInfer = bundleSize("mnist-infer", infer("mnist"));
  sizes.mnistTrain = bundleSize(
    "mnist-train",
    `import { adam, dataset } from "gradc/runtime";
import { createTrainer } from "./generated/mnist.js";
const t = createTrainer({ optimizer: adam({ lr: 1e-3 }), batchSize: 64, seed: 1 });
t.fit({ x: new Float32Array(64 * 784), y: new Float32Array(64 * 10) }, { epochs: 1 });
localStorage.setItem("mnist", t.checkpoint());\n`,
  );
  // The .d.ts of a batched model with wasm kernels (n?: number, the literal batch size) under the same strict settings.
  writeFileSync(
    path.join(esm, "mnist-types.mts"),
    `import { adam, type Trainer } from "gradc/runtime";
import { buffers, createTrainer, forward, layout } from "./generated/mnist.js";
export const t: Trainer<"x" | "y", "probs"> = createTrainer({ optimizer: adam({ lr: 1e-3 }), batchSize: 64 });
const b = buffers();
forward(b.params, b.inputs, b.arena, 10);
export const B: 64 = layout.batch;\n`,
  );
  tsconfig(esm, "tsconfig.mnist.json", { module: "nodenext", moduleResolution: "nodenext" }, ["mnist-types.mts"]);
  run(esm, process.execPath, [TSC, "-p", "tsconfig.mnist.json"]);
  return `xor inference ${kb(sizes.xorInfer)} (xor.js itself ${kb(js.length)}), mnist inference ${kb(sizes.mnistInfer)}, mnist training ${kb(sizes.mnistTrain)}`;
});

check("threads from the installed package: createTrainer({ threads: 2 }) trains mnist on two worker_threads, bit-identical run to run", () => {
  // generated/mnist.js: compiled by the bundles check above (m.batch(64): two threads train batches of 128)
  writeFileSync(
    path.join(esm, "threads.mjs"),
    `import { adam } from "gradc/runtime";
import { createTrainer } from "./generated/mnist.js";
const n = 512;
const x = new Float32Array(n * 784);
const y = new Float32Array(n * 10);
let s = 7;
const rand = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
for (let i = 0; i < x.length; i++) x[i] = rand();
for (let i = 0; i < n; i++) y[i * 10 + (i % 10)] = 1;
const run = async (threads) => {
  const t = createTrainer({ optimizer: adam({ lr: 1e-3 }), batchSize: 128, seed: 3, threads });
  await t.ready();
  const h = t.fit({ x, y }, { epochs: 2, progress: false });
  const r = { threads: t.threads, loss: h.loss, params: Float32Array.from(t.params) };
  t.close();
  return r;
};
const [a, b] = [await run(2), await run(2)];
const same = a.params.every((v, i) => Object.is(v, b.params[i]));
console.log(JSON.stringify({ threads: a.threads, same, loss: a.loss, again: b.loss }));\n`,
  );
  const out = JSON.parse(run(esm, process.execPath, ["threads.mjs"]).stdout.trim().split("\n").pop());
  if (out.threads !== 2) throw new Error(`the trainer runs ${out.threads} thread(s), not 2: the worker script did not start from the package`);
  if (!out.same || JSON.stringify(out.loss) !== JSON.stringify(out.again)) throw new Error(`two runs of threads: 2 differ: ${JSON.stringify(out)}`);
  if (!(out.loss[1] < out.loss[0])) throw new Error(`the loss did not fall: ${out.loss}`);
  return `2 threads, loss ${out.loss.map((l) => l.toFixed(4)).join(" -> ")}, two runs bit-identical`;
});

// ---- a CommonJS app ---------------------------------------------------------------------
const cjs = app("cjs-app", "commonjs");
writeFileSync(path.join(cjs, "xor.ts"), blocks["xor.ts"]);
writeFileSync(path.join(cjs, "train.cjs"), `${blocks["train.cjs"]}console.log(trainer.evaluate({ x: Float32Array.of(0, 0, 0, 1, 1, 0, 1, 1), t: Float32Array.of(0, 1, 1, 0) }));\n`);
check('CommonJS app ("type": "commonjs"): compile, then require() the runtime and the generated module', () => {
  for (const l of shellLines(blocks["node.sh"], tarball).filter((l) => !l.startsWith("node "))) sh(cjs, l);
  const out = run(cjs, process.execPath, ["train.cjs"]).stdout;
  if (!/accuracy: 1\b/.test(out)) throw new Error(`training did not reach accuracy 1:\n${out}`);
  cpSync(path.join(HERE, "consumer.ts"), path.join(cjs, "consumer.cts"));
  if (!existsSync(path.join(cjs, "generated/package.json"))) throw new Error("no ESM marker generated/package.json in a CommonJS app");
  tsconfig(cjs, "tsconfig.json", { module: "nodenext", moduleResolution: "nodenext" }, ["consumer.cts"]);
  run(cjs, process.execPath, [TSC, "-p", "tsconfig.json"]);
  return "trained; consumer.cts type-checks under nodenext";
});

// ---- a runtime-only app -----------------------------------------------------------------
const small = app("runtime-only-app", "module");
check("runtime-only app (npm install gradc --omit=optional): trains the generated module; compile says what it misses", () => {
  run(small, "npm", ["install", "--prefer-offline", "--omit=optional", tarball]);
  cpSync(path.join(esm, "generated"), path.join(small, "generated"), { recursive: true });
  cpSync(path.join(esm, "xor.ts"), path.join(small, "xor.ts"));
  writeFileSync(path.join(small, "train.mjs"), blocks["train.mjs"]);
  const out = run(small, process.execPath, ["train.mjs"]).stdout;
  if (!/accuracy: 1\b/.test(out)) throw new Error(`training did not reach accuracy 1:\n${out}`);
  for (const p of ["binaryen", "prettier", "ts-morph", "esbuild", "mathjs", "mnist"])
    if (existsSync(path.join(small, "node_modules", p))) throw new Error(`--omit=optional still installed ${p}`);
  const r = run(small, "npx", ["gradc", "compile", "xor.ts"], { fail: true });
  if (r.status === 0 || !/^error\[E_DEPENDENCY\] /.test(r.stderr) || /\n\s+at /.test(r.stderr)) throw new Error(`compile without the compiler: ${r.stderr}`);
  sizes.runtimeOnly = du(path.join(small, "node_modules"));
  sizes.runtimeOnlyGradc = du(path.join(small, "node_modules/gradc"));
  return `node_modules ${mb(sizes.runtimeOnly)} (with the compiler: ${mb(sizes.full)})`;
});

/** bench/SIZES.md (with --write): the size table bench/bench.ts puts into BENCHMARKS.md. */
function writeSizes() {
  const commit = run(ROOT, "git", ["rev-parse", "--short", "HEAD"]).stdout.trim();
  const rows = [
    ["`npm install gradc`: compiler and runtime (node_modules)", mb(sizes.full), "compile and train"],
    ["`npm install gradc --omit=optional`: the runtime alone (node_modules)", mb(sizes.runtimeOnly), `train a generated module (gradc itself ${mb(sizes.runtimeOnlyGradc)}; the rest is cli-progress)`],
    ["the packed tarball (`npm pack`)", kb(sizes.tarball), ""],
    ["browser bundle, xor inference only (`layout`, `buffers`, `forward`)", kb(sizes.xorInfer), "the generated code alone: the runtime import is dropped"],
    ["browser bundle, xor training page (README's page.js)", kb(sizes.xorTrain), "trainer, Adam, data, localStorage checkpoint"],
    ["browser bundle, mnist inference only", kb(sizes.mnistInfer), `target < 30 KB: ${sizes.mnistInfer < 30 * 1024 ? "PASS" : "FAIL"}`],
    ["browser bundle, mnist training (trainer + Adam + checkpoint)", kb(sizes.mnistTrain), `target < 80 KB: ${sizes.mnistTrain < 80 * 1024 ? "PASS" : "FAIL"}`],
  ];
  const md = [
    `Written by \`npm run test:consumer -- --write\` (test/consumer/run.mjs) at commit ${commit}, ${new Date().toISOString().slice(0, 10)}: sizes of what an`,
    "app installs and ships, measured in fresh apps from the packed tarball (bytes on disk of the installed files;",
    "bundles by esbuild --bundle --platform=browser --format=esm --minify, before gzip).",
    "",
    "| what | size | note |",
    "|:---|---:|:---|",
    ...rows.map((r) => `| ${r.join(" | ")} |`),
    "",
  ].join("\n");
  writeFileSync(path.join(ROOT, "bench/SIZES.md"), md);
  console.log("wrote bench/SIZES.md");
}
if (process.argv.includes("--write") && results.every(Boolean)) writeSizes();

const passed = results.filter(Boolean).length;
const failed = results.length - passed;
console.log(`\nsizes (bytes): ${JSON.stringify(sizes)}`);
console.log(`${((performance.now() - t0) / 1000).toFixed(0)} s in ${work}`);
if (!process.env.GRADC_KEEP) rmSync(work, { recursive: true, force: true });
console.log(`consumer: ${passed} passed, ${failed} failed`);
process.exitCode = failed ? 1 : 0;
