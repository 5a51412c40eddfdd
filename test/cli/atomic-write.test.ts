/**
 * Outputs are written atomically (compiler/cli/write.ts: temp file beside
 * the target, fsync, rename): a `gradc compile` killed at any moment leaves
 * the previously generated files byte-identical, and whatever temp file a
 * kill leaves behind is not an output — the next compile removes it.
 *
 * 1. `node bin/gradc.js compile` on a spec with a long chain (seconds of
 *    work), SIGKILLed after delays spread over a whole compile;
 * 2. the writer itself, SIGKILLed while it writes a file big enough to take
 *    a while (the window a compile's kill rarely hits).
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = path.resolve(".");
const work = mkdtempSync(path.join(tmpdir(), "gradc-atomic-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A spec with `layers` tanh layers: the compile takes a few seconds. */
const chainSpec = (layers: number, width: number) => `import type { ModelBuilder } from ${JSON.stringify(path.join(ROOT, "compiler/frontend/dsl.ts"))};
export default (m: ModelBuilder) => {
  const x = m.input("x", [4, ${width}]);
  let h = x;
  for (let i = 0; i < ${layers}; i++) h = m.tanh(h.matmul(m.param(\`W\${i}\`, [${width}, ${width}])).add(m.param(\`b\${i}\`, [${width}])));
  m.loss(m.mean(m.square(h)));
};
`;

const snapshot = (dir: string) => Object.fromEntries(readdirSync(dir).sort().map((f) => [f, readFileSync(path.join(dir, f))]));

/** Runs `node args…`, SIGKILLs it after `ms` (if still running); resolves with how it ended. */
function runAndKill(args: string[], ms: number, onStdout?: (s: string, child: ChildProcess) => void): Promise<{ killed: boolean; code: number | null }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let killed = false;
    const timer = setTimeout(() => {
      killed = child.kill("SIGKILL");
    }, ms);
    child.stdout!.on("data", (d: Buffer) => onStdout?.(d.toString(), child));
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ killed: killed || code === null, code });
    });
  });
}

describe("a killed compile leaves the previous output intact", () => {
  it("SIGKILL at delays spread over a whole compile", async () => {
    const spec = path.join(work, "chain.ts");
    const out = path.join(work, "out");
    // The previous output: a compile that finished, of a slightly different spec (so new files would differ).
    writeFileSync(spec, chainSpec(6, 8));
    // A compile's duration: the faster of two (on a loaded machine the first can take twice as long as the
    // runs below, and then every kill came after they finished: nothing was killed, and nothing was tested).
    let full = Infinity;
    for (let i = 0; i < 2; i++) {
      const t0 = performance.now();
      const first = spawnSync(process.execPath, ["bin/gradc.js", "compile", spec, "-o", out], { cwd: ROOT });
      full = Math.min(full, performance.now() - t0);
      expect(first.status, first.stderr.toString()).toBe(0);
    }
    const before = snapshot(out);
    expect(Object.keys(before)).toEqual(["chain.d.ts", "chain.js", "package.json"]); // package.json: the ESM marker (no package.json above /tmp)

    writeFileSync(spec, chainSpec(7, 8));
    let killedRuns = 0;
    for (const frac of [0.08, 0.15, 0.4, 0.65, 0.85, 0.97]) {
      const r = await runAndKill(["bin/gradc.js", "compile", spec, "-o", out], Math.round(frac * full));
      if (!r.killed) continue; // finished first: then it wrote the new output, fine
      killedRuns++;
      const now = snapshot(out);
      const outputs = Object.keys(now).filter((f) => !f.startsWith("."));
      expect(outputs).toEqual(["chain.d.ts", "chain.js", "package.json"]);
      // Each output is the old file or (if the kill came after its rename) a complete new one — never a torn one.
      for (const f of outputs) if (!now[f]!.equals(before[f]!)) expect(now[f]!.toString()).toMatch(/\n$/);
    }
    expect(killedRuns).toBeGreaterThan(0);

    // A later compile finishes, and leaves exactly the outputs: no temp file survives or is taken for an output.
    const last = spawnSync(process.execPath, ["bin/gradc.js", "compile", spec, "-o", out], { cwd: ROOT });
    expect(last.status, last.stderr.toString()).toBe(0);
    expect(readdirSync(out).sort()).toEqual(["chain.d.ts", "chain.js", "package.json"]);
    expect(snapshot(out)["chain.js"]!.equals(before["chain.js"]!)).toBe(false); // the new spec's output
  }, 180_000);
});

describe("the writer itself", () => {
  /** A child that writes `big.txt` (~200 MB) atomically, saying "writing" first. */
  const writer = (dir: string, fill: string) => [
    "--import",
    "tsx",
    "-e",
    `import("${path.join(ROOT, "compiler/cli/write.ts")}").then(({ writeAtomically }) => {
      const text = ${JSON.stringify(fill)}.repeat(200 * 1024 * 1024);
      process.stdout.write("writing\\n");
      writeAtomically({ ${JSON.stringify(path.join(dir, "big.txt"))}: text, ${JSON.stringify(path.join(dir, "small.txt"))}: "new\\n" });
      process.stdout.write("done\\n");
    })`,
  ];

  it("SIGKILL mid-write: the old files stay byte-identical; the next write removes the stale temp file", async () => {
    const dir = path.join(work, "writer");
    mkdirSync(dir);
    // Files gradc wrote before (it replaces only those: they start with its header).
    writeFileSync(path.join(dir, "big.txt"), "// Generated by gradc (test)\nold big\n");
    writeFileSync(path.join(dir, "small.txt"), "// Generated by gradc (test)\nold small\n");
    const before = snapshot(dir);
    let leftTemp = false;
    for (const delay of [5, 20, 60]) {
      const r = await runAndKill(writer(dir, "a"), 60_000, (s, child) => {
        if (s.includes("writing")) setTimeout(() => child.kill("SIGKILL"), delay);
      });
      expect(r.killed).toBe(true);
      const now = snapshot(dir);
      expect(now["big.txt"]!.equals(before["big.txt"]!)).toBe(true);
      expect(now["small.txt"]!.equals(before["small.txt"]!)).toBe(true);
      leftTemp ||= Object.keys(now).some((f) => /^\.big\.txt\.\d+\.tmp$/.test(f));
    }
    expect(leftTemp, "a kill mid-write leaves the temp file (the case the clean-up is for)").toBe(true);

    // The next write of the same files succeeds and removes the dead processes' temp files.
    const done = await runAndKill(writer(dir, "b"), 120_000);
    expect(done.code).toBe(0);
    expect(readdirSync(dir).sort()).toEqual(["big.txt", "small.txt"]);
    expect(readFileSync(path.join(dir, "small.txt"), "utf8")).toBe("new\n");
  }, 240_000);
});
