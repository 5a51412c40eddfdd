import { existsSync, readFileSync } from "node:fs";
import { decodeCheckpoint, initParams } from "../../runtime/index.ts";
import { parseArgs } from "./args.ts";
import { GradcError } from "../errors.ts";
import { decodeOnnx } from "../export/onnx-decode.ts";
import { exportOnnx } from "../export/onnx.ts";
import { displayPath, loadSpec } from "../frontend/load.ts";
import { compile } from "../index.ts";
import { writeAtomically } from "./write.ts";

/**
 * `gradc export <spec.ts> [--weights <checkpoint>] [-o model.onnx] [--seed N] [--force]`:
 * the model's forward graph as ONNX, with the trained weights of a checkpoint
 * (`trainer.save`), or without --weights the spec's initializers at --seed
 * (default 0, what `createTrainer` starts from) — said so in the output and
 * in the file's metadata. Refuses to replace a file that is not an ONNX model
 * gradc wrote, unless --force.
 */
export async function exportCommand(argv: string[]): Promise<number> {
  const { flags, bools, positional } = parseArgs(argv, { flags: ["weights", "o", "out", "seed"], bools: ["force"] });
  if (positional.length !== 1)
    throw new GradcError("E_CLI", "export takes one spec file", { hint: "gradc export examples/mnist/model.ts --weights mnist.weights.json -o mnist.onnx" });
  const seedArg = flags.get("seed")?.at(-1);
  if (seedArg !== undefined && !/^\d+$/.test(seedArg)) throw new GradcError("E_CLI", `--seed must be a whole number, got '${seedArg}'`);
  const weightsFile = flags.get("weights")?.at(-1);
  if (weightsFile !== undefined && seedArg !== undefined)
    throw new GradcError("E_CLI", "--seed picks the initial weights; it has no use with --weights", { hint: "drop one of them" });

  const model = await loadSpec(positional[0]!);
  const out = flags.get("o")?.at(-1) ?? flags.get("out")?.at(-1) ?? `${model.name}.onnx`;
  if (existsSync(out) && !bools.has("force") && !writtenByGradc(out))
    throw new GradcError("E_WRITE", `${displayPath(out)} exists and is not an ONNX model gradc wrote; not replacing it`, {
      hint: "pick another -o path, or pass --force to replace it",
    });
  // The layout the trainer saved its checkpoint against (and initializes from) is the compiled module's.
  const { layout } = (await compile(model)).lowered;

  let params: Float32Array | Float64Array;
  let weights: string;
  if (weightsFile !== undefined) {
    let text: string;
    try {
      text = readFileSync(weightsFile, "utf8");
    } catch (e) {
      throw new GradcError("E_WEIGHTS", `cannot read ${displayPath(weightsFile)}: ${(e as Error).message}`, { hint: "pass the file trainer.save() wrote" });
    }
    try {
      const ck = decodeCheckpoint(text, layout, displayPath(weightsFile));
      params = ck.weights;
      weights = `trained: ${displayPath(weightsFile)} (epoch ${ck.epoch}, ${ck.optimizer.step} ${ck.optimizer.kind} steps${ck.precision === "f64" ? ", float64 rounded to float32" : ""})`;
    } catch (e) {
      if (!(e instanceof Error) || !("code" in e)) throw e;
      throw new GradcError("E_WEIGHTS", e.message, { hint: `pass a checkpoint that trainer.save() wrote for ${model.source}` });
    }
  } else {
    const seed = Number(seedArg ?? 0);
    params = initParams(layout, new Float32Array(layout.paramSize), seed);
    weights = `init: the spec's initializers at seed ${seed} (untrained: no --weights given)`;
  }

  const ex = exportOnnx(model, params, { weights });
  writeAtomically({ [out]: ex.bytes }, { replace: true }); // checked above: an ONNX model gradc wrote, or --force
  const dims = (s: readonly (number | string)[]) => `[${s.join(",")}]`;
  process.stdout.write(
    `exported ${model.source} -> ${displayPath(out)} (ONNX opset ${ex.opset}, ${(ex.bytes.length / 1024).toFixed(1)} KB)\n` +
      `  inputs:  ${ex.inputs.map((i) => `${i.name} ${dims(i.shape)}`).join(", ")}\n` +
      `  outputs: ${ex.outputs.map((o) => `${o.name} ${dims(o.shape)}`).join(", ")}\n` +
      `  weights: ${weights}\n` +
      `  ops:     ${[...ex.ops].map(([op, k]) => `${op} ${k}`).join(", ")}\n`,
  );
  return 0;
}

/** Is `file` an ONNX model whose producer is gradc (so export may replace it)? */
function writtenByGradc(file: string): boolean {
  try {
    return decodeOnnx(readFileSync(file)).producerName === "gradc";
  } catch {
    return false;
  }
}
