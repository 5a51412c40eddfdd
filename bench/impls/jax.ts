/**
 * jax-js (0.1.25) on its wasm device: the whole SGD step — value_and_grad of
 * the loss and the update p - lr*g — under one `jit`, the way JAX code is
 * written. jax-js arrays are reference counted: `.ref` keeps an array alive
 * across a call that consumes it.
 *
 * In Node jax-js's wasm backend is single-threaded (it only spawns workers
 * where a global `Worker` exists).
 */
import { createRequire } from "node:module";
import type { Impl } from "../lib/impl.ts";
import { ADAM, type Problem, type Workload } from "../lib/workloads.ts";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;

export async function create(w: Workload, p: Problem, optimizer: "sgd" | "adam" = "sgd"): Promise<Impl> {
  // ESM-only package in bench/node_modules; resolve it from here, import it by URL
  const url = createRequire(import.meta.url).resolve("@jax-js/jax");
  const jax: Any = await import(new URL(`file://${url}`).href);
  const devices: string[] = await jax.init("wasm");
  if (!devices.includes("wasm")) throw new Error("jax-js: no wasm device");
  jax.defaultDevice("wasm");
  const { numpy: np, nn, jit, valueAndGrad, tree } = jax;
  const L = w.layers.length;

  const lossFn = (prm: Any, x: Any, t: Any): Any => {
    let a = x;
    for (let l = 0; l < L; l++) {
      const z = np.matmul(a, prm[w.layers[l]!.W]).add(prm[w.layers[l]!.b]);
      a = l === L - 1 ? z : w.hidden === "relu" ? nn.relu(z) : nn.sigmoid(z);
    }
    const z = a;
    switch (w.loss) {
      case "softmaxce":
        return np.mean(nn.logsumexp(z.ref, -1).sub(np.sum(t.mul(z), -1)));
      case "bce":
        return np.mean(nn.relu(z.ref).sub(z.ref.mul(t)).add(np.log1p(np.exp(np.absolute(z).neg()))));
      case "se":
        return np.sum(np.square(z.sub(t)).mul(0.5));
    }
  };
  const lr = w.lr;
  const step = jit((prm: Any, x: Any, t: Any) => {
    const [loss, g] = valueAndGrad(lossFn)(tree.ref(prm), x, t);
    return [tree.map((a: Any, ga: Any) => a.sub(ga.mul(lr)), prm, g), loss];
  });

  // Adam inside the jitted step, as JAX code writes it (optax's form): the moments and the step count are state
  // passed in and returned; m = β1 m + (1-β1) g, v = β2 v + (1-β2) g², p -= lr m̂ / (√v̂ + ε) with the bias corrections.
  const { beta1: b1, beta2: b2, eps } = ADAM;
  const adamStep = jit((prm: Any, m: Any, v: Any, t: Any, x: Any, y: Any) => {
    const [loss, g] = valueAndGrad(lossFn)(tree.ref(prm), x, y);
    const t1 = t.add(1);
    const c1 = np.power(b1, t1.ref).mul(-1).add(1); // 1 - β1^t
    const c2 = np.power(b2, t1.ref).mul(-1).add(1); // 1 - β2^t
    const m1 = tree.map((mi: Any, gi: Any) => mi.mul(b1).add(gi.mul(1 - b1)), m, tree.ref(g));
    const v1 = tree.map((vi: Any, gi: Any) => vi.mul(b2).add(gi.ref.mul(gi).mul(1 - b2)), v, g);
    const p1 = tree.map(
      (pi: Any, mi: Any, vi: Any) => pi.sub(mi.mul(ADAM.lr).div(c1.ref).div(np.sqrt(vi.div(c2.ref)).add(eps))),
      prm,
      tree.ref(m1),
      tree.ref(v1),
    );
    c1.dispose();
    c2.dispose();
    return [p1, m1, v1, t1, loss];
  });
  const zeros = (): Any => {
    const o: Record<string, Any> = {};
    for (const q of p.params) o[q.name] = np.zeros([...q.shape]);
    return o;
  };
  let am: Any = optimizer === "adam" ? zeros() : undefined;
  let av: Any = optimizer === "adam" ? zeros() : undefined;
  let at: Any = optimizer === "adam" ? np.array(0) : undefined;

  const fresh = (): Any => {
    const o: Record<string, Any> = {};
    for (const q of p.params) o[q.name] = np.array(q.data.slice()).reshape([...q.shape]);
    return o;
  };
  const xs = p.batches.map((b) => np.array(b.x).reshape([w.batch, p.inDim]));
  const ys = p.batches.map((b) => np.array(b.y).reshape([w.batch, p.outDim]));
  const nb = xs.length;
  let prm: Any = fresh();
  let k = 0;
  let last = NaN;
  return {
    info: { devices: devices.join("+"), workers: String(typeof (globalThis as Any).Worker !== "undefined"), optimizer },
    reset() {
      tree.dispose(prm);
      prm = fresh();
      if (optimizer === "adam") {
        tree.dispose(am);
        tree.dispose(av);
        at.dispose();
        am = zeros();
        av = zeros();
        at = np.array(0);
      }
      k = 0;
    },
    run(steps: number) {
      for (let s = 0; s < steps; s++) {
        const x = xs[k];
        const t = ys[k];
        k = k + 1 === nb ? 0 : k + 1;
        let loss: Any;
        if (optimizer === "adam") [prm, am, av, at, loss] = adamStep(prm, am, av, at, x.ref, t.ref);
        else {
          const [next, l] = step(prm, x.ref, t.ref);
          prm = next;
          loss = l;
        }
        // read the loss every step: jax-js dispatches lazily, and letting pending
        // steps pile up is far slower (measured: 0.34 ms/step synced vs 4-11 ms/step
        // unsynced on xor); its README recommends syncing regularly
        last = (loss.dataSync() as Float32Array)[0]!;
      }
    },
    lastLoss: () => last,
  };
}
