// A training thread of the demo page (a module Worker): the page's trainer
// (main.ts, createTrainer({ threads: 2, threadScript })) starts two of these
// when the page is cross-origin isolated; each serves one chunk of every batch
// (runtime/worker.ts). Bundled by build.ts into build/thread.js.
import * as mnist from "../../generated/mnist.js";
import { serveThread } from "gradc/runtime";

serveThread(mnist);
