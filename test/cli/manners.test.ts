// The CLI's manners: --help and --version, `<command> --help`, the programmatic compile options on
// the command line, every error as one `error[CODE]` line (regen outside a repository included),
// and a "Regenerate with:" header that is right for every -o.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = path.resolve(import.meta.dirname, "../..");
const BIN = path.join(ROOT, "bin/gradc.js");
const work = mkdtempSync(path.join(tmpdir(), "gradc-cli-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const gradc = (args: string[], cwd = ROOT) => spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: "utf8", env: { ...process.env, GRADC_DEBUG: "" } });
const version = (JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as { version: string }).version;

/** One error line (plus an optional hint line), no stack trace. */
const oneLine = (stderr: string, code: string) => {
  expect(stderr).toMatch(new RegExp(`^error\\[${code}\\] [^\\n]+\\n(  hint: [^\\n]+\\n)?$`));
  expect(stderr).not.toMatch(/\n\s+at /);
};

describe("gradc's command line", () => {
  it("--version and --help", () => {
    expect(gradc(["--version"]).stdout).toBe(`gradc ${version}\n`);
    const help = gradc(["--help"]);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^usage: gradc <command>/);
    for (const cmd of ["compile", "check", "grad", "regen", "demo"]) {
      const r = gradc([cmd, "--help"]);
      expect(r.status, cmd).toBe(0);
      expect(r.stdout, cmd).toMatch(new RegExp(`^usage: gradc ${cmd}`));
    }
    expect(gradc(["compile", "--help"]).stdout).toMatch(/--backend B[\s\S]*--precision P[\s\S]*--standalone/);
  });

  it("errors are one line on every command, outside a repository too", () => {
    oneLine(gradc(["regen"], work).stderr, "E_CLI");
    expect(gradc(["regen"], work).stderr).toMatch(/regen runs in gradc's own repository/);
    oneLine(gradc(["frobnicate"]).stderr.split("\n\n")[0]! + "\n", "E_CLI");
    oneLine(gradc(["compile"]).stderr, "E_CLI");
    oneLine(gradc(["compile", "examples/xor/model.ts", "--backend", "gpu", "-o", work]).stderr, "E_CLI");
    oneLine(gradc(["compile", "no-such.ts"]).stderr, "E_SPEC_LOAD");
    oneLine(gradc(["check"]).stderr, "E_CLI");
    oneLine(gradc(["demo", "nope"]).stderr, "E_CLI");
    expect(readdirSync(work)).toEqual([]); // nothing written by the failed compiles
  });

  it("compile --backend, --precision and --standalone reach the compiler, and the header says how to regenerate", () => {
    writeFileSync(path.join(work, "xor.ts"), readFileSync(path.join(ROOT, "examples/xor/model.ts"), "utf8").replace("../../compiler/frontend/dsl.ts", "gradc/dsl"));
    const cases: [string[], string, string][] = [
      [["-o", "."], "xor.js", "npx gradc compile xor.ts -o ."],
      [["-o", path.join(work, "out")], "out/xor.js", "npx gradc compile xor.ts -o out/"], // absolute: shown relative to the working directory
      [["-o", "f64", "--precision", "f64", "--backend", "js"], "f64/xor.js", "npx gradc compile xor.ts -o f64/ --backend js --precision f64"],
      [["-o", "alone", "--standalone"], "alone/xor.js", "npx gradc compile xor.ts -o alone/ --standalone"],
    ];
    for (const [args, file, command] of cases) {
      const r = gradc(["compile", "xor.ts", ...args], work);
      expect(r.status, r.stderr).toBe(0);
      const text = readFileSync(path.join(work, file), "utf8");
      expect(text.split("\n")[1]).toBe(`// Regenerate with: ${command}`);
      expect(readFileSync(path.join(work, file.replace(/\.js$/, ".d.ts")), "utf8")).toMatch(/export declare function forward/);
    }
    expect(readFileSync(path.join(work, "f64/xor.js"), "utf8")).toMatch(/new Float64Array/);
    const alone = readFileSync(path.join(work, "alone/xor.js"), "utf8");
    expect(alone).not.toMatch(/\bimport\b|createTrainer/);
    expect(readFileSync(path.join(work, "alone/xor.d.ts"), "utf8")).not.toMatch(/\bimport\b|createTrainer/);
    // No package.json above /tmp: the first compile (-o .) wrote the ESM marker; the folders below are in its scope.
    expect(JSON.parse(readFileSync(path.join(work, "package.json"), "utf8")).type).toBe("module");
    expect(readdirSync(path.join(work, "out")).sort()).toEqual(["xor.d.ts", "xor.js"]);
  });
});
