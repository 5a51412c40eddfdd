/**
 * `gradc compile --watch`, driven as a user would: start it, save the spec,
 * save a broken spec, fix it, press Ctrl-C (SIGINT).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, expect, it } from "vitest";

const dir = mkdtempSync(path.join(tmpdir(), "gradc-watch-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const spec = (hidden: number, extra = "") => `import type { ModelBuilder } from "gradc/dsl";
export default (m: ModelBuilder) => {
  const x = m.input("x", [4, 2]);
  const t = m.input("t", [4, 1]);
  const W1 = m.param("W1", [2, ${hidden}]);
  const W2 = m.param("W2", [${hidden}, 1]);
  const h = m.${extra || "tanh"}(x.matmul(W1));
  m.loss(m.mean(m.squaredError(h.matmul(W2), t)));
};
`;

/** Collects the process's output; `until` waits for a line matching `re` after the current position. */
function watcher(p: ChildProcess) {
  let out = "";
  let seen = 0;
  const waiters: (() => void)[] = [];
  const feed = (d: Buffer) => {
    out += d.toString();
    for (const w of waiters.splice(0)) w();
  };
  p.stdout!.on("data", feed);
  p.stderr!.on("data", feed);
  return {
    out: () => out,
    until: (re: RegExp, ms = 60_000) =>
      new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${re} in:\n${out}`)), ms);
        const check = () => {
          const rest = out.slice(seen);
          const m = re.exec(rest);
          if (m) {
            seen += m.index + m[0].length;
            clearTimeout(timer);
            resolve(m[0]);
          } else waiters.push(check);
        };
        check();
      }),
  };
}

it("recompiles on save, reports a bad save without touching the output, and exits 0 on Ctrl-C", async () => {
  const file = path.join(dir, "net.ts");
  const outDir = path.join(dir, "out");
  writeFileSync(file, spec(3));
  const p = spawn(process.execPath, ["bin/gradc.js", "compile", file, "-o", outDir, "--ts", "--watch"], { stdio: ["ignore", "pipe", "pipe"] });
  const w = watcher(p);
  try {
    await w.until(/watching .*net\.ts/);
    const first = readFileSync(path.join(outDir, "net.ts"), "utf8");
    expect(first).toContain('shape: [2, 3]');

    writeFileSync(file, spec(5)); // a save
    await w.until(/recompiled .* in \d+ ms/);
    const second = readFileSync(path.join(outDir, "net.ts"), "utf8");
    expect(second).toContain('shape: [2, 5]');
    expect(readFileSync(path.join(outDir, "net.js"), "utf8")).toContain("size: 10");

    writeFileSync(file, spec(5, "tahn")); // a typo: one error line, the last good output stays whole
    expect(await w.until(/error\[E_UNKNOWN_OP\][^\n]*\n/)).toMatch(/net\.ts:7:\d+: unknown op 'tahn'/);
    await w.until(/watching/);
    expect(readFileSync(path.join(outDir, "net.ts"), "utf8")).toBe(second);

    writeFileSync(file, spec(4)); // fixed
    await w.until(/recompiled .* in \d+ ms/);
    expect(readFileSync(path.join(outDir, "net.ts"), "utf8")).toContain('shape: [2, 4]');
  } finally {
    p.kill("SIGINT");
  }
  const code = await new Promise<number | null>((resolve) => p.on("exit", (c) => resolve(c)));
  expect(code, w.out()).toBe(0);
}, 120_000);
