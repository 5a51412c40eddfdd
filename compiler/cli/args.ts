/** Command-line flags, shared by the commands. */
import { GradcError } from "../errors.ts";

/** Minimal flag parsing shared by the commands: `--flag value`, `--flag=value`, repeated flags, positionals. */
export function parseArgs(argv: string[], spec: { flags?: string[]; bools?: string[] }) {
  const flags = new Map<string, string[]>();
  const bools = new Set<string>();
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith("-") || a === "-") {
      positional.push(a);
      continue;
    }
    const [rawKey, inline] = a.split(/=(.*)/s, 2) as [string, string | undefined];
    const key = rawKey.replace(/^--?/, "");
    if (spec.bools?.includes(key)) {
      bools.add(key);
    } else if (spec.flags?.includes(key)) {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new GradcError("E_CLI", `--${key} needs a value`);
      (flags.get(key) ?? flags.set(key, []).get(key)!).push(v);
    } else {
      throw new GradcError("E_CLI", `unknown option '${a}'`, { hint: "run `gradc --help` for the options" });
    }
  }
  return { flags, bools, positional };
}
