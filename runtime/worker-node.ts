/**
 * The script of a Node training thread (runtime/node.ts starts it; built to
 * dist/runtime-worker.js): imports the generated module the trainer trains and
 * serves the thread (runtime/worker.ts). A module that cannot be imported is
 * reported to the trainer as E_THREAD.
 *
 * The same script, started with `watch`, is the thread's watcher: it starts the
 * thread as its own child and reports the child's 'error' and 'exit' events in
 * the control array. Those events reach only the parent's event loop, and the
 * trainer's is blocked in Atomics.wait while a step runs; the watcher's is free,
 * so a thread that dies without running any code of its own (out of memory:
 * ERR_WORKER_OUT_OF_MEMORY; terminated) makes the trainer throw E_THREAD at
 * once instead of at its 60 s timeout.
 */
import { Worker, workerData } from "node:worker_threads";
import type { Buf, Module } from "./types.ts";
import { CTL, CTL_INTS, reportThreadDeath, reportThreadError, serveThread, type ThreadInit } from "./worker.ts";

/** How a thread script is started: code to eval (from the sources, through tsx) or a file URL (dist/). */
export interface ThreadScript {
  readonly script: string;
  readonly eval: boolean;
}

/** This script's workerData: the thread's init and module URL; with `watch`, start the thread with it and watch. */
export interface WatchedThread {
  readonly init: ThreadInit;
  readonly module: string;
  readonly watch?: ThreadScript;
}

const { init, module, watch } = workerData as WatchedThread;
if (watch) {
  const data: WatchedThread = { init, module };
  const w = watch.eval ? new Worker(watch.script, { eval: true, workerData: data }) : new Worker(new URL(watch.script), { workerData: data });
  const ctl = new Int32Array(init.ctl, 0, CTL_INTS);
  // an uncaught error (ERR_WORKER_OUT_OF_MEMORY among them): its message, then 'exit' marks the thread dead
  w.on("error", (e) => reportThreadError(init.ctl, e, Atomics.load(ctl, CTL.READY) === 1 ? "STATUS" : "READY"));
  // harmless once the trainer told the thread to quit (reportThreadDeath looks)
  w.on("exit", (code) => reportThreadDeath(init.ctl, `exited (code ${code}) while training`));
} else {
  try {
    const mod = (await import(module)) as Module<Buf>;
    serveThread(mod, init);
  } catch (e) {
    reportThreadError(init.ctl, new Error(`cannot import the model ${module}: ${(e as Error).message}`), "READY");
  }
}
