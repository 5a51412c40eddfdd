/**
 * What the trainer needs from the place it runs in, as one small interface
 * (TF.js's platform split): where `save(name)` and `load(name)` keep their
 * text, and how `fit` shows progress. The runtime's core never touches a
 * file system, `Buffer` or `process`; `browserPlatform` is the default, and
 * the Node entry (runtime/node.ts) passes `nodePlatform` (files, terminal).
 */
import type { Progress } from "./progress.ts";
import { RuntimeError } from "./types.ts";

export interface Platform {
  readonly name: string;
  /** The text stored under `name` (a file path in Node); E_IO when there is none. */
  readText(name: string): string;
  /** Stores `text` under `name`, whole or not at all. */
  writeText(name: string, text: string): void;
  /** A progress display for `fit`, or undefined for none. */
  progress(enabled: boolean): Progress | undefined;
}

interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

/** The page's localStorage, when there is one (not in workers or Node). */
const storage = (): StorageLike | undefined => {
  try {
    return (globalThis as { localStorage?: StorageLike }).localStorage;
  } catch {
    return undefined; // a sandboxed frame throws on access
  }
};

const KEY = (name: string) => `gradc:${name}`;

/**
 * A browser's: `save(name)` and `load(name)` keep checkpoints in
 * localStorage under `gradc:<name>`; no progress bar. Where there is no
 * localStorage, use `checkpoint()` and `restore(text)` and keep the text
 * yourself (IndexedDB, a download, a server).
 */
export const browserPlatform: Platform = {
  name: "browser",
  readText(name) {
    const s = storage();
    if (!s) throw noStorage(name);
    const text = s.getItem(KEY(name));
    if (text === null) throw new RuntimeError("E_IO", `no checkpoint saved as '${name}' in this page's localStorage`);
    return text;
  },
  writeText(name, text) {
    const s = storage();
    if (!s) throw noStorage(name);
    try {
      s.setItem(KEY(name), text);
    } catch (e) {
      throw new RuntimeError("E_IO", `cannot save '${name}' to localStorage (${(e as Error).message}; full?): keep trainer.checkpoint() elsewhere`, { cause: e });
    }
  },
  progress: () => undefined,
};

const noStorage = (name: string) =>
  new RuntimeError(
    "E_IO",
    `'${name}': there is no file system or localStorage here; use trainer.checkpoint() / trainer.restore(text), ` +
      `or in Node import from "gradc/runtime/node"`,
  );
