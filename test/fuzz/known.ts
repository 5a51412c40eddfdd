/**
 * Compiler bugs the fuzzer found that are not fixed yet (they live in code
 * this test suite may not change: compiler/lower, compiler/plan, …). A graph
 * whose every problem matches one of these is set aside by the fuzzers and
 * counted, instead of failing the run; each has its shrunk recipe replayed by
 * test/fuzz/regressions.test.ts as an `it.fails`, which turns red the day the
 * bug is fixed — then delete the entry here and move the recipe to the plain
 * regression list.
 */
import type { BuildName } from "./check.ts";
import type { Recipe } from "./graphs.ts";

export interface KnownBug {
  readonly id: string;
  /**
   * Matches the problem text the bug produces; graphs whose every problem matches are set aside.
   * Absent when the symptom (a wrong gradient) is too general to filter on: the fuzzers keep reporting it.
   */
  readonly match?: RegExp;
  readonly summary: string;
  /** The shrunk recipes (compiled together, as one model), and the build they fail in. */
  readonly repro: readonly Recipe[];
  /** The ops the recipes decoded to when recorded (regressions.test.ts checks they still do). */
  readonly decodes: readonly (readonly string[])[];
  readonly build: BuildName;
  /** Check H v too (a bug seen in the compiled Hessian-vector product). */
  readonly hvp?: boolean;
}

export const KNOWN_BUGS: readonly KnownBug[] = [];

export const knownBug = (problem: string): KnownBug | undefined =>
  KNOWN_BUGS.find((b) => b.match?.test(problem));
