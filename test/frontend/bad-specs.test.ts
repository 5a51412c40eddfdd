// Every bad spec gives one GradcError with a stable code and the spec's
// file:line — and the CLI prints it without a stack trace and writes nothing.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { GradcError } from "../../compiler/errors.ts";
import { loadSpec } from "../../compiler/frontend/load.ts";
import { compile } from "../../compiler/index.ts";

const dir = "test/fixtures/bad";

/** file -> [code, line (undefined: whole-file errors), text the message must contain] */
const CASES: Record<string, [string, number | undefined, string]> = {
  "shape.ts": ["E_SHAPE", 6, "matmul: needs [m,k] x [k,n], got [4,2] x [3,1]"],
  "broadcast.ts": ["E_SHAPE", 6, "add: cannot broadcast [4,3] with [2]"],
  "bad-axis.ts": ["E_SHAPE", 6, "axes [2] out of range for rank 2"],
  "bad-shape.ts": ["E_BAD_ATTR", 4, "shape [2,-1]"],
  "unknown-op.ts": ["E_UNKNOWN_OP", 5, "unknown op 'frobnicate'"],
  "dup-name.ts": ["E_DUP_NAME", 5, "param name 'x' is already used (line 4)"],
  "bad-name.ts": ["E_BAD_NAME", 4, '"2x" is not a valid identifier'],
  "inject-name.ts": ["E_BAD_NAME", 5, "is not a valid identifier"],
  "inject-comment.ts": ["E_BAD_NAME", 6, "is not a valid identifier"],
  "reserved-name.ts": ["E_BAD_NAME", 5, "reserved word"],
  "loss-not-scalar.ts": ["E_LOSS_NOT_SCALAR", 6, "loss must be a scalar, got shape [2]"],
  "empty.ts": ["E_EMPTY_MODEL", undefined, "neither a loss nor an output"],
  "throws.ts": ["E_SPEC_LOAD", 5, "the spec threw: boom"],
  "syntax.ts": ["E_SPEC_LOAD", 5, "cannot compile the spec"],
  "no-default.ts": ["E_SPEC_EXPORT", undefined, "no default export"],
  "missing.ts": ["E_SPEC_LOAD", undefined, "spec file not found"],
};

describe("bad specs", () => {
  it("the corpus and the table agree", () => {
    expect(readdirSync(dir).sort()).toEqual(Object.keys(CASES).filter((f) => f !== "missing.ts").sort());
  });

  for (const [file, [code, line, text]] of Object.entries(CASES)) {
    it(`${file} -> ${code}`, async () => {
      const err = await loadSpec(path.join(dir, file))
        .then((m) => compile(m))
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(err).toBeInstanceOf(GradcError);
      const g = err as GradcError;
      expect(g.code).toBe(code);
      expect(g.message).toContain(text);
      expect(g.info.file).toBe(`${dir}/${file}`);
      expect(g.info.line).toBe(line);
      expect(g.info.hint).toBeTruthy();
    });
  }

  it("an unknown op suggests the nearest builder methods", async () => {
    const e = (await loadSpec(`${dir}/unknown-op.ts`).catch((x: unknown) => x)) as GradcError;
    expect(e.info.hint).toMatch(/^did you mean m\.\w+, m\.\w+, m\.\w+\?$/);
    expect(e.info.hint).not.toMatch(/m\.(locate|at|claim|const|input\b)/);
  });

  it("the CLI prints one error line and a hint, no stack trace, and writes no file", () => {
    const out = mkdtempSync(path.join(tmpdir(), "gradc-bad-"));
    let stderr = "";
    let status = 0;
    try {
      execFileSync("node", ["bin/gradc.js", "compile", `${dir}/shape.ts`, "-o", out], { stdio: "pipe" });
    } catch (e) {
      const x = e as { stderr: Buffer; status: number };
      stderr = x.stderr.toString();
      status = x.status;
    }
    expect(status).toBe(1);
    expect(stderr.trim().split("\n")).toEqual([
      "error[E_SHAPE] test/fixtures/bad/shape.ts:6:19: matmul: needs [m,k] x [k,n], got [4,2] x [3,1] (input shapes [4,2], [3,1])",
      "  hint: the inner dimensions differ: transpose one side or fix the layer sizes",
    ]);
    expect(readdirSync(out)).toEqual([]);
  });
});
