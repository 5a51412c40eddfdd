// One focused snapshot per example, for review of what a reader sees: the
// heading of every statement group of the generated forward and backward
// (names, ops, derivative annotations), and for the lecture net the whole
// backward pass — it should read like the hand derivation (lecture 19:
// ∂L/∂y = y - y*, ∂z/∂h = z(1 - z), ∂L/∂h = ∂L/∂z · ∂z/∂h, ∂L/∂W = xᵀ ∂L/∂h).
// The complete files are checked in under generated/ (regen --check).
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

const DIR = path.resolve(import.meta.dirname, "../../generated");

const fnText = (src: string, fn: string): string => {
  const start = src.indexOf(`export function ${fn}(`);
  return start < 0 ? "" : src.slice(start, src.indexOf("\n}\n", start) + 2);
};
const headings = (text: string) => text.split("\n").filter((l) => /^\s*\/\/ /.test(l)).map((l) => l.trim());

describe("generated code, as a reader sees it", () => {
  for (const f of fs.readdirSync(DIR).filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts")).sort())
    it(f, () => {
      const src = fs.readFileSync(path.join(DIR, f), "utf8");
      expect({ forward: headings(fnText(src, "forward")), backward: headings(fnText(src, "backward")) }).toMatchSnapshot();
    });

  it("lecture.ts: the backward pass reads as the 2-2-1 derivation", () => {
    expect(fnText(fs.readFileSync(path.join(DIR, "lecture.ts"), "utf8"), "backward")).toMatchSnapshot();
  });
});
