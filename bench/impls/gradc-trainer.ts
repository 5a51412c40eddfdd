/**
 * gradc as users train with it: `createTrainer(module, { optimizer: adam(...) })`
 * and `trainStep` over the workload's batches in order ("gradc-adam"), or `fit`
 * over epochs of shuffled batches ("gradc-fit": one epoch = the workload's
 * batches, reshuffled every epoch, so its loss follows another path and is not
 * compared). On a module with wasm kernels the Adam update, its state and the
 * divergence guard's check run in the module's memory (runtime/optim.ts).
 */
import { readFileSync } from "node:fs";
import { importModule } from "../../compiler/emit/load.ts";
import { adam, createTrainer, sgd, type Module } from "../../runtime/index.ts";
import type { Impl } from "../lib/impl.ts";
import { ADAM, type Problem, type Workload } from "../lib/workloads.ts";

export async function create(w: Workload, p: Problem, jsFile: string, mode: "step" | "fit", with_: "adam" | "sgd" = "adam"): Promise<Impl> {
  const mod = (await importModule(readFileSync(jsFile, "utf8"))) as unknown as Module;
  const { layout } = mod;
  // the workload's initial weights, placed by the layout
  const init = new Float32Array(layout.paramSize);
  for (const q of p.params) {
    const slot = layout.params.find((s) => s.name === q.name);
    if (!slot || slot.shape.join() !== q.shape.join()) throw new Error(`${w.name}: param ${q.name} [${q.shape}] not in the layout as such`);
    init.set(q.data, slot.offset);
  }
  const [xn, yn] = w.inputs;
  const nb = p.batches.length;
  const data = { [xn]: new Float32Array(nb * w.batch * p.inDim), [yn]: new Float32Array(nb * w.batch * p.outDim) };
  p.batches.forEach((b, i) => {
    data[xn]!.set(b.x, i * b.x.length);
    data[yn]!.set(b.y, i * b.y.length);
  });
  const optimizer = with_ === "adam" ? adam({ lr: ADAM.lr, beta1: ADAM.beta1, beta2: ADAM.beta2, eps: ADAM.eps }) : sgd({ lr: w.lr });
  const make = () => createTrainer(mod, { optimizer, batchSize: w.batch, params: init, seed: 1 });
  const t = make();
  let k = 0;
  const wasm = Object.values(t.optimizer.state).every((s) => s.buffer === t.params.buffer);
  return {
    info: { optimizer: with_, path: mode === "step" ? "trainStep" : "fit (shuffled epochs)", wasmUpdate: String(wasm) },
    reset() {
      t.reset();
      t.params.set(init);
      k = 0;
    },
    run(steps: number) {
      if (mode === "fit") {
        t.fit(data, { epochs: Math.max(1, Math.round(steps / nb)), progress: false });
        return;
      }
      for (let s = 0; s < steps; s++) {
        t.trainStep(data, k * w.batch, w.batch);
        k = k + 1 === nb ? 0 : k + 1;
      }
    },
    lastLoss: () => t.lastLoss,
  };
}
