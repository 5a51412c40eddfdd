// The same seed gives bit-identical weights after training — in one process
// and across processes (a fresh V8 each time) — and another seed does not.
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import * as iris from "../../generated/iris.js";
import { adam, createTrainer, loadIris } from "../../runtime/node.ts";
import { trainedHash } from "./determinism-probe.ts";

const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

describe("determinism", () => {
  it("same seed, same bits; another seed, other bits", () => {
    const { train } = loadIris({ seed: 1 });
    const run = (seed: number) => {
      const t = createTrainer(iris, { optimizer: adam({ lr: 0.01 }), batchSize: 5, seed, inputDropout: 0.2, l2: 1e-3 });
      t.fit(train, { epochs: 4, progress: false });
      return bits(t.params);
    };
    expect(run(7)).toEqual(run(7));
    expect(run(7)).not.toEqual(run(8));
  });

  it("run to run: two fresh processes and this one agree", () => {
    const probe = () => {
      const r = spawnSync(process.execPath, ["--import", "tsx", "test/runtime/determinism-probe.ts", "42"], { encoding: "utf8" });
      expect(r.status, r.stderr).toBe(0);
      return r.stdout.trim();
    };
    const here = trainedHash(42);
    expect(probe()).toBe(here);
    expect(probe()).toBe(here);
    expect(trainedHash(43)).not.toBe(here);
  });
});
