/**
 * TensorFlow.js (tfjs-core 4.22) training the lenet workload, idiomatically:
 * variables + `tf.train.sgd(lr).minimize(loss, true, vars)`, channels-last
 * tensors as TF.js wants them.
 *
 * - cpu backend: `tf.conv2d` (NHWC, filters HWIO) and `tf.maxPool`.
 * - wasm backend: `tf.conv2d` cannot train there ("Kernel
 *   'Conv2DBackpropFilter' not registered for backend 'wasm'"), so each
 *   convolution is `tf.conv3d` over a depth of 1 (NDHWC, filters DHWIO) — the
 *   same arithmetic; each pool is `tf.maxPool` on the depth-squeezed 4-D view.
 *
 * The weights are the workload's (OIHW for the convolutions) rearranged into
 * TF.js's layouts; the flatten of the last pool is channels-last in TF.js
 * ([h, w, c]) and channels-first in the workload ([c, h, w]), so W3's rows are
 * permuted to match: the same network, the same numbers.
 */
import type { Impl } from "../lib/impl.ts";
import { loadTfjs, wasmDir } from "../lib/tfjs-bundle.ts";
import type { Problem, Workload } from "../lib/workloads.ts";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;

/** OIHW [K, C, R, S] → HWIO [R, S, C, K]. */
export function oihwToHwio(w: Float32Array, K: number, C: number, R: number, S: number): Float32Array {
  const out = new Float32Array(w.length);
  for (let k = 0; k < K; k++)
    for (let c = 0; c < C; c++)
      for (let r = 0; r < R; r++) for (let s = 0; s < S; s++) out[((r * S + s) * C + c) * K + k] = w[((k * C + c) * R + r) * S + s]!;
  return out;
}

/** The dense weight after a flatten: rows in [c, h, w] order → rows in [h, w, c] order. */
export function chwRowsToHwc(w: Float32Array, C: number, H: number, W: number, J: number): Float32Array {
  const out = new Float32Array(w.length);
  for (let c = 0; c < C; c++)
    for (let h = 0; h < H; h++)
      for (let x = 0; x < W; x++) out.set(w.subarray(((c * H + h) * W + x) * J, ((c * H + h) * W + x + 1) * J), ((h * W + x) * C + c) * J);
  return out;
}

export async function create(w: Workload, p: Problem, backend: "cpu" | "wasm"): Promise<Impl> {
  const convs = w.convs!;
  const [C0, H0, W0] = w.image!;
  const tf: Any = await loadTfjs();
  const info: Record<string, string> = { version: tf.version_core };
  if (backend === "wasm") tf.setWasmPaths(wasmDir());
  if (!(await tf.setBackend(backend))) throw new Error(`tfjs: backend ${backend} failed to initialize`);
  await tf.ready();
  if (backend === "wasm") {
    info.simd = String(await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT"));
    info.threads = String(tf.getThreadsCount());
  }
  info.backend = tf.getBackend();
  info.conv = backend === "wasm" ? "conv3d over depth 1 (conv2d's filter gradient is not registered on wasm) + maxPool on the 4-D view" : "conv2d + maxPool";
  const depth = backend === "wasm";

  // spatial size after each conv (valid) and pool (2)
  let hw = H0;
  const sizes: number[] = [];
  for (const c of convs) {
    hw = (hw - c.k + 1) / 2;
    sizes.push(hw);
  }
  const last = convs[convs.length - 1]!;
  const byName = new Map(p.params.map((q) => [q.name, q]));
  const inits: Any[] = [];
  for (const c of convs) {
    const f = oihwToHwio(byName.get(c.W)!.data, c.out, c.in, c.k, c.k);
    inits.push(tf.tensor(f, depth ? [1, c.k, c.k, c.in, c.out] : [c.k, c.k, c.in, c.out], "float32"));
    inits.push(tf.tensor1d(byName.get(c.b)!.data, "float32"));
  }
  w.layers.forEach((l, i) => {
    let W = byName.get(l.W)!.data;
    if (i === 0) W = chwRowsToHwc(W, last.out, hw, hw, l.out);
    inits.push(tf.tensor2d(W, [l.in, l.out], "float32"));
    inits.push(tf.tensor2d(byName.get(l.b)!.data, [1, l.out], "float32"));
  });
  const vars = inits.map((t: Any, i: number) => tf.variable(t.clone(), true, `${w.name}_${i}`));
  if (C0 !== 1 && !depth) throw new Error("lenet: channels-last input needs C = 1 here (the workload's NCHW bytes)");
  // x: NCHW with C = 1 has the bytes of NHWC (and of NDHWC with D = 1)
  const xs = p.batches.map((b) => tf.tensor(b.x, depth ? [w.batch, 1, H0, W0, C0] : [w.batch, H0, W0, C0], "float32"));
  const ys = p.batches.map((b) => tf.tensor2d(b.y, [w.batch, p.outDim]));

  const lossFn = (x: Any, t: Any): Any => {
    let a = x;
    convs.forEach((_, i) => {
      const z = depth ? tf.conv3d(a, vars[2 * i], 1, "valid") : tf.conv2d(a, vars[2 * i], 1, "valid");
      const r = tf.relu(tf.add(z, vars[2 * i + 1]));
      // wasm: the pool on the 4-D view (MaxPool and its gradient are registered there); maxPool3d's gradient on wasm
      // gives other numbers (loss after 2 steps 2.710062 instead of 2.710039, measured: cpu, jax-js and C agree on the latter)
      a = depth ? tf.expandDims(tf.maxPool(tf.squeeze(r, [1]), 2, 2, "valid"), 1) : tf.maxPool(r, 2, 2, "valid");
    });
    a = tf.reshape(a, [w.batch, last.out * sizes[sizes.length - 1]! ** 2]);
    const o = 2 * convs.length;
    const L = w.layers.length;
    for (let l = 0; l < L; l++) {
      const z = tf.add(tf.matMul(a, vars[o + 2 * l]), vars[o + 2 * l + 1]);
      a = l === L - 1 ? z : tf.relu(z);
    }
    return tf.mean(tf.sub(tf.logSumExp(a, 1), tf.sum(tf.mul(t, a), 1)));
  };
  const opt = tf.train.sgd(w.lr);
  info.optimizer = "sgd";
  const nb = xs.length;
  let k = 0;
  let lastLoss = NaN;
  return {
    info,
    reset() {
      for (let i = 0; i < vars.length; i++) vars[i].assign(inits[i]);
      k = 0;
    },
    run(steps: number) {
      for (let s = 0; s < steps; s++) {
        const x = xs[k];
        const t = ys[k];
        k = k + 1 === nb ? 0 : k + 1;
        const cost = opt.minimize(() => lossFn(x, t), true, vars);
        lastLoss = cost.dataSync()[0];
        cost.dispose();
      }
    },
    lastLoss: () => lastLoss,
  };
}
