// Checkpoints (runtime/checkpoint.ts + the trainer's save/load): a round trip
// restores weights, optimizer state and position; resuming continues bit for
// bit; files from another model, corrupted or truncated files are refused
// with stable codes; writes are atomic.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTrainer as browserTrainer, fromBase64, structureHash, toBase64 } from "../../runtime/index.ts";
import { adam, cosine, createTrainer, fnv1a, loadIris, momentum, RuntimeError, type Module } from "../../runtime/node.ts";
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
    expect(() => t.load(file("lin.json"))).toThrow(/written by another model \('lin', this is 'iris'\): parameter 0 is 'W' \[2,1\], the model's is 'W1' \[4,8\]/);
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

  it("a model is identified by its structure, not its name or path: a renamed spec loads its checkpoints", () => {
    const a = make(5);
    a.fit(train, { epochs: 2, progress: false });
    a.save(file("before-rename.json"));
    expect(JSON.parse(readFileSync(file("before-rename.json"), "utf8")).structure).toBe(structureHash(iris.layout));
    // examples/iris/model.ts moved to apps/flowers/model.ts: a new name and source, the same parameters
    const renamed: Module = { ...iris, layout: { ...iris.layout, name: "flowers", source: "apps/flowers/model.ts" } };
    const mk = () => createTrainer(renamed, { optimizer: adam({ lr: cosine({ lr: 0.02, steps: 60 }) }), batchSize: 16, seed: 0, l2: 1e-3, inputDropout: 0.1 });
    const full = mk();
    full.load(file("before-rename.json"));
    expect(bits(full.params)).toEqual(bits(a.params));
    expect([full.epochs, full.seed, full.steps]).toEqual([2, 5, a.steps]);
    const weights = mk();
    weights.load(file("before-rename.json"), { weightsOnly: true });
    expect(bits(weights.params)).toEqual(bits(a.params));
    // ... but a checkpoint whose structure hash is not the model's is refused, named by both hashes
    const j = JSON.parse(a.checkpoint());
    writeFileSync(file("other-structure.json"), JSON.stringify({ ...j, structure: "fnv1a32:00000000" }));
    expect(() => mk().load(file("other-structure.json"))).toThrow(/structure hash fnv1a32:00000000 is not this model's fnv1a32:[0-9a-f]{8}/);
  });

  it("a save killed mid-write leaves a temp file that the next save of the same target removes", async () => {
    const sub = mkdtempSync(path.join(dir, "stale-"));
    const target = path.join(sub, "w.json");
    // A real kill: a child saving ~8 MB through the Node platform (what trainer.save calls) over and over, SIGKILLed while it writes.
    const script = `
      import { nodePlatform } from ${JSON.stringify(path.resolve("runtime/node.ts"))};
      const text = "x".repeat(8 << 20);
      process.stdout.write("ready\\n");
      for (;;) nodePlatform.writeText(${JSON.stringify(target)}, text);`;
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
    await new Promise<void>((resolve) => child.stdout!.once("data", () => resolve()));
    const temps = () => readdirSync(sub).filter((f) => f.startsWith(".w.json.tmp-"));
    const t0 = Date.now();
    while (temps().length === 0 && Date.now() - t0 < 20_000) await new Promise((r) => setTimeout(r, 1));
    child.kill("SIGKILL");
    await new Promise((r) => child.once("exit", r));
    // The kill may land between writes; then leave the temp file a killed save leaves, by the dead child's pid.
    if (temps().length === 0) writeFileSync(path.join(sub, `.w.json.tmp-${child.pid}-0badf00d`), "x".repeat(1 << 20));
    expect(temps().length).toBeGreaterThan(0);
    // A live process's temp file is its save in progress: kept.
    const live = spawn(process.execPath, ["-e", "setTimeout(() => {}, 30000)"]);
    const liveTemp = path.join(sub, `.w.json.tmp-${live.pid}-00c0ffee`);
    writeFileSync(liveTemp, "in progress");
    const otherTarget = path.join(sub, `.other.json.tmp-${child.pid}-0badf00d`);
    writeFileSync(otherTarget, "another file's");
    try {
      const t = createTrainer(linear(4, { name: "small" }).mod);
      t.save(target);
      expect(temps()).toEqual([path.basename(liveTemp)]);
      expect(existsSync(otherTarget)).toBe(true); // only temps of the same target are touched
    } finally {
      live.kill("SIGKILL");
    }
  }, 60_000);

  it("in a browser: restore() takes text or bytes, save()/load() use localStorage, and without it say what to use", () => {
    const a = make(2);
    a.fit(train, { epochs: 1, progress: false });
    const bytes = new TextEncoder().encode(a.checkpoint());
    const b = browserTrainer(iris, { optimizer: adam({ lr: cosine({ lr: 0.02, steps: 60 }) }), batchSize: 16, seed: 9 });
    b.restore(bytes);
    expect(bits(b.params)).toEqual(bits(a.params));
    // no localStorage (Node, a worker): the error names checkpoint()/restore()
    expect(code(() => b.save("mnist"))).toBe("E_IO");
    expect(() => b.save("mnist")).toThrow(/use trainer\.checkpoint\(\) \/ trainer\.restore\(text\)/);
    const store = new Map<string, string>();
    const g = globalThis as { localStorage?: unknown };
    g.localStorage = { getItem: (k: string) => store.get(k) ?? null, setItem: (k: string, v: string) => void store.set(k, v) };
    try {
      b.save("iris-run");
      expect([...store.keys()]).toEqual(["gradc:iris-run"]);
      const c = browserTrainer(iris, { optimizer: adam({ lr: cosine({ lr: 0.02, steps: 60 }) }), batchSize: 16, seed: 1 });
      c.load("iris-run");
      expect(bits(c.params)).toEqual(bits(a.params));
      expect(code(() => c.load("never-saved"))).toBe("E_IO");
    } finally {
      delete g.localStorage;
    }
  });

  it("base64 without Buffer: the same text as Node's, and back", () => {
    for (const n of [0, 1, 2, 3, 4, 5, 255, 256, 10_000]) {
      const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 37 + n) & 255);
      const text = toBase64(bytes);
      expect(text).toBe(Buffer.from(bytes).toString("base64"));
      expect(Array.from(fromBase64(text)!)).toEqual(Array.from(bytes));
    }
    expect(fromBase64("abc")).toBeUndefined();
    expect(fromBase64("ab$=")).toBeUndefined();
  });

  it("fnv1a is the 32-bit FNV-1a", () => {
    expect(fnv1a(new TextEncoder().encode(""))).toBe(0x811c9dc5);
    expect(fnv1a(new TextEncoder().encode("a"))).toBe(0xe40c292c);
    expect(fnv1a(new TextEncoder().encode("foobar"))).toBe(0xbf9cf968);
  });
});
