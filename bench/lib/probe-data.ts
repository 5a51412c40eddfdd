/**
 * The in-process conv probes' data (bench/lenet-step.ts, bench/lenet-profile.ts): weights uniform in ±0.1 and
 * inputs uniform in [0, 1) from one seeded generator, and one-hot targets for an input named `y`.
 */
import type { GeneratedModule } from "../../compiler/emit/load.ts";

export function fillProbeData(mod: GeneratedModule, buf: { params: Float32Array | Float64Array; inputs: Float32Array | Float64Array }): void {
  let s = 7;
  const rand = () => (s = (s * 16807) % 2147483647) / 2147483647;
  for (let i = 0; i < buf.params.length; i++) buf.params[i] = (rand() * 2 - 1) * 0.1;
  for (const inp of mod.layout.inputs)
    for (let i = 0; i < inp.size; i++) buf.inputs[inp.offset + i] = inp.name === "y" ? (i % 10 === Math.floor(i / 10) % 10 ? 1 : 0) : rand();
}
