// Trains the checked-in iris module for a few epochs from a seed and prints a
// hash of the weights' bits; test/runtime/determinism.test.ts runs it in
// separate processes to check that training is bit-identical run to run.
//   node --import tsx test/runtime/determinism-probe.ts <seed>
import * as iris from "../../generated/iris.js";
import { adam, createTrainer, fnv1a, loadIris } from "../../runtime/node.ts";

export function trainedHash(seed: number): string {
  const { train } = loadIris({ seed });
  const t = createTrainer(iris, { optimizer: adam({ lr: 0.01 }), batchSize: 8, seed, l2: 1e-3, inputDropout: 0.1 });
  t.fit(train, { epochs: 5, progress: false });
  const p = t.params;
  return fnv1a(new Uint8Array(p.buffer, p.byteOffset, p.byteLength)).toString(16);
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(trainedHash(Number(process.argv[2] ?? 0)));
