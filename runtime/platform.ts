/**
 * What the trainer needs from the place it runs in, as one small interface
 * (TF.js's platform split): where `save(name)` and `load(name)` keep their
 * text, and how `fit` shows progress. The runtime's core never touches a
 * file system, `Buffer` or `process`; `browserPlatform` is the default, and
 * the Node entry (runtime/node.ts) passes `nodePlatform` (files, terminal).
 */
import type { Progress } from "./progress.ts";
import type { ThreadHandle } from "./threads.ts";
import { RuntimeError } from "./types.ts";
import { reportThreadError, type ThreadInit } from "./worker.ts";

export interface Platform {
  readonly name: string;
  /** The text stored under `name` (a file path in Node); E_IO when there is none. */
  readText(name: string): string;
  /** Stores `text` under `name`, whole or not at all. */
  writeText(name: string, text: string): void;
  /** A progress display for `fit`, or undefined for none. */
  progress(enabled: boolean): Progress | undefined;
  /**
   * Starts a training thread (`threads: n`, runtime/threads.ts) serving `init`: in Node a worker_threads
   * Worker importing the generated module at `where.module`; in a browser a module Worker running the
   * app's script `where.script` (which calls `serveThread(module)`). Absent: no threads here.
   */
  spawnThread?(init: ThreadInit, where: { readonly module?: string; readonly script?: string | URL }): ThreadHandle;
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
  spawnThread(init, where) {
    const W = (globalThis as { Worker?: new (url: string | URL, opts: { type: "module" }) => BrowserWorker }).Worker;
    if (W === undefined) throw new RuntimeError("E_THREAD", "threads: this place has no Worker to start training threads in");
    if (where.script === undefined)
      throw new RuntimeError(
        "E_THREAD",
        "threads: in a browser, pass threadScript: new URL(\"./train-thread.js\", import.meta.url) — a module script that calls serveThread(module) for this model (see runtime/worker.ts)",
      );
    const w = new W(where.script, { type: "module" });
    // A script that fails to load never reports itself: say so on its behalf (an async wait sees it).
    w.onerror = (e) => {
      e.preventDefault?.();
      reportThreadError(init.ctl, new Error(`the thread script ${String(where.script)} failed: ${e.message ?? "it did not load"}`), "READY");
    };
    w.postMessage(init);
    return { terminate: () => w.terminate() };
  },
};

interface BrowserWorker {
  onerror: ((e: { message?: string; preventDefault?: () => void }) => void) | null;
  postMessage(data: unknown): void;
  terminate(): void;
}

const noStorage = (name: string) =>
  new RuntimeError(
    "E_IO",
    `'${name}': there is no file system or localStorage here; use trainer.checkpoint() / trainer.restore(text), ` +
      `or in Node import from "gradc/runtime/node"`,
  );
