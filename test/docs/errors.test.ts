// The error catalogue (docs/errors.md) cannot go stale: every code of the compiler's ErrorCode union
// and of the runtime's RuntimeErrorCode union has its own section there, and every section names a
// code that exists.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

/** The string literals of `export type <name> = | "A" | "B" …;` in a source file. */
function unionMembers(file: string, name: string): string[] {
  const src = readFileSync(file, "utf8");
  const m = new RegExp(`export type ${name}\\s*=([^;]*);`).exec(src);
  if (!m) throw new Error(`no type ${name} in ${file}`);
  return [...m[1]!.matchAll(/"(E_[A-Z0-9_]+)"/g)].map((x) => x[1]!);
}

const doc = readFileSync("docs/errors.md", "utf8");
/** `### E_CODE` headings, under the section they are in. */
const sections = (title: string): string[] => {
  const start = doc.indexOf(`## ${title}`);
  const end = doc.indexOf("\n## ", start + 1);
  return [...doc.slice(start, end < 0 ? undefined : end).matchAll(/^### (E_[A-Z0-9_]+)\s*$/gm)].map((x) => x[1]!);
};

describe("docs/errors.md", () => {
  const compiler = unionMembers("compiler/errors.ts", "ErrorCode");
  const runtime = unionMembers("runtime/types.ts", "RuntimeErrorCode");

  it("found the unions", () => {
    expect(compiler.length).toBeGreaterThan(15);
    expect(runtime.length).toBeGreaterThan(5);
  });

  it("has a section for every compiler error code, and no other", () => {
    expect(sections("Compiler errors").sort()).toEqual([...compiler].sort());
  });

  it("has a section for every runtime error code, and no other", () => {
    expect(sections("Runtime errors").sort()).toEqual([...runtime].sort());
  });

  it("gives each compiler code a trigger and a fix", () => {
    for (const code of compiler) {
      const at = doc.indexOf(`### ${code}\n`);
      const body = doc.slice(at, doc.indexOf("\n### ", at + 1));
      expect(body, code).toMatch(/\*\*Trigger\.\*\*/);
      expect(body, code).toMatch(/\*\*Fix\.\*\*/);
    }
  });
});
