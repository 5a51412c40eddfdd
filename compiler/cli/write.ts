import { mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { GradcError } from "../errors.ts";

/**
 * Writes every file to a temp file beside it, then renames them into place:
 * a failed or killed compile never leaves a half-written output, and the
 * previous files stay intact until all new ones are complete.
 */
export function writeAtomically(files: Record<string, string>): void {
  const temps: [string, string][] = [];
  try {
    for (const [file, text] of Object.entries(files)) {
      mkdirSync(path.dirname(file), { recursive: true });
      const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
      temps.push([tmp, file]);
      writeFileSync(tmp, text);
    }
    for (const [tmp, file] of temps) renameSync(tmp, file);
  } catch (e) {
    for (const [tmp] of temps) rmSync(tmp, { force: true });
    throw new GradcError("E_WRITE", `cannot write output: ${(e as Error).message}`, {
      hint: "check that the output directory is writable",
    });
  }
}
