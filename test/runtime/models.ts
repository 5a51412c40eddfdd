// Small models for the runtime tests: hand-written modules (fast, and they
// record what the trainer feeds them) and specs compiled in-process.
import { importModule } from "../../compiler/emit/load.ts";
import { loadSpec } from "../../compiler/frontend/load.ts";
import { compile } from "../../compiler/index.ts";
import type { Layout, Module } from "../../runtime/index.ts";

export interface Call {
  readonly n: number;
  readonly inputs: Float32Array;
}

/**
 * Linear regression y = (x ∘ mask) · W + b with x [B,2], t [B,1], W [2,1] (a
 * weight), b [1,1] (a bias), loss mean over the first n rows of ½ (y - t)².
 * With `mask`, an input dropout_x [B,2] multiplies x (what the compiler's
 * dropout op will emit); `maskRate` puts the rate in the layout slot.
 * Without `batched`, the layout has no `batch` (exactly B rows per step).
 * `nanGradAt` makes backward write NaN into W[1,0] on that call (1-based).
 */
export function linear(B: number, opts: { mask?: boolean; maskRate?: number; batched?: boolean; nanGradAt?: number; name?: string } = {}) {
  const { mask = false, batched = true } = opts;
  const layout: Layout = {
    name: opts.name ?? "lin",
    source: "test/runtime/models.ts",
    params: [
      { name: "W", shape: [2, 1], offset: 0, size: 2, init: { uniform: [-0.5, 0.5] } },
      { name: "b", shape: [1, 1], offset: 2, size: 1, init: "zeros" },
    ],
    paramSize: 3,
    inputs: [
      { name: "x", shape: [B, 2], offset: 0, size: 2 * B },
      { name: "t", shape: [B, 1], offset: 2 * B, size: B },
      ...(mask ? [{ name: "dropout_x", shape: [B, 2], offset: 3 * B, size: 2 * B, ...(opts.maskRate !== undefined ? { dropout: opts.maskRate } : {}) }] : []),
    ],
    inputSize: mask ? 5 * B : 3 * B,
    outputs: [{ name: "y", shape: [B, 1], offset: 0, size: B }],
    arenaSize: B + 1,
    lossOffset: B,
    ...(batched ? { batch: B, split: "mean" as const } : {}),
    hasLoss: true,
  };
  const calls: Call[] = [];
  let backwards = 0;
  const xe = (inp: Float32Array, r: number, j: number) => inp[2 * r + j]! * (mask ? inp[3 * B + 2 * r + j]! : 1);
  const mod: Module = {
    layout,
    forward(p, inp, arena, n = B) {
      calls.push({ n, inputs: inp.slice() });
      let loss = 0;
      for (let r = 0; r < B; r++) {
        arena[r] = xe(inp, r, 0) * p[0]! + xe(inp, r, 1) * p[1]! + p[2]!;
        if (r < n) loss += 0.5 * (arena[r]! - inp[2 * B + r]!) ** 2;
      }
      arena[B] = loss / n;
    },
    backward(p, inp, arena, g, n = B) {
      g.fill(0);
      for (let r = 0; r < n; r++) {
        const d = (arena[r]! - inp[2 * B + r]!) / n;
        g[0] += d * xe(inp, r, 0);
        g[1] += d * xe(inp, r, 1);
        g[2] += d;
      }
      if (++backwards === opts.nanGradAt) g[1] = NaN;
      void p;
    },
  };
  return { mod, calls };
}

/** N examples for `linear`: x = [i, 100 + i], t = x0 + 0.5 x1 - 50 (so row i is recognizable). */
export function rows(N: number) {
  const x = new Float32Array(2 * N);
  const t = new Float32Array(N);
  for (let i = 0; i < N; i++) {
    x[2 * i] = i;
    x[2 * i + 1] = 100 + i;
    t[i] = i + 0.5 * (100 + i) - 50;
  }
  return { x, t };
}

const cache = new Map<string, Promise<Module>>();
/** A spec compiled in-process — examples/<name>/model.ts, or a path ending in .ts — once per test file. */
export function compiled(name: string): Promise<Module> {
  const file = name.endsWith(".ts") ? name : `examples/${name}/model.ts`;
  if (!cache.has(file)) cache.set(file, (async () => (await importModule((await compile(await loadSpec(file))).js)) as Module)());
  return cache.get(file)!;
}
