// In a git checkout, bin/gradc.js calls freshDist() before it runs dist/cli.js: when a compiler or runtime
// source (or this build's script) is newer than the bundle, it rebuilds dist/ first (`node scripts/build.mjs`,
// ~0.5 s), so `npx gradc` always runs the current sources. The check is a stat of ~70 files (~2 ms). An
// installed package has no .git, so it never gets here. Concurrent gradc processes take turns through a lock
// directory: the first rebuilds, the others wait for it and then find dist/ fresh.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";

const SOURCES = ["compiler", "runtime"];

function newest(dir) {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) t = Math.max(t, newest(p));
    else if (/\.[cm]?[jt]s$/.test(e.name)) t = Math.max(t, statSync(p).mtimeMs);
  }
  return t;
}

function stale(root) {
  const bundle = path.join(root, "dist", "cli.js");
  if (!existsSync(bundle)) return true;
  const built = Math.min(statSync(bundle).mtimeMs, existsSync(path.join(root, "dist", "runtime.js")) ? statSync(path.join(root, "dist", "runtime.js")).mtimeMs : 0);
  const src = Math.max(...SOURCES.map((d) => (existsSync(path.join(root, d)) ? newest(path.join(root, d)) : 0)), statSync(path.join(root, "scripts", "build.mjs")).mtimeMs);
  return src > built;
}

export async function freshDist(rootUrl) {
  const root = fileURLToPath(rootUrl);
  if (!existsSync(path.join(root, "compiler", "cli.ts")) || !stale(root)) return;
  const lock = path.join(root, ".gradc-rebuild.lock");
  const t0 = Date.now();
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch (e) {
      if (e.code !== "EEXIST") throw e;
      // Another gradc is rebuilding; a lock older than a minute was left by a killed one.
      if (Date.now() - statSync(lock, { throwIfNoEntry: false })?.mtimeMs > 60_000) rmSync(lock, { recursive: true, force: true });
      else await new Promise((r) => setTimeout(r, 50));
      if (Date.now() - t0 > 120_000) throw new Error(`gradc: ${lock} has been held for 2 minutes; remove it if no build is running`);
    }
  }
  try {
    if (!stale(root)) return; // rebuilt by the process we waited for
    process.stderr.write("gradc: compiler/ or runtime/ changed since dist/ was built; rebuilding (npm run build)\n");
    const r = spawnSync(process.execPath, [path.join(root, "scripts", "build.mjs")], { cwd: root, stdio: ["ignore", "inherit", "inherit"] });
    if (r.status !== 0) throw new Error("gradc: npm run build failed; fix the error above (dist/ may be incomplete)");
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}
