/** The hand-written Float32Array implementations (bench/handwritten/). */
import { Mlp, type Kernels } from "../handwritten/mlp.ts";
import { lectureStep, xorStep } from "../handwritten/tiny.ts";
import type { Impl } from "../lib/impl.ts";
import { sgd } from "../lib/sgd.ts";
import { flatParams, type Problem, type Workload } from "../lib/workloads.ts";

export function create(w: Workload, p: Problem, kernels: Kernels = "blocked"): Impl {
  const init = flatParams(p);
  const lr = w.lr;
  const xs = p.batches.map((b) => b.x);
  const ys = p.batches.map((b) => b.y);
  const nb = xs.length;
  let k = 0;
  // the last loss lives in a typed array: a closure `let` holding a double would box a new HeapNumber every step
  const loss = new Float64Array(1);
  if (w.loss === "softmaxce") {
    const sizes = [w.layers[0]!.in, ...w.layers.map((l) => l.out)];
    const net = new Mlp(sizes, w.batch, kernels);
    if (net.params.length !== init.length) throw new Error("hand: parameter count mismatch");
    const { params, grads } = net;
    return {
      info: { kernels },
      reset() {
        params.set(init);
        k = 0;
      },
      run(steps: number) {
        for (let s = 0; s < steps; s++) {
          const x = xs[k]!;
          const y = ys[k]!;
          k = k + 1 === nb ? 0 : k + 1;
          loss[0] = net.step(x, y);
          sgd(params, grads, lr);
        }
      },
      lastLoss: () => loss[0]!,
    };
  }
  const stepFn = w.name === "xor" ? xorStep : w.name === "lecture" ? lectureStep : undefined;
  if (!stepFn) throw new Error(`hand: no hand-written network for ${w.name}`);
  const params = new Float32Array(init.length);
  const grads = new Float32Array(init.length);
  return {
    info: { kernels: "scalar" },
    reset() {
      params.set(init);
      k = 0;
    },
    run(steps: number) {
      for (let s = 0; s < steps; s++) {
        const x = xs[k]!;
        const y = ys[k]!;
        k = k + 1 === nb ? 0 : k + 1;
        stepFn(params, grads, x, y, loss);
        sgd(params, grads, lr);
      }
    },
    lastLoss: () => loss[0]!,
  };
}
