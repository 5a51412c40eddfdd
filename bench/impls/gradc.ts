/** gradc's generated module (compiled in-process by the driver, imported here from its JS text). */
import { readFileSync } from "node:fs";
import { importModule } from "../../compiler/emit/load.ts";
import type { Impl } from "../lib/impl.ts";
import { sgd } from "../lib/sgd.ts";
import type { Problem, Workload } from "../lib/workloads.ts";

export async function create(w: Workload, p: Problem, jsFile: string): Promise<Impl> {
  const mod = await importModule(readFileSync(jsFile, "utf8"));
  const { layout } = mod;
  const backward = mod.backward;
  const forward = mod.forward;
  const fused = (mod as { step?: typeof backward }).step;
  // the module's own SGD update (wasm SIMD when it has wasm kernels); modules from before it had one: the shared JS loop
  const update = (mod as { sgd?: typeof sgd }).sgd ?? sgd;
  if (!backward || layout.lossOffset === undefined) throw new Error(`${w.name}: the generated module has no backward/loss`);
  // the layout must hold exactly the workload's parameters, with the same shapes
  const init = new Float32Array(layout.paramSize);
  if (layout.params.length !== p.params.length) throw new Error(`${w.name}: layout has ${layout.params.length} params, workload ${p.params.length}`);
  for (const q of p.params) {
    const slot = layout.params.find((s) => s.name === q.name);
    if (!slot || slot.shape.join() !== q.shape.join()) throw new Error(`${w.name}: param ${q.name} [${q.shape}] not in the layout as such`);
    init.set(q.data, slot.offset);
  }
  // The module's own buffers (a module with wasm kernels only accepts views of
  // its WebAssembly.Memory); older modules without buffers() take plain arrays.
  const own = (mod as { buffers?: () => { params: Float32Array; inputs: Float32Array; arena: Float32Array; grads: Float32Array } }).buffers?.();
  const params = own?.params ?? new Float32Array(layout.paramSize);
  const grads = own?.grads ?? new Float32Array(layout.paramSize);
  const arena = own?.arena ?? new Float32Array(layout.arenaSize);
  const inWasm = (layout as { memory?: unknown }).memory !== undefined;
  const batches = p.batches.map((b) => {
    const buf = new Float32Array(layout.inputSize);
    const [xn, yn] = w.inputs;
    const xs = layout.inputs.find((s) => s.name === xn);
    const ys = layout.inputs.find((s) => s.name === yn);
    if (!xs || !ys || xs.size !== b.x.length || ys.size !== b.y.length) throw new Error(`${w.name}: inputs ${xn}/${yn} do not match the layout`);
    buf.set(b.x, xs.offset);
    buf.set(b.y, ys.offset);
    return buf;
  });
  // Inputs: with wasm kernels every step copies its batch into the module's
  // inputs view (inside the timed step: that is what feeding this module costs);
  // otherwise the batch buffers are passed as they are, like the hand-written nets.
  const copyIn = inWasm && batches.length > 1;
  const inputsView = own?.inputs;
  if (inWasm && !inputsView) throw new Error(`${w.name}: module has wasm memory but no buffers()`);
  const feed = inWasm ? batches.map(() => inputsView!) : batches;
  if (inWasm && !copyIn) inputsView!.set(batches[0]!);
  const lossAt = layout.lossOffset;
  const lr = w.lr;
  const nb = batches.length;
  let k = 0;
  // the last loss lives in a typed array: a closure `let` holding a double would box a new HeapNumber every step
  const loss = new Float64Array(1);
  return {
    info: { arena: `${layout.arenaSize} floats`, wasm: String(inWasm), inputCopy: String(copyIn) },
    reset() {
      params.set(init);
      k = 0;
    },
    run(steps: number) {
      for (let s = 0; s < steps; s++) {
        const inp = feed[k]!;
        if (copyIn) inp.set(batches[k]!);
        k = k + 1 === nb ? 0 : k + 1;
        if (fused) fused(params, inp, arena, grads); // forward + backward in one function (unrolled models)
        else {
          forward(params, inp, arena);
          backward(params, inp, arena, grads);
        }
        loss[0] = arena[lossAt]!;
        update(params, grads, lr);
      }
    },
    lastLoss: () => loss[0]!,
  };
}
