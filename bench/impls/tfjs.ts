/**
 * TensorFlow.js (tfjs-core 4.22) on its cpu backend (plain JS kernels) or
 * its wasm backend (XNNPACK, SIMD; the .wasm files ship in the package and
 * are loaded from its dist/ directory on disk). Idiomatic training:
 * variables + `tf.train.sgd(lr).minimize(loss, true, vars)`.
 *
 * The packages live in bench/node_modules (bench/package.json); see
 * lib/tfjs-bundle.ts for how they are loaded (tfjs-core's Node build ships
 * no gradients).
 */
import type { Impl } from "../lib/impl.ts";
import { loadTfjs, wasmDir } from "../lib/tfjs-bundle.ts";
import { ADAM, type Problem, type Workload } from "../lib/workloads.ts";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;

export async function create(w: Workload, p: Problem, backend: "cpu" | "wasm", optimizer: "sgd" | "adam" = "sgd"): Promise<Impl> {
  const tf: Any = await loadTfjs();
  const info: Record<string, string> = { version: tf.version_core };
  if (backend === "wasm") tf.setWasmPaths(wasmDir());
  if (!(await tf.setBackend(backend))) throw new Error(`tfjs: backend ${backend} failed to initialize`);
  await tf.ready();
  if (backend === "wasm") {
    info.simd = String(await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT"));
    info.multithread = String(await tf.env().getAsync("WASM_HAS_MULTITHREAD_SUPPORT"));
    info.threads = String(tf.getThreadsCount());
  }
  info.backend = tf.getBackend();

  const inits = p.params.map((q) => tf.tensor2d(q.data, q.shape, "float32"));
  const vars = p.params.map((q, i) => tf.variable(inits[i].clone(), true, `${w.name}_${q.name}`));
  const xs = p.batches.map((b) => tf.tensor2d(b.x, [w.batch, p.inDim]));
  const ys = p.batches.map((b) => tf.tensor2d(b.y, [w.batch, p.outDim]));
  const L = w.layers.length;

  const lossFn = (x: Any, t: Any): Any => {
    let a = x;
    for (let l = 0; l < L; l++) {
      const z = tf.add(tf.matMul(a, vars[2 * l]), vars[2 * l + 1]);
      a = l === L - 1 ? z : w.hidden === "relu" ? tf.relu(z) : tf.sigmoid(z);
    }
    const z = a;
    switch (w.loss) {
      case "softmaxce": // mean over rows of logsumexp(z) - y·z
        return tf.mean(tf.sub(tf.logSumExp(z, 1), tf.sum(tf.mul(t, z), 1)));
      case "bce": // mean of max(z,0) - z t + log1p(exp(-|z|))
        return tf.mean(tf.add(tf.sub(tf.relu(z), tf.mul(z, t)), tf.log1p(tf.exp(tf.neg(tf.abs(z))))));
      case "se": // sum of 0.5 (y - t)^2
        return tf.sum(tf.mul(0.5, tf.square(tf.sub(z, t))));
    }
  };

  const opt = optimizer === "adam" ? tf.train.adam(ADAM.lr, ADAM.beta1, ADAM.beta2, ADAM.eps) : tf.train.sgd(w.lr);
  info.optimizer = optimizer;
  const nb = xs.length;
  let k = 0;
  let last = NaN;
  return {
    info,
    reset() {
      for (let i = 0; i < vars.length; i++) vars[i].assign(inits[i]);
      if (optimizer === "adam") {
        // Adam's moments and step count start over: zero the slots it made (tf.train.adam has no reset)
        for (const a of [...(opt.accumulatedFirstMoment ?? []), ...(opt.accumulatedSecondMoment ?? [])]) a.variable.assign(tf.zerosLike(a.variable));
        opt.accBeta1?.assign(tf.scalar(ADAM.beta1));
        opt.accBeta2?.assign(tf.scalar(ADAM.beta2));
      }
      k = 0;
    },
    run(steps: number) {
      for (let s = 0; s < steps; s++) {
        const x = xs[k];
        const t = ys[k];
        k = k + 1 === nb ? 0 : k + 1;
        const cost = opt.minimize(() => lossFn(x, t), true, vars);
        last = cost.dataSync()[0]; // read every step, as gradc's and the hand-written loops do
        cost.dispose();
      }
    },
    lastLoss: () => last,
  };
}
