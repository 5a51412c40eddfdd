// The lectures' open question (Saremi, "Backpropagation and SGD": "can you suggest a batching scheme for
// effective training?"), answered by measurement: the MNIST network (examples/mnist/model.ts, compiled for
// batches of up to 64) trained twice from the same weights with SGD + momentum 0.9 on 8,000 digits:
//   decay: batch 16 throughout, the rate halved every 3 epochs (0.05, 0.025, 0.0125);
//   grow:  the rate 0.05 throughout, the batch doubled every 3 epochs instead (16, 32, 64) — Smith, Kindermans,
//          Ying & Le 2018, "Don't decay the learning rate, increase the batch size": the same noise scale
//          lr·N/B, epoch for epoch, with fewer and larger (faster per example) steps.
// Reported: updates and wall time per arm, and when each first reaches the training loss the other ends at.
//
// With --plot FILE it writes the two arms' training loss and accuracy against updates made as an SVG
// (runtime/plot.ts's historyPlot; docs/batch-growth.svg is this picture).
//
//   npx tsx examples/batch-growth/train.ts [--epochs 9] [--seed 3] [--plot docs/batch-growth.svg]
import { writeFileSync } from "node:fs";
import * as mnist from "../../generated/mnist.js";
import { asciiPlot, createTrainer, historyPlot, loadMnist, momentum, stepDecay, type EpochRecord } from "../../runtime/node.ts";

const argv = process.argv.slice(2);
const arg = (name: string, d: number) => (argv.includes(`--${name}`) ? Number(argv[argv.indexOf(`--${name}`) + 1]) : d);
const plotFile = argv.includes("--plot") ? argv[argv.indexOf("--plot") + 1] : undefined;
const epochs = arg("epochs", 9);
const seed = arg("seed", 3);
const { train, test } = loadMnist({ train: 8000, test: 1500, seed: 0 });
const perEpoch16 = 8000 / 16;

interface Arm {
  readonly name: string;
  readonly records: (EpochRecord & { steps: number; ms: number })[];
  readonly test: { loss: number; accuracy: number };
}

function run(name: string, grow: boolean): Arm {
  const t = createTrainer(mnist, {
    optimizer: momentum({ lr: grow ? 0.05 : stepDecay({ lr: 0.05, every: 3 * perEpoch16, factor: 0.5 }), momentum: 0.9 }),
    batchSize: 16,
    seed,
  });
  const records: Arm["records"] = [];
  const t0 = performance.now();
  t.fit(train, {
    epochs,
    progress: false,
    ...(grow ? { batchSchedule: (epoch: number) => 16 * 2 ** Math.min(2, Math.floor((epoch - 1) / 3)) } : {}),
    onEpoch: (e) => void records.push({ ...e, steps: t.steps, ms: performance.now() - t0 }),
  });
  const ev = t.evaluate(test);
  return { name, records, test: { loss: ev.loss, accuracy: ev.accuracy } };
}

// Warm up the module and the trainer once, so neither arm pays V8's first compile.
run("warm-up", false);
const arms = [run("decay the rate (batch 16)", false), run("grow the batch (rate 0.05)", true)];

for (const a of arms) {
  console.log(`\n${a.name}`);
  for (const r of a.records) console.log(`  epoch ${r.epoch}  loss ${r.loss.toFixed(4)}  ${String(r.steps).padStart(5)} updates  ${(r.ms / 1000).toFixed(2)} s`);
  console.log(`  test: loss ${a.test.loss.toFixed(4)}, accuracy ${(100 * a.test.accuracy).toFixed(2)}%`);
}
const [decay, grow] = arms as [Arm, Arm];
const reach = (a: Arm, loss: number) => a.records.find((r) => r.loss <= loss);
for (const [a, b] of [[grow, decay], [decay, grow]] as const) {
  const target = b.records.at(-1)!.loss;
  const r = reach(a, target);
  console.log(
    `${a.name} reaches ${b.name.split(" (")[0]}'s final training loss ${target.toFixed(4)}: ` +
      (r ? `epoch ${r.epoch}, ${r.steps} updates, ${(r.ms / 1000).toFixed(2)} s` : "not within the run"),
  );
}
console.log(`\ntraining loss per epoch, decay (top) and grow (bottom):`);
console.log(asciiPlot(decay.records.map((r) => r.loss), { height: 6, width: 45 }));
console.log(asciiPlot(grow.records.map((r) => r.loss), { height: 6, width: 45 }));

if (plotFile) {
  const [d, g] = [decay.records, grow.records];
  const svg = historyPlot(
    { loss: d.map((r) => r.loss), valLoss: g.map((r) => r.loss), accuracy: d.map((r) => r.accuracy), valAccuracy: g.map((r) => r.accuracy) },
    {
      title: `MNIST, ${epochs} epochs each: batch grown 16→32→64 (${g.at(-1)!.steps.toLocaleString("en-US")} updates) vs rate halved every 3 epochs (${d.at(-1)!.steps.toLocaleString("en-US")})`,
      labels: { train: "decay the rate", validation: "grow the batch" },
      x: { train: d.map((r) => r.steps), validation: g.map((r) => r.steps), label: "updates (at the end of each epoch)" },
      width: 900,
    },
  );
  writeFileSync(plotFile, svg);
  console.log(`wrote ${plotFile}`);
}
