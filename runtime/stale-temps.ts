import { readdirSync, rmSync } from "node:fs";
import path from "node:path";

/**
 * Removes the temp files of `base` in `dir` (named by `temp`: group 1 the file, group 2 the writer's pid) that a
 * process killed mid-write left behind; one whose writer still runs is being written and stays. Used by the runtime's
 * saves (runtime/node.ts) and the compiler's atomic writes (compiler/cli/write.ts); Node-only, imports nothing else.
 */
export function removeStaleTemps(dir: string, base: string, temp: RegExp): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return; // the write itself will say what is wrong with the folder
  }
  for (const f of names) {
    const m = temp.exec(f);
    if (!m || m[1] !== base) continue;
    const pid = Number(m[2]);
    if (pid !== process.pid && alive(pid)) continue; // another process is saving it right now
    rmSync(path.join(dir, f), { force: true });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as { code?: string }).code === "EPERM"; // exists, but not ours
  }
}
