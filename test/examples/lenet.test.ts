// examples/lenet/train.ts, briefly: the real recipe runs 6 epochs of 60,000 digits (a minute or more; examples/README.md
// has its numbers), so this trains on the first 2,000 digits for 2 epochs and checks that it learns and reports what it
// should: the test digits once at the end, or — with --validation, choosing a recipe — not at all.
import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";

const train = (...args: string[]) =>
  execFileSync("node_modules/.bin/tsx", ["examples/lenet/train.ts", ...args], { encoding: "utf8", timeout: 120_000 });

describe("examples/lenet/train.ts", () => {
  it("trains on the standard split's training digits and tests once on its 10,000 test digits", () => {
    const out = train("--train", "2000", "--epochs", "2", "--seed", "7");
    expect(out).toMatch(/^loaded 2,000 training \+ 10,000 test digits/);
    expect(out.match(/^epoch /gm)).toHaveLength(2);
    const acc = Number(/^test: 10,000 digits, loss [\d.]+, accuracy ([\d.]+)%$/m.exec(out)?.[1]);
    expect(acc).toBeGreaterThan(85); // 89.96% from 2,000 digits (seed 7); 99.2–99.3% from all 60,000 (6 epochs)
  }, 130_000);

  it("--validation holds out training digits, watches them each epoch, and leaves the test digits unseen", () => {
    const out = train("--validation", "1000", "--train", "1000", "--epochs", "1");
    expect(out).toMatch(/^loaded 1,000 training \+ 1,000 validation \+ 10,000 test digits/);
    expect(out).toMatch(/^epoch  1 .* \| validation loss [\d.]+ {2}acc [\d.]+%/m);
    expect(out).toMatch(/^validation: 1,000 digits, .*\(test digits not evaluated\)$/m);
    expect(out).not.toMatch(/^test:/m);
  }, 130_000);
});
