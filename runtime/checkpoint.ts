/**
 * Checkpoints: a trainer's weights, optimizer state and position as one JSON
 * file, so that a run can stop and resume bit for bit.
 *
 *   {
 *     "format": "gradc-checkpoint", "version": 1,
 *     "model": "mnist", "source": "examples/mnist/model.ts", "precision": "f32",
 *     "params": [{ "name": "W1", "shape": [784, 128] }, …], "paramSize": 101770,
 *     "seed": 7, "epoch": 5,
 *     "optimizer": { "kind": "adam", "options": {…}, "step": 625, "state": { "m": "<base64>", "v": "<base64>" } },
 *     "weights": "<base64>",
 *     "checksum": "fnv1a32:1b2c3d4e"
 *   }
 *
 * Arrays are stored as base64 of their little-endian IEEE bytes — exact, and
 * a third of the size of decimal text. The checksum is 32-bit FNV-1a over a
 * canonical header (model, precision, parameter shapes, seed, epoch,
 * optimizer kind, step, state names) followed by the bytes of the weights
 * and of each state array, so a flipped bit or an edited step is caught on
 * load.
 *
 * A checkpoint belongs to a model by its structure — the parameters' names
 * and shapes in order, hashed into `structure` — not by the model's name or
 * source path: renaming the spec's file or folder keeps its checkpoints
 * loadable. (`model` and `source` are kept for people reading the file.)
 *
 * This file only turns state into text and back, so it runs in a browser
 * (`trainer.checkpoint()` / `trainer.restore(text or bytes)`); writing and
 * reading files (atomically, cleaning up after a killed save) is the Node
 * entry's (runtime/node.ts).
 */
import type { Buf, Layout } from "./types.ts";
import { RuntimeError } from "./types.ts";

export const CHECKPOINT_FORMAT = "gradc-checkpoint";
export const CHECKPOINT_VERSION = 1;

export type Precision = "f32" | "f64";

export interface CheckpointFile {
  readonly format: typeof CHECKPOINT_FORMAT;
  readonly version: typeof CHECKPOINT_VERSION;
  readonly model: string;
  readonly source: string;
  readonly precision: Precision;
  readonly params: readonly { readonly name: string; readonly shape: readonly number[] }[];
  readonly paramSize: number;
  /** `structureHash(layout)`: what identifies the model (absent in checkpoints written before it existed). */
  readonly structure?: string;
  readonly seed: number;
  /** Epochs completed. */
  readonly epoch: number;
  readonly optimizer: {
    readonly kind: string;
    readonly options: Readonly<Record<string, number | boolean | string>>;
    /** Updates made. */
    readonly step: number;
    readonly state: Readonly<Record<string, string>>;
  };
  readonly weights: string;
  readonly checksum: string;
}

/** What a checkpoint holds, decoded. */
export interface CheckpointData<A extends Buf = Float32Array> {
  readonly model: string;
  readonly precision: Precision;
  readonly seed: number;
  readonly epoch: number;
  readonly optimizer: { readonly kind: string; readonly step: number; readonly state: Readonly<Record<string, A>>; readonly options: Readonly<Record<string, number | boolean | string>> };
  readonly weights: A;
}

// ---- bytes --------------------------------------------------------------------------

/** 32-bit FNV-1a of `bytes`, continuing from `h` (the offset basis by default). */
export function fnv1a(bytes: Uint8Array, h = 0x811c9dc5): number {
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
  return h >>> 0;
}

// Base64 without Buffer or atob (neither is in every runtime a module may run in).
const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B64_INDEX = new Uint8Array(128).fill(255);
for (let i = 0; i < 64; i++) B64_INDEX[B64.charCodeAt(i)] = i;

/** Standard base64 (with `=` padding) of `bytes`. */
export function toBase64(bytes: Uint8Array): string {
  const parts: string[] = [];
  let chunk = "";
  for (let i = 0; i < bytes.length; i += 3) {
    const a = bytes[i]!;
    const b = i + 1 < bytes.length ? bytes[i + 1]! : 0;
    const c = i + 2 < bytes.length ? bytes[i + 2]! : 0;
    const n = (a << 16) | (b << 8) | c;
    chunk += B64[n >> 18]! + B64[(n >> 12) & 63]! + (i + 1 < bytes.length ? B64[(n >> 6) & 63]! : "=") + (i + 2 < bytes.length ? B64[n & 63]! : "=");
    if (chunk.length >= 8192) {
      parts.push(chunk);
      chunk = "";
    }
  }
  parts.push(chunk);
  return parts.join("");
}

/** The bytes of standard base64 text, or undefined when it is not base64. */
export function fromBase64(text: string): Uint8Array | undefined {
  if (text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return undefined;
  const pad = text.endsWith("==") ? 2 : text.endsWith("=") ? 1 : 0;
  const out = new Uint8Array((text.length / 4) * 3 - pad);
  let o = 0;
  for (let i = 0; i < text.length; i += 4) {
    const n =
      (B64_INDEX[text.charCodeAt(i)]! << 18) |
      (B64_INDEX[text.charCodeAt(i + 1)]! << 12) |
      ((B64_INDEX[text.charCodeAt(i + 2)]! & 63) << 6) |
      (B64_INDEX[text.charCodeAt(i + 3)]! & 63);
    out[o++] = n >> 16;
    if (o < out.length) out[o++] = (n >> 8) & 255;
    if (o < out.length) out[o++] = n & 255;
  }
  return out;
}

/** What identifies a model's checkpoints: FNV-1a over its parameters' names and shapes, in order. */
export function structureHash(layout: Pick<Layout, "params">): string {
  const text = layout.params.map((p) => `${p.name}[${p.shape.join(",")}]`).join(";");
  return `fnv1a32:${fnv1a(new TextEncoder().encode(text)).toString(16).padStart(8, "0")}`;
}

const precisionOf = (a: Buf): Precision => (a instanceof Float64Array ? "f64" : "f32");

/** The little-endian IEEE bytes of `a` (explicitly little-endian, whatever the host). */
export function floatBytes(a: Buf): Uint8Array {
  const width = a instanceof Float64Array ? 8 : 4;
  const out = new Uint8Array(a.length * width);
  const view = new DataView(out.buffer);
  if (width === 8) for (let i = 0; i < a.length; i++) view.setFloat64(i * 8, a[i]!, true);
  else for (let i = 0; i < a.length; i++) view.setFloat32(i * 4, a[i]!, true);
  return out;
}

function decodeFloats(b64: unknown, precision: Precision, length: number, what: string, file: string): Float32Array | Float64Array {
  const bytes = typeof b64 === "string" ? fromBase64(b64) : undefined;
  if (!bytes) throw corrupt(file, `${what} is not a base64 string`);
  const width = precision === "f64" ? 8 : 4;
  if (bytes.length !== length * width) throw corrupt(file, `${what} holds ${bytes.length} bytes, expected ${length * width} (${length} ${precision} numbers)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (width === 8) {
    const out = new Float64Array(length);
    for (let i = 0; i < length; i++) out[i] = view.getFloat64(i * 8, true);
    return out;
  }
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}

const corrupt = (file: string, why: string) =>
  new RuntimeError("E_CHECKPOINT_CORRUPT", `checkpoint '${file}' is corrupted: ${why}; it cannot be loaded (write it again from the run, or use an older copy)`);

function checksum(
  head: { model: string; precision: Precision; params: readonly { name: string; shape: readonly number[] }[]; seed: number; epoch: number; kind: string; step: number },
  weights: Uint8Array,
  state: readonly [string, Uint8Array][],
): string {
  const text =
    `${head.model}\n${head.precision}\n${head.params.map((p) => `${p.name}[${p.shape.join(",")}]`).join(";")}\n` +
    `${head.seed}\n${head.epoch}\n${head.kind}\n${head.step}\n${state.map(([k]) => k).join(",")}\n`;
  let h = fnv1a(new TextEncoder().encode(text));
  h = fnv1a(weights, h);
  for (const [, bytes] of state) h = fnv1a(bytes, h);
  return `fnv1a32:${h.toString(16).padStart(8, "0")}`;
}

// ---- text ---------------------------------------------------------------------------

/** The checkpoint JSON for a model's state (see the file comment). */
export function encodeCheckpoint<A extends Buf>(layout: Layout, data: CheckpointData<A>): string {
  const precision = precisionOf(data.weights);
  const params = layout.params.map((p) => ({ name: p.name, shape: [...p.shape] }));
  const names = Object.keys(data.optimizer.state).sort();
  const stateBytes = names.map((k) => [k, floatBytes(data.optimizer.state[k]!)] as [string, Uint8Array]);
  const weightBytes = floatBytes(data.weights);
  const file: CheckpointFile = {
    format: CHECKPOINT_FORMAT,
    version: CHECKPOINT_VERSION,
    model: layout.name,
    source: layout.source,
    precision,
    params,
    paramSize: layout.paramSize,
    structure: structureHash(layout),
    seed: data.seed,
    epoch: data.epoch,
    optimizer: {
      kind: data.optimizer.kind,
      options: data.optimizer.options,
      step: data.optimizer.step,
      state: Object.fromEntries(stateBytes.map(([k, b]) => [k, toBase64(b)])),
    },
    weights: toBase64(weightBytes),
    checksum: checksum({ model: layout.name, precision, params, seed: data.seed, epoch: data.epoch, kind: data.optimizer.kind, step: data.optimizer.step }, weightBytes, stateBytes),
  };
  return `${JSON.stringify(file, null, 1)}\n`;
}

/**
 * Parses and checks checkpoint JSON against `layout`: E_CHECKPOINT_CORRUPT for
 * text that is not a whole, intact checkpoint, E_CHECKPOINT_MODEL for one
 * written by a model of another structure (parameter names or shapes). The
 * model's name and source path do not count: a renamed spec still loads its
 * checkpoints. `text` may be the UTF-8 bytes of the JSON. `file` only names
 * the source in messages.
 */
export function decodeCheckpoint(text: string | Uint8Array, layout: Layout, file = "<checkpoint>"): CheckpointData<Float32Array | Float64Array> {
  let doc: Partial<CheckpointFile>;
  try {
    doc = JSON.parse(typeof text === "string" ? text : new TextDecoder("utf-8", { fatal: true }).decode(text)) as Partial<CheckpointFile>;
  } catch (e) {
    throw corrupt(file, `it is not valid JSON (${(e as Error).message}) — truncated by an interrupted copy?`);
  }
  if (!doc || typeof doc !== "object" || doc.format !== CHECKPOINT_FORMAT) throw corrupt(file, `it is not a gradc checkpoint (no "format": "${CHECKPOINT_FORMAT}")`);
  if (doc.version !== CHECKPOINT_VERSION) throw corrupt(file, `version ${String(doc.version)} is not ${CHECKPOINT_VERSION}, the one this runtime reads`);
  const other = doc.model === layout.name ? "" : ` ('${String(doc.model)}', this is '${layout.name}')`;
  const wrong = (why: string) =>
    new RuntimeError("E_CHECKPOINT_MODEL", `checkpoint '${file}' was written by another model${other}: ${why}`);
  if (typeof doc.model !== "string") throw corrupt(file, "it has no model name");
  if (!Array.isArray(doc.params)) throw corrupt(file, "it has no params list");
  const shape = (s: readonly number[]) => `[${s.join(",")}]`;
  for (let i = 0; i < Math.max(doc.params.length, layout.params.length); i++) {
    const have = doc.params[i];
    const want = layout.params[i];
    if (!want) throw wrong(`it has an extra parameter '${have?.name}'`);
    if (!have) throw wrong(`it lacks parameter '${want.name}' ${shape(want.shape)}`);
    if (have.name !== want.name || !Array.isArray(have.shape) || shape(have.shape) !== shape(want.shape))
      throw wrong(`parameter ${i} is '${have.name}' ${Array.isArray(have.shape) ? shape(have.shape) : "?"}, the model's is '${want.name}' ${shape(want.shape)} (was the spec changed?)`);
  }
  if (doc.structure !== undefined && doc.structure !== structureHash(layout)) throw wrong(`its structure hash ${String(doc.structure)} is not this model's ${structureHash(layout)}`);
  if (doc.precision !== "f32" && doc.precision !== "f64") throw corrupt(file, `precision ${JSON.stringify(doc.precision)} is neither "f32" nor "f64"`);
  const opt = doc.optimizer;
  if (!opt || typeof opt !== "object" || typeof opt.kind !== "string" || !opt.state || typeof opt.state !== "object")
    throw corrupt(file, "its optimizer entry is missing or malformed");
  const isCount = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
  if (!isCount(opt.step) || !isCount(doc.epoch) || typeof doc.seed !== "number" || !Number.isFinite(doc.seed))
    throw corrupt(file, "its step, epoch or seed is not a valid number");
  const weights = decodeFloats(doc.weights, doc.precision, layout.paramSize, "weights", file);
  const names = Object.keys(opt.state).sort();
  const state: Record<string, Float32Array | Float64Array> = {};
  for (const k of names) state[k] = decodeFloats(opt.state[k], doc.precision, layout.paramSize, `optimizer state '${k}'`, file);
  const sum = checksum(
    { model: doc.model, precision: doc.precision, params: layout.params, seed: doc.seed, epoch: doc.epoch, kind: opt.kind, step: opt.step },
    floatBytes(weights),
    names.map((k) => [k, floatBytes(state[k]!)]),
  );
  if (doc.checksum !== sum) throw corrupt(file, `checksum ${String(doc.checksum)} does not match its contents (${sum})`);
  return {
    model: layout.name,
    precision: doc.precision,
    seed: doc.seed,
    epoch: doc.epoch,
    optimizer: { kind: opt.kind, step: opt.step, state, options: opt.options ?? {} },
    weights,
  };
}
