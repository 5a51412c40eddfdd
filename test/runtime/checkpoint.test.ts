// Checkpoints (runtime/checkpoint.ts + the trainer's save/load): a round trip
// restores weights, optimizer state and position; resuming continues bit for
// bit; files from another model, corrupted or truncated files are refused
// with stable codes; writes are atomic.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adam, cosine, createTrainer, fnv1a, loadIris, momentum, RuntimeError, type Module } from "../../runtime/index.ts";
import { compiled, linear } from "./models.ts";

const dir = mkdtempSync(path.join(tmpdir(), "gradc-ckpt-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string) => path.join(dir, name);
const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

let iris: Module;
const { train, test } = loadIris({ seed: 3 });
beforeAll(async () => {
  iris = await compiled("iris");
});

/** Adam on a cosine schedule with input dropout and L2: every piece of state a resume must carry. */
const make = (seed: number) =>
  createTrainer(iris, { optimizer: adam({ lr: cosine({ lr: 0.02, steps: 60 }) }), batchSize: 16, seed, l2: 1e-3, inputDropout: 0.1 });

function code(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(RuntimeError);
    return (e as RuntimeError).code;
  }
  return undefined;
}

describe("checkpoints", () => {
  it("round trip: weights, optimizer state, step, epoch and seed", () => {
    const a = make(5);
    a.fit(train, { epochs: 3, progress: false });
    a.save(file("a.json"));
    const b = make(99);
    b.load(file("a.json"));
    expect(bits(b.params)).toEqual(bits(a.params));
    expect(bits(b.optimizer.state.m!)).toEqual(bits(a.optimizer.state.m!));
    expect(bits(b.optimizer.state.v!)).toEqual(bits(a.optimizer.state.v!));
    expect([b.steps, b.epochs, b.seed]).toEqual([a.steps, 3, 5]);
    expect(b.evaluate(test)).toEqual(a.evaluate(test));
    const json = JSON.parse(readFileSync(file("a.json"), "utf8"));
    expect(json).toMatchObject({ format: "gradc-checkpoint", version: 1, model: "iris", precision: "f32", paramSize: 67, epoch: 3, seed: 5 });
    expect(json.params).toEqual(iris.layout.params.map((p) => ({ name: p.name, shape: p.shape })));
    expect(json.optimizer).toMatchObject({ kind: "adam", step: a.steps, options: { lr: "schedule", beta1: 0.9 } });
    expect(json.checksum).toMatch(/^fnv1a32:[0-9a-f]{8}$/);
  });

  it("resuming from a checkpoint continues bit-identically to an uninterrupted run", () => {
    const straight = make(11);
    const h1 = straight.fit(train, { epochs: 5, progress: false });

    const first = make(11);
    first.fit(train, { epochs: 2, progress: false });
    first.save(file("resume.json"));
    const resumed = make(0); // the checkpoint brings its seed along
    resumed.load(file("resume.json"));
    const h2 = resumed.fit(train, { epochs: 3, progress: false });

    expect(bits(resumed.params)).toEqual(bits(straight.params));
    expect(bits(resumed.optimizer.state.v!)).toEqual(bits(straight.optimizer.state.v!));
    expect(h2.loss).toEqual(h1.loss.slice(2));
    expect(h2.epochs.map((e) => e.epoch)).toEqual([3, 4, 5]);
    expect(resumed.steps).toBe(straight.steps);
  });

  it("checkpoint()/restore() do the same in memory", () => {
    const a = make(2);
    a.fit(train, { epochs: 1, progress: false });
    const b = make(3);
    b.restore(a.checkpoint());
    expect(bits(b.params)).toEqual(bits(a.params));
  });

  it("refuses a checkpoint from another model: E_CHECKPOINT_MODEL", () => {
    const other = createTrainer(linear(4, { name: "lin" }).mod);
    other.save(file("lin.json"));
    const t = make(1);
    expect(code(() => t.load(file("lin.json")))).toBe("E_CHECKPOINT_MODEL");
    expect(() => t.load(file("lin.json"))).toThrow(/written by another model: it is for model 'lin', this is 'iris'/);
    // same name, a changed spec: W1 [4,8] became [4,9]
    const j = JSON.parse(make(1).checkpoint());
    j.params[0].shape = [4, 9];
    writeFileSync(file("shape.json"), JSON.stringify(j));
    expect(() => t.load(file("shape.json"))).toThrow(/parameter 0 is 'W1' \[4,9\], the model's is 'W1' \[4,8\]/);
    // another optimizer: refused unless only the weights are wanted
    const m = createTrainer(iris, { optimizer: momentum({ lr: 0.1 }), batchSize: 16, seed: 4 });
    m.save(file("momentum.json"));
    expect(() => t.load(file("momentum.json"))).toThrow(/optimizer momentum, this trainer uses adam; load\(file, \{ weightsOnly: true \}\)/);
    t.load(file("momentum.json"), { weightsOnly: true });
    expect(bits(t.params)).toEqual(bits(m.params));
  });

  it("refuses corrupted and truncated files: E_CHECKPOINT_CORRUPT", () => {
    const t = make(1);
    t.fit(train, { epochs: 1, progress: false });
    const text = t.checkpoint();
    const good = JSON.parse(text);
    const variants: [string, string, RegExp][] = [
      ["truncated", text.slice(0, Math.floor(text.length / 2)), /not valid JSON .*truncated/],
      ["empty", "", /not valid JSON/],
      ["not a checkpoint", JSON.stringify({ hello: 1 }), /not a gradc checkpoint/],
      ["a flipped weight", JSON.stringify({ ...good, weights: (good.weights[0] === "A" ? "B" : "A") + good.weights.slice(1) }), /checksum .* does not match/],
      ["an edited step", JSON.stringify({ ...good, optimizer: { ...good.optimizer, step: good.optimizer.step + 1 } }), /checksum/],
      ["short weights", JSON.stringify({ ...good, weights: good.weights.slice(0, 40) }), /weights holds 30 bytes, expected 268/],
      ["a bad version", JSON.stringify({ ...good, version: 9 }), /version 9/],
    ];
    for (const [what, body, message] of variants) {
      writeFileSync(file("bad.json"), body);
      let err: RuntimeError | undefined;
      try {
        t.load(file("bad.json"));
      } catch (e) {
        err = e as RuntimeError;
      }
      expect(err?.code, what).toBe("E_CHECKPOINT_CORRUPT");
      expect(err?.message, what).toMatch(message);
    }
    expect(code(() => t.load(file("missing.json")))).toBe("E_IO");
  });

  it("writes atomically: no temporary file is left, and a failed write leaves nothing", () => {
    const sub = mkdtempSync(path.join(dir, "atomic-"));
    const t = make(1);
    t.save(path.join(sub, "w.json"));
    t.save(path.join(sub, "w.json")); // overwrite in place
    expect(readdirSync(sub)).toEqual(["w.json"]);
    expect(code(() => t.save(path.join(sub, "no-such-dir", "w.json")))).toBe("E_IO");
    expect(readdirSync(sub)).toEqual(["w.json"]);
  });

  it("fnv1a is the 32-bit FNV-1a", () => {
    expect(fnv1a(new TextEncoder().encode(""))).toBe(0x811c9dc5);
    expect(fnv1a(new TextEncoder().encode("a"))).toBe(0xe40c292c);
    expect(fnv1a(new TextEncoder().encode("foobar"))).toBe(0xbf9cf968);
  });
});
