/**
 * From a failing batch to a minimal regression case:
 *   1. `isolate` finds which graphs of a batch fail (problems name their
 *      graph; a failure of the whole compiled model is bisected);
 *   2. `shrink` hands one failing recipe to fast-check as a starting example
 *      and lets it shrink (shorter instruction lists, smaller numbers) while
 *      the failure keeps the same `signature`;
 *   3. `triage` does both for a batch, setting aside graphs that hit a known,
 *      reported bug (test/fuzz/known.ts).
 */
import fc from "fast-check";
import { BUILDS, type BuildName, type CheckOptions, type CheckResult, checkRecipes } from "./check.ts";
import { type Recipe, recipeArb } from "./graphs.ts";
import { type KnownBug, knownBug } from "./known.ts";

export interface GraphFailure {
  readonly index: number;
  readonly recipe: Recipe;
  readonly problems: string[];
}

/** A problem with its numbers and generated names blurred: what stays the same while a case shrinks. */
export const signature = (p: string): string =>
  p
    .replace(/^graph \d+: /, "")
    .replace(/\b(g\d+_)?[a-z]\w*?\d+(_\w+)?\b/gi, "<id>")
    .replace(/-?\d+(\.\d+)?(e[-+]?\d+)?/gi, "#")
    .replace(/\s*\|.*$/, "")
    .slice(0, 160);

/** The graphs of `recipes` that fail on their own, with their problems. */
export async function isolate(recipes: readonly Recipe[], opts: CheckOptions, base = 0): Promise<GraphFailure[]> {
  const { problems } = await checkRecipes(recipes, opts);
  if (!problems.length) return [];
  const byGraph = new Map<number, string[]>();
  let whole = false;
  for (const p of problems) {
    const m = /^graph (\d+): /.exec(p);
    if (m) (byGraph.get(Number(m[1])) ?? byGraph.set(Number(m[1]), []).get(Number(m[1]))!).push(p);
    else whole = true;
  }
  if (!whole)
    return [...byGraph].map(([k, ps]) => ({
      index: base + k,
      recipe: recipes[k]!,
      problems: ps.map((p) => p.replace(/^graph \d+: /, `graph ${base + k}: `)),
    }));
  if (recipes.length === 1) return [{ index: base, recipe: recipes[0]!, problems }];
  // Bisect with only what failed: the builds named, H v only if it failed.
  const wholeProblems = problems.filter((p) => !/^graph \d+: /.test(p));
  const narrow: CheckOptions = {
    ...opts,
    builds: buildsOf(wholeProblems) ?? opts.builds,
    hvpEvery: wholeProblems.some((p) => p.startsWith("H v")) ? 1 : 0,
  };
  const mid = recipes.length >> 1;
  const left = await isolate(recipes.slice(0, mid), narrow, base);
  const right = await isolate(recipes.slice(mid), narrow, base + mid);
  // Graph failures seen in the whole run (perhaps in builds the bisection skipped) are kept.
  const found = new Map<number, GraphFailure>();
  for (const f of [...left, ...right]) found.set(f.index, f);
  for (const [k, ps] of byGraph) {
    const prev = found.get(base + k);
    const mine = ps.map((p) => p.replace(/^graph \d+: /, `graph ${base + k}: `));
    found.set(base + k, { index: base + k, recipe: recipes[k]!, problems: [...(prev?.problems ?? []), ...mine] });
  }
  // A failure that needs graphs from both halves (should not happen: graphs share nothing) is reported whole.
  return found.size ? [...found.values()].sort((x, y) => x.index - y.index) : [{ index: base, recipe: recipes[0]!, problems }];
}

/** Shrinks a failing recipe while its first problem keeps its signature. */
export async function shrink(
  recipe: Recipe,
  opts: CheckOptions,
  log: (s: string) => void = () => {},
): Promise<{ recipe: Recipe; problems: string[] }> {
  const r = await shrinkGroup([recipe], opts, log);
  return { recipe: r.recipes[0]!, problems: r.problems };
}

/**
 * Shrinks a failing group of recipes (compiled together, as one model) while
 * its first problem keeps its signature: first drops graphs the failure does
 * not need, then lets fast-check shrink what is left.
 */
export async function shrinkGroup(
  recipes: readonly Recipe[],
  opts: CheckOptions,
  log: (s: string) => void = () => {},
): Promise<{ recipes: Recipe[]; problems: string[] }> {
  const first = (await checkRecipes(recipes, opts)).problems;
  if (!first.length) return { recipes: [...recipes], problems: [] };
  const sig = signature(first[0]!);
  const fails = async (rs: readonly Recipe[]) => (await checkRecipes(rs, opts)).problems.filter((p) => signature(p) === sig);
  let best = { recipes: [...recipes], problems: first };
  // Drop chunks of graphs, halving the chunk size (delta debugging).
  for (let chunk = best.recipes.length >> 1; chunk >= 1; chunk >>= 1)
    for (let i = 0; i < best.recipes.length && best.recipes.length > 1; ) {
      const rest = [...best.recipes.slice(0, i), ...best.recipes.slice(i + chunk)];
      const same = rest.length ? await fails(rest) : [];
      if (same.length) {
        best = { recipes: rest, problems: same };
        log(`shrinking: ${best.recipes.length} graph(s) left`);
      } else i += chunk;
    }
  let steps = 0;
  await fc.check(
    fc.asyncProperty(fc.array(recipeArb, { minLength: 1, maxLength: best.recipes.length }), async (rs) => {
      const same = await fails(rs);
      if (!same.length) return true;
      if (++steps % 10 === 0) log(`shrinking: ${steps} smaller failing cases, now ${rs.map((r) => r.instrs.length).join("+")} instructions`);
      best = { recipes: rs, problems: same };
      return false;
    }),
    { examples: [[best.recipes]], numRuns: 1, endOnFailure: false },
  );
  return best;
}

export interface Triage {
  readonly result: CheckResult;
  /** Graphs that fail for a reason not in known.ts. */
  readonly failures: GraphFailure[];
  /** Graphs that hit a known bug (every problem of theirs matches one). */
  readonly known: { readonly bug: KnownBug; readonly failure: GraphFailure }[];
}

/** Checks a batch; when it fails, finds the failing graphs and sorts them into known bugs and new failures. */
export async function triage(recipes: readonly Recipe[], opts: CheckOptions): Promise<Triage> {
  const result = await checkRecipes(recipes, opts);
  if (!result.problems.length) return { result, failures: [], known: [] };
  const all = await isolate(recipes, opts);
  const known: Triage["known"][number][] = [];
  const failures: GraphFailure[] = [];
  for (const f of all) {
    const bugs = f.problems.map(knownBug);
    if (bugs.every((b) => b !== undefined)) known.push({ bug: bugs[0]!, failure: f });
    else failures.push(f);
  }
  return { result, failures, known };
}

/** The builds a failure names (to shrink with only those: faster). */
export function buildsOf(problems: readonly string[]): CheckOptions["builds"] {
  const names = (Object.keys(BUILDS) as BuildName[]).filter((b) => problems.some((p) => p.includes(`${b} build`) || p.includes(`${b} vs`)));
  const withTwins = new Set<BuildName>(names);
  for (const b of names) if (BUILDS[b].twin) withTwins.add(BUILDS[b].twin!);
  return withTwins.size ? [...withTwins] : undefined;
}
