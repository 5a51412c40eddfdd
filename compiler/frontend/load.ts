/**
 * Loads a TypeScript model spec: bundles it with esbuild (type imports are
 * erased, so the spec needs nothing at run time), runs its default export
 * against a fresh builder, and maps every error back to the spec's own
 * file:line through the bundle's source map.
 */
import { createHash, randomBytes } from "node:crypto";
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import * as esbuild from "esbuild";
import { type ErrorCode, type ErrorInfo, GradcError } from "../errors.ts";
import { type Attrs, Graph, type Node } from "../ir/graph.ts";
import { type Leaf, type Model, showValue } from "../ir/model.ts";
import type { ChildReply, SerialModel } from "./spec-child.ts";
import { describeThrown } from "./describe.ts";

/** `examples/xor/model.ts` -> `xor`; `specs/foo.ts` -> `foo`. */
export function modelName(file: string): string {
  const base = path.basename(file).replace(/\.[cm]?[jt]s$/, "");
  return base === "model" ? path.basename(path.dirname(path.resolve(file))) : base;
}

/** The spec path as shown to users: relative to the working directory, with forward slashes. */
export const displayPath = (file: string) => path.relative(process.cwd(), path.resolve(file)).split(path.sep).join("/");

/**
 * The model name becomes the output files' name (`<dir>/<name>.ts`) and
 * `layout.name`: letters, digits, `_`, `-` and `.`, not starting with `.`
 * or `-` (no hidden files, no option-like names, nothing to escape).
 */
function checkModelName(name: string, shown: string): string {
  if (/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(name)) return name;
  throw new GradcError("E_BAD_NAME", `model name ${showValue(name)} (from the spec's file name) is not a safe file name`, {
    file: shown,
    hint: "rename the spec file (or, for a model.ts, its folder) to letters, digits, _, - and ., e.g. examples/my_model/model.ts",
  });
}

const loaderFor = (file: string): esbuild.Loader =>
  /\.[cm]?js$/.test(file) ? "js" : /\.jsx$/.test(file) ? "jsx" : /\.tsx$/.test(file) ? "tsx" : "ts";

export interface LoadOptions {
  /** The model name (default: from the file name). */
  readonly name?: string;
  /** Filled with the absolute paths of the files the spec is made of (itself and what it imports), for watching. */
  readonly deps?: Set<string>;
  /** How long the spec may run (default: GRADC_SPEC_TIMEOUT seconds, else 30 s). */
  readonly timeoutMs?: number;
}

export async function loadSpec(file: string, opts: LoadOptions = {}): Promise<Model> {
  const shown = displayPath(file);
  const abs = path.resolve(file);
  opts.deps?.add(abs);
  if (!existsSync(abs))
    throw new GradcError("E_SPEC_LOAD", `spec file not found`, { file: shown, hint: "pass the path of a model.ts, e.g. examples/xor/model.ts" });
  const name = checkModelName(opts.name ?? modelName(file), shown);
  // Start the spec's worker now: its start-up overlaps bundling the spec.
  const worker = startWorker();
  try {
    return await bundleAndRun(await worker, file, abs, shown, name, opts);
  } finally {
    void (await worker).terminate();
  }
}

async function bundleAndRun(worker: Worker, file: string, abs: string, shown: string, name: string, opts: LoadOptions): Promise<Model> {
  const bundle = path.join(tmpdir(), `gradc-spec-${randomBytes(6).toString("hex")}.mjs`);
  let built: esbuild.BuildResult;
  try {
    built = await esbuild.build({
      // Through stdin, not entryPoints: esbuild reads an entry point with `*` in its path as a glob pattern.
      stdin: { contents: readFileSync(abs, "utf8"), sourcefile: abs, resolveDir: path.dirname(abs), loader: loaderFor(abs) },
      bundle: true,
      write: false,
      format: "esm",
      platform: "node",
      target: "node20",
      sourcemap: "external",
      outfile: bundle,
      logLevel: "silent",
      metafile: opts.deps !== undefined,
    });
    for (const f of Object.keys(built.metafile?.inputs ?? {}))
      if (!f.startsWith("<") && !f.includes("node_modules")) opts.deps!.add(path.resolve(f));
  } catch (e) {
    const err = (e as esbuild.BuildFailure).errors?.[0];
    throw new GradcError("E_SPEC_LOAD", `cannot compile the spec: ${err?.text ?? String(e)}`, {
      file: err?.location ? displayPath(err.location.file) : shown,
      line: err?.location?.line,
      col: err?.location ? err.location.column + 1 : undefined,
      hint: "the spec must be valid TypeScript exporting `default (m: ModelBuilder) => { … }`",
    });
  }
  const js = built.outputFiles!.find((f) => f.path.endsWith(".mjs"))!.text;
  const map = built.outputFiles!.find((f) => f.path.endsWith(".map"))!.text;
  writeFileSync(bundle, js);
  writeFileSync(`${bundle}.map`, map);
  try {
    const t0 = performance.now();
    const model = rebuild(await runChild(worker, bundle, name, shown, abs, opts.timeoutMs ?? specTimeoutMs()));
    if (process.env.GRADC_PROFILE) console.error(`load: spec in its worker ${(performance.now() - t0) | 0} ms`);
    return model;
  } finally {
    rmSync(bundle, { force: true });
    rmSync(`${bundle}.map`, { force: true });
  }
}

/** The time a spec may take to load: GRADC_SPEC_TIMEOUT seconds (or `--spec-timeout`), default 30 s. */
export function specTimeoutMs(seconds: string | undefined = process.env.GRADC_SPEC_TIMEOUT): number {
  if (seconds === undefined || seconds === "") return DEFAULT_TIMEOUT_MS;
  const s = Number(seconds);
  if (!(s > 0) || !Number.isFinite(s))
    throw new GradcError("E_CLI", `the spec time limit must be a positive number of seconds, got '${seconds}'`, { hint: "e.g. --spec-timeout 120" });
  return s * 1000;
}
const DEFAULT_TIMEOUT_MS = 30_000;

/**
 * The worker's entry: dist/spec-child.js in the bundled CLI (scripts/build.mjs), else spec-child.ts
 * bundled once per process from the sources: the builder and its op table, nothing else.
 */
let driver: Promise<string> | undefined;
function driverBundle(): Promise<string> {
  driver ??= (async () => {
    const here = path.dirname(fileURLToPath(import.meta.url));
    const built = [path.join(here, "spec-child.js"), path.join(here, "../spec-child.js")].find((f) => existsSync(f) && here.includes(`${path.sep}dist`));
    if (built) return built;
    // From the sources (compiler/frontend/) or from the bundled CLI (dist/ or dist/chunks/): the package's own copy.
    const candidates = [here, path.join(here, "../compiler/frontend"), path.join(here, "../../compiler/frontend")].map((d) => path.join(d, "spec-child.ts"));
    const entry = candidates.find((f) => existsSync(f));
    if (!entry) throw new GradcError("E_SPEC_LOAD", "gradc's spec loader (compiler/frontend/spec-child.ts) is missing from the installation", { hint: "reinstall gradc" });
    const r = await esbuild.build({ entryPoints: [entry], bundle: true, write: false, format: "esm", platform: "node", target: "node20", logLevel: "silent", packages: "external" });
    const text = r.outputFiles[0]!.text;
    // Named by its content: processes (test workers) share one file per version instead of leaving one each;
    // an existing file is used only if it holds exactly this text.
    const out = path.join(tmpdir(), `gradc-spec-child-${createHash("sha256").update(text).digest("hex").slice(0, 20)}.mjs`);
    if (!(existsSync(out) && readFileSync(out, "utf8") === text)) {
      const tmp = `${out}.${process.pid}.${randomBytes(4).toString("hex")}`;
      writeFileSync(tmp, text);
      renameSync(tmp, out);
    }
    return out;
  })();
  return driver;
}

/**
 * Runs the spec in a worker thread (spec-child.ts) and waits for its reply and for it to finish,
 * at most `timeoutMs`.
 */
async function startWorker(): Promise<Worker> {
  const worker = new Worker(await driverBundle(), { stdout: true, stderr: true });
  // The spec's console output goes to stderr: stdout is the command's own (e.g. `check --json`).
  worker.stdout.pipe(process.stderr, { end: false });
  worker.stderr.pipe(process.stderr, { end: false });
  return worker;
}

function runChild(worker: Worker, bundle: string, name: string, shown: string, abs: string, timeoutMs: number): Promise<SerialModel> {
  return new Promise((resolve, reject) => {
    worker.postMessage({ bundle, name, shown, abs });
    let reply: ChildReply | undefined;
    let failure: GradcError | undefined;
    const finish = () => {
      clearTimeout(timer);
      if (failure) return reject(failure);
      if (reply && "ok" in reply) return resolve(reply.ok);
      if (reply) return reject(new GradcError(reply.error.code as ErrorCode, reply.error.message, reply.error.info as ErrorInfo));
      reject(
        new GradcError("E_SPEC_LOAD", "the spec ended its thread before the model was built", {
          file: shown,
          hint: "a spec only builds the model: do not exit from it",
        }),
      );
    };
    const timer = setTimeout(() => {
      failure = new GradcError("E_SPEC_LOAD", `the spec did not finish loading within ${timeoutMs / 1000} s (an endless loop, or a timer that never stops?)`, {
        file: shown,
        hint: `a spec must build its model and return; if it really needs longer, raise the limit: --spec-timeout ${Math.max(60, (timeoutMs / 1000) * 4)} (or GRADC_SPEC_TIMEOUT)`,
      });
      void worker.terminate();
    }, timeoutMs);
    worker.on("message", (m: ChildReply) => {
      if (reply && "error" in reply) return;
      reply = m;
      if ("error" in m) void worker.terminate(); // one error is the answer; nothing the spec does later matters
    });
    worker.on("error", (e) => {
      failure ??= new GradcError("E_SPEC_LOAD", `the spec threw: ${describeThrown(e).message}`, { file: shown, hint: "fix the error above in the spec" });
    });
    worker.on("exit", finish);
  });
}

/** The model from the child's data: the same nodes, built in the same order, get the same ids. */
function rebuild(s: SerialModel): Model {
  const graph = new Graph();
  const nodes: Node[] = [];
  for (const n of s.nodes) nodes.push(graph.mk(n.op, n.inputs.map((i) => nodes[i]!), n.attrs as Attrs));
  const leaf = (l: SerialModel["inputs"][number]) => ({ ...l, node: nodes[l.node]! }) as unknown as Leaf;
  return {
    name: s.name,
    source: s.source,
    graph,
    inputs: s.inputs.map(leaf),
    params: s.params.map(leaf),
    outputs: s.outputs.map((o) => ({ ...o, node: nodes[o.node]! })),
    loss: s.loss === undefined ? undefined : nodes[s.loss],
    ...(s.batch !== undefined ? { batch: s.batch } : {}),
    names: new Map(s.names),
    where: new Map(s.where),
    ...(s.boxes ? { boxes: s.boxes } : {}),
    ...(s.customs?.length
      ? { customs: new Map(s.customs.map(([id, r]) => [id, { ...r, adjoint: nodes[r.adjoint]!, vjp: r.vjp.map((d) => (d === null ? null : nodes[d]!)) }])) }
      : {}),
  };
}
