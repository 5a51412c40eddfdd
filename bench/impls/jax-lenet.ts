/**
 * jax-js (0.1.25, wasm device) training the lenet workload the way JAX code
 * is written: `lax.conv` (NCHW input, OIHW kernel — the workload's own
 * layouts), `lax.reduceWindow` with `np.max` for the 2×2 pools, and the whole
 * SGD step — `valueAndGrad` of the loss and `p - lr·g` — under one `jit`.
 * Like impls/jax.ts, the loss is read with `dataSync()` every step.
 */
import { createRequire } from "node:module";
import type { Impl } from "../lib/impl.ts";
import type { Problem, Workload } from "../lib/workloads.ts";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;

export async function create(w: Workload, p: Problem): Promise<Impl> {
  const convs = w.convs!;
  const [C0, H0, W0] = w.image!;
  const url = createRequire(import.meta.url).resolve("@jax-js/jax");
  const jax: Any = await import(new URL(`file://${url}`).href);
  const devices: string[] = await jax.init("wasm");
  if (!devices.includes("wasm")) throw new Error("jax-js: no wasm device");
  jax.defaultDevice("wasm");
  const { numpy: np, nn, lax, jit, valueAndGrad, tree } = jax;
  const L = w.layers.length;
  let flat = 0;
  {
    let hw = H0;
    for (const c of convs) hw = (hw - c.k + 1) / 2;
    flat = convs[convs.length - 1]!.out * hw * hw;
  }

  // ReLU whose derivative at 0 is 0, as in JAX, TF.js, gradc and the C reference: jax-js's nn.relu is maximum(x, 0), whose
  // derivative at 0 is 1 — and this workload has exact zeros there (blank pixels, zero initial biases)
  const relu = (z: Any): Any => np.where(np.greater(z.ref, 0), z, 0);
  const lossFn = (prm: Any, x: Any, t: Any): Any => {
    let a = x;
    for (const c of convs) {
      const z = lax.conv(a, prm[c.W], [1, 1], "VALID").add(prm[c.b].reshape([1, c.out, 1, 1]));
      a = lax.reduceWindow(relu(z), (win: Any) => np.max(win), [2, 2], [2, 2]);
    }
    a = a.reshape([w.batch, flat]);
    for (let l = 0; l < L; l++) {
      const z = np.matmul(a, prm[w.layers[l]!.W]).add(prm[w.layers[l]!.b]);
      a = l === L - 1 ? z : relu(z);
    }
    return np.mean(nn.logsumexp(a.ref, -1).sub(np.sum(t.mul(a), -1)));
  };
  const lr = w.lr;
  const step = jit((prm: Any, x: Any, t: Any) => {
    const [loss, g] = valueAndGrad(lossFn)(tree.ref(prm), x, t);
    return [tree.map((a: Any, ga: Any) => a.sub(ga.mul(lr)), prm, g), loss];
  });
  const fresh = (): Any => {
    const o: Record<string, Any> = {};
    for (const q of p.params) o[q.name] = np.array(q.data.slice()).reshape([...q.shape]);
    return o;
  };
  const xs = p.batches.map((b) => np.array(b.x).reshape([w.batch, C0, H0, W0]));
  const ys = p.batches.map((b) => np.array(b.y).reshape([w.batch, p.outDim]));
  const nb = xs.length;
  let prm: Any = fresh();
  let k = 0;
  let last = NaN;
  return {
    info: { devices: devices.join("+"), workers: String(typeof (globalThis as Any).Worker !== "undefined"), conv: "lax.conv + lax.reduceWindow(np.max)", relu: "np.where(z > 0, z, 0)" },
    reset() {
      tree.dispose(prm);
      prm = fresh();
      k = 0;
    },
    run(steps: number) {
      for (let s = 0; s < steps; s++) {
        const x = xs[k];
        const t = ys[k];
        k = k + 1 === nb ? 0 : k + 1;
        const [next, l] = step(prm, x.ref, t.ref);
        prm = next;
        last = (l.dataSync() as Float32Array)[0]!;
      }
    },
    lastLoss: () => last,
  };
}
