/**
 * The script of a Node training thread (runtime/node.ts starts it; built to
 * dist/runtime-worker.js): imports the generated module the trainer trains and
 * serves the thread (runtime/worker.ts). A module that cannot be imported is
 * reported to the trainer as E_THREAD.
 */
import { workerData } from "node:worker_threads";
import type { Buf, Module } from "./types.ts";
import { reportThreadDeath, reportThreadError, serveThread, type ThreadInit } from "./worker.ts";

const { init, module } = workerData as { init: ThreadInit; module: string };
// A thread that exits mid-training (process.exit in the module's code, an uncaught error) says so through the
// control array: the trainer is blocked in Atomics.wait and sees no 'exit' event until it returns.
process.on("exit", (code) => reportThreadDeath(init.ctl, `exited (code ${code}) while training`));
try {
  const mod = (await import(module)) as Module<Buf>;
  serveThread(mod, init);
} catch (e) {
  reportThreadError(
    init.ctl,
    new Error(`cannot import the model ${module}: ${(e as Error).message}`),
    "READY",
  );
}
