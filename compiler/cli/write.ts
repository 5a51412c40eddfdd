import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, writeSync } from "node:fs";
import path from "node:path";
import { GradcError } from "../errors.ts";

/** `.<name>.<pid>.tmp`: where `writeAtomically` puts `<name>` until it is complete. */
const TEMP = /^\.(.+)\.(\d+)\.tmp$/;
export const isTempFile = (basename: string): boolean => TEMP.test(basename);

/**
 * Writes every file to a temp file beside it (flushed to disk), then renames
 * them into place: a failed or killed compile never leaves a half-written
 * output, and the previous files stay intact until all new ones are
 * complete. (Each rename is atomic; the two renames of a compile are not one
 * step, so a kill between them — a window of microseconds — leaves one new
 * and one old file, each whole; the next compile replaces both.)
 *
 * A compile killed mid-write (SIGKILL, power loss) cannot remove its temp
 * files; the next write of the same file removes them when their process is
 * gone.
 */
export function writeAtomically(files: Record<string, string | Uint8Array>): void {
  const temps: [string, string][] = [];
  try {
    for (const [file, text] of Object.entries(files)) {
      mkdirSync(path.dirname(file), { recursive: true });
      removeStaleTemps(file);
      const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
      temps.push([tmp, file]);
      const fd = openSync(tmp, "w");
      try {
        if (typeof text === "string") writeSync(fd, text);
        else writeSync(fd, text);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    }
    for (const [tmp, file] of temps) renameSync(tmp, file);
  } catch (e) {
    for (const [tmp] of temps) rmSync(tmp, { force: true });
    throw new GradcError("E_WRITE", `cannot write output: ${(e as Error).message}`, {
      hint: "check that the output directory is writable",
    });
  }
}

/** Removes temp files of `file` left by gradc processes that no longer run. */
function removeStaleTemps(file: string): void {
  const dir = path.dirname(file);
  for (const f of readdirSync(dir)) {
    const m = TEMP.exec(f);
    if (!m || m[1] !== path.basename(file)) continue;
    const pid = Number(m[2]);
    if (pid !== process.pid && alive(pid)) continue; // another compile is writing it right now
    rmSync(path.join(dir, f), { force: true });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"; // exists, but not ours
  }
}
