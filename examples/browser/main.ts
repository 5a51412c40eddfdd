// The browser demo's page script: trains the generated MNIST module live with
// fitAsync (which yields to the event loop after every batch, so the page
// repaints), drawing the loss curve, the test accuracy and a few test digits
// with the network's guesses. Bundled by build.ts (esbuild, platform browser).
//
// Two threads (createTrainer({ threads: 2 }): each batch of 128 is cut into two chunks of 64, one
// computed here and one in a Worker running thread.ts) when the page is cross-origin isolated (the
// demo server sends COOP/COEP); without isolation the same two chunks run one after the other here,
// with the same results.
//
// URL parameters: ?epochs=8 (default 8), ?seed=1, ?lr=0.002, ?threads=2.
// window.gradcDemo holds the state for tests (test/examples/browser.test.ts).
import * as mnist from "../../generated/mnist.js";
import {
  adam,
  type BatchRecord,
  type Dataset,
  type EpochRecord,
} from "gradc/runtime";

export interface DemoState {
  phase: "loading" | "training" | "done" | "stopped" | "error";
  error?: string;
  epochs: number;
  /** Per batch. */
  losses: number[];
  /** Per epoch, on the held-out digits. */
  testLoss: number[];
  testAccuracy: number[];
  /** The accuracy the page shows, as shown ("91.3%"). */
  shown: string;
  /** requestAnimationFrame callbacks run while training: the page did repaint. */
  frames: number;
  wasm: boolean;
  crossOriginIsolated: boolean;
  /** Threads that computed each step (2 when isolated, else 1). */
  threads: number;
  seconds: number;
}
declare global {
  interface Window {
    gradcDemo: DemoState;
  }
}

const params = new URLSearchParams(location.search);
const EPOCHS = Number(params.get("epochs") ?? 8);
const SEED = Number(params.get("seed") ?? 1);
const LR = Number(params.get("lr") ?? 2e-3);
const THREADS = Number(params.get("threads") ?? 2);
const SHOWN = 24; // test digits drawn with their guesses

const state: DemoState = (window.gradcDemo = {
  phase: "loading",
  epochs: 0,
  losses: [],
  testLoss: [],
  testAccuracy: [],
  shown: "–",
  frames: 0,
  wasm: false,
  crossOriginIsolated: self.crossOriginIsolated === true,
  threads: 0,
  seconds: 0,
});

const $ = <T extends HTMLElement>(id: string) =>
  document.getElementById(id) as T;
const text = (id: string, s: string) => void ($(id).textContent = s);

// ---- data ------------------------------------------------------------------------------

interface Digits {
  readonly train: Dataset<"x" | "y">;
  readonly test: Dataset<"x" | "y">;
  readonly testLabels: Uint8Array;
  readonly nTrain: number;
  readonly nTest: number;
}

/** digits.bin (see build.ts): "GRDCMNST", uint32 train and test counts, 784 pixel bytes per digit, then the labels. */
async function loadDigits(url: string): Promise<Digits> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
  const bytes = new Uint8Array(await res.arrayBuffer());
  const magic = String.fromCharCode(...bytes.subarray(0, 8));
  if (magic !== "GRDCMNST")
    throw new Error(
      `${url} is not a digits file (starts ${JSON.stringify(magic)})`,
    );
  const view = new DataView(bytes.buffer);
  const nTrain = view.getUint32(8, true);
  const nTest = view.getUint32(12, true);
  const n = nTrain + nTest;
  if (bytes.length !== 16 + n * 785)
    throw new Error(`${url}: ${bytes.length} bytes, expected ${16 + n * 785}`);
  const labels = bytes.subarray(16 + n * 784);
  const part = (from: number, count: number): Dataset<"x" | "y"> => {
    const x = new Float32Array(count * 784);
    const y = new Float32Array(count * 10);
    for (let i = 0; i < count * 784; i++)
      x[i] = bytes[16 + from * 784 + i]! / 255;
    for (let r = 0; r < count; r++) y[r * 10 + labels[from + r]!] = 1;
    return { x, y };
  };
  return {
    train: part(0, nTrain),
    test: part(nTrain, nTest),
    testLabels: labels.slice(nTrain),
    nTrain,
    nTest,
  };
}

// ---- drawing ---------------------------------------------------------------------------

const lossCanvas = $<HTMLCanvasElement>("loss");
const ctx = lossCanvas.getContext("2d")!;

/** The loss curve: per-batch losses (light), their running mean (blue), the test loss per epoch (orange dots), on a log axis. */
function drawLoss(batchesPerEpoch: number, totalBatches: number): void {
  const W = lossCanvas.width;
  const H = lossCanvas.height;
  const dpr = W / lossCanvas.clientWidth || 2;
  const L = 52 * dpr; // room for the axis labels
  const R = 12 * dpr;
  const T = 10 * dpr;
  const B = 30 * dpr;
  ctx.clearRect(0, 0, W, H);
  const lo = Math.log(0.02);
  const hi = Math.log(4);
  const X = (i: number) => L + ((W - L - R) * i) / Math.max(1, totalBatches);
  const Y = (v: number) =>
    T +
    ((H - T - B) * (hi - Math.log(Math.min(4, Math.max(0.02, v))))) / (hi - lo);
  ctx.font = `${11 * dpr}px system-ui, sans-serif`;
  ctx.lineWidth = dpr;
  // horizontal grid: loss values
  ctx.fillStyle = "#667085";
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  for (const v of [0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 4]) {
    ctx.strokeStyle = "#eef0f3";
    ctx.beginPath();
    ctx.moveTo(L, Y(v));
    ctx.lineTo(W - R, Y(v));
    ctx.stroke();
    ctx.fillText(String(v), L - 6 * dpr, Y(v));
  }
  // vertical grid: epochs
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  for (let e = 0; e <= EPOCHS; e++) {
    const x = X(e * batchesPerEpoch);
    ctx.strokeStyle = "#eef0f3";
    ctx.beginPath();
    ctx.moveTo(x, T);
    ctx.lineTo(x, H - B);
    ctx.stroke();
    ctx.fillText(String(e), x, H - B + 8 * dpr);
  }
  ctx.textAlign = "right";
  ctx.fillText("epoch", L - 12 * dpr, H - B + 8 * dpr);
  const losses = state.losses;
  // per batch
  ctx.strokeStyle = "#b8c7e6";
  ctx.beginPath();
  losses.forEach((v, i) =>
    i ? ctx.lineTo(X(i + 1), Y(v)) : ctx.moveTo(X(1), Y(v)),
  );
  ctx.stroke();
  // running mean over the last 20 batches
  ctx.strokeStyle = "#2f6fde";
  ctx.lineWidth = 2.5 * dpr;
  ctx.beginPath();
  let sum = 0;
  losses.forEach((v, i) => {
    sum += v - (i >= 20 ? losses[i - 20]! : 0);
    const m = sum / Math.min(i + 1, 20);
    if (i) ctx.lineTo(X(i + 1), Y(m));
    else ctx.moveTo(X(1), Y(m));
  });
  ctx.stroke();
  // test loss after each epoch
  ctx.fillStyle = "#e08a1e";
  state.testLoss.forEach((v, e) => {
    ctx.beginPath();
    ctx.arc(X((e + 1) * batchesPerEpoch), Y(v), 4.5 * dpr, 0, 2 * Math.PI);
    ctx.fill();
  });
}

/** The first SHOWN test digits, each a 28×28 canvas, with a caption for the guess. */
function makeDigits(d: Digits): HTMLElement[] {
  const box = $("digits");
  const captions: HTMLElement[] = [];
  for (let k = 0; k < SHOWN; k++) {
    const cell = document.createElement("div");
    cell.className = "digit";
    const c = document.createElement("canvas");
    c.width = c.height = 28;
    const img = new ImageData(28, 28);
    for (let j = 0; j < 784; j++) {
      const v = 255 - Math.round(255 * d.test.x[k * 784 + j]!); // dark ink on white
      img.data[4 * j] = v;
      img.data[4 * j + 1] = v;
      img.data[4 * j + 2] = v;
      img.data[4 * j + 3] = 255;
    }
    c.getContext("2d")!.putImageData(img, 0, 0);
    const p = document.createElement("div");
    p.className = "p wait";
    p.textContent = "?";
    cell.append(c, p);
    box.append(cell);
    captions.push(p);
  }
  return captions;
}

// ---- training --------------------------------------------------------------------------

async function main(): Promise<void> {
  const digits = await loadDigits("./digits.bin");
  text("ntrain", digits.nTrain.toLocaleString("en-US"));
  text("ntest", digits.nTest.toLocaleString("en-US"));
  const captions = makeDigits(digits);
  const shownX = digits.test.x.subarray(0, SHOWN * 784);

  // The generated module compiled its wasm kernels synchronously when it was imported; its
  // buffers are views of a WebAssembly.Memory when it has kernels.
  const own = mnist.buffers();
  state.wasm =
    mnist.layout.memory !== undefined &&
    own.params.buffer.byteLength === mnist.layout.memory.pages * 65536;
  text("wasm", `wasm SIMD kernels: ${state.wasm ? "loaded" : "not in use"}`);

  // The compiled batch (64) is one thread's: a step takes THREADS × 64 rows.
  const t = mnist.createTrainer({
    optimizer: adam({ lr: LR }),
    seed: SEED,
    threads: THREADS,
    threadScript: new URL("./thread.js", import.meta.url),
  });
  state.threads = t.threads;
  text("bs", String(t.batchSize));
  text(
    "isolated",
    `cross-origin isolated: ${state.crossOriginIsolated ? "yes" : "no"} · threads: ${t.threads}${THREADS > t.threads ? ` (${THREADS} chunks in turn)` : ""}`,
  );
  const batchesPerEpoch = Math.ceil(digits.nTrain / t.batchSize);
  const guess = () => {
    const probs = t.predict(shownX);
    for (let k = 0; k < SHOWN; k++) {
      let best = 0;
      for (let j = 1; j < 10; j++)
        if (probs[k * 10 + j]! > probs[k * 10 + best]!) best = j;
      const ok = best === digits.testLabels[k];
      captions[k]!.textContent = `${best} ${ok ? "✓" : "✗"}`;
      captions[k]!.title =
        `${(100 * probs[k * 10 + best]!).toFixed(0)}% sure; the label is ${digits.testLabels[k]}`;
      captions[k]!.className = `p ${ok ? "ok" : "bad"}`;
    }
  };

  // Redraw at most once a frame; count the frames that ran while training.
  let pending = false;
  const redraw = () => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      if (state.phase === "training") state.frames++;
      drawLoss(batchesPerEpoch, EPOCHS * batchesPerEpoch);
    });
  };

  const stop = new AbortController();
  const button = $<HTMLButtonElement>("toggle");
  button.disabled = false;
  button.onclick = () => {
    stop.abort();
    button.disabled = true;
  };

  state.phase = "training";
  text("status", "training…");
  text("epoch", `0 / ${EPOCHS}`);
  drawLoss(batchesPerEpoch, EPOCHS * batchesPerEpoch);
  const t0 = performance.now();
  let examples = 0;
  const history = await t.fitAsync(digits.train, {
    epochs: EPOCHS,
    validation: digits.test,
    signal: stop.signal,
    onBatchEnd: (b: BatchRecord) => {
      state.losses.push(b.loss);
      examples +=
        b.batch < b.batches
          ? t.batchSize
          : digits.nTrain - (b.batches - 1) * t.batchSize;
      text("step", String(b.steps));
      text("lossv", b.epochLoss.toFixed(3));
      text(
        "speed",
        Math.round(examples / ((performance.now() - t0) / 1000)).toLocaleString(
          "en-US",
        ),
      );
      redraw();
    },
    onEpochEnd: (e: EpochRecord) => {
      state.epochs = e.epoch;
      state.testLoss.push(e.valLoss!);
      state.testAccuracy.push(e.valAccuracy!);
      state.shown = `${(100 * e.valAccuracy!).toFixed(1)}%`;
      text("accuracy", state.shown);
      text("epoch", `${e.epoch} / ${EPOCHS}`);
      guess();
      redraw();
    },
  });
  state.seconds = (performance.now() - t0) / 1000;
  state.phase = history.stopped === "aborted" ? "stopped" : "done";
  button.textContent = "Train again";
  button.disabled = false;
  button.onclick = () => location.reload();
  text(
    "status",
    `${history.stopped === "aborted" ? "stopped" : "done"}: ${history.epochs.length} epochs, ${t.steps} steps in ${state.seconds.toFixed(1)} s`,
  );
  t.close();
  drawLoss(batchesPerEpoch, EPOCHS * batchesPerEpoch);
}

main().catch((err: unknown) => {
  state.phase = "error";
  state.error =
    err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  const box = $("error");
  box.style.display = "block";
  box.textContent = state.error;
  text("status", "failed");
  console.error(err);
});
