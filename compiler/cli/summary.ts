/** `gradc summary <spec> [--json]`: the Keras-like table of the model (compiler/viz/summary.ts); --json prints the layout it reads. */
import { parseArgs } from "./args.ts";
import { GradcError } from "../errors.ts";
import { loadSpec } from "../frontend/load.ts";
import { compile } from "../index.ts";
import { summaryTable } from "../viz/summary.ts";

export async function summaryCommand(argv: string[]): Promise<number> {
  const { bools, positional } = parseArgs(argv, { bools: ["json"] });
  if (positional.length !== 1) throw new GradcError("E_CLI", "summary takes one spec file", { hint: "gradc summary examples/mnist/model.ts" });
  const model = await loadSpec(positional[0]!);
  const { lowered } = await compile(model);
  process.stdout.write(bools.has("json") ? `${JSON.stringify(lowered.layout, null, 2)}\n` : summaryTable(lowered.layout, model.boxes));
  return 0;
}
