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

export const KNOWN_BUGS: readonly KnownBug[] = [
  {
    id: "gradient-copy-reads-freed-arena",
    summary:
      "unrollLimit 0: a gradient whose last op is fused into the final copy to `grads` (here d p0 = reshape(transpose(" +
      "d1 + d2)), d1, d2 two matmul outputs) is computed when the copy runs, at the end of backward — but the liveness " +
      "of d1 and d2 ends at their last other reader, so a later kernel (another graph's) reuses their arena slots first: " +
      "a silently wrong gradient. Needs other graphs in the model to reuse the space: three graphs, seed 12345 batch 110.",
    // prettier-ignore
    repro: [{"seed":16337765,"instrs":[{"op":550,"a":0,"b":0,"k":0},{"op":6,"a":17,"b":0,"k":0},{"op":148,"a":805,"b":0,"k":0},{"op":0,"a":0,"b":0,"k":0}]},{"seed":1395842518,"instrs":[{"op":408,"a":0,"b":0,"k":0},{"op":0,"a":9,"b":0,"k":2087},{"op":133,"a":1,"b":0,"k":0}]},{"seed":1595300128,"instrs":[{"op":313,"a":511,"b":757,"k":9033},{"op":591,"a":489,"b":42,"k":6887},{"op":867,"a":967,"b":926,"k":7875},{"op":942,"a":761,"b":645,"k":1301},{"op":382,"a":699,"b":57,"k":1130},{"op":944,"a":637,"b":650,"k":3486},{"op":879,"a":715,"b":165,"k":342},{"op":819,"a":431,"b":765,"k":1690},{"op":468,"a":609,"b":122,"k":3805},{"op":173,"a":690,"b":541,"k":4349},{"op":669,"a":858,"b":767,"k":854},{"op":297,"a":341,"b":853,"k":1690},{"op":231,"a":709,"b":83,"k":4492},{"op":816,"a":413,"b":189,"k":4574},{"op":662,"a":401,"b":877,"k":1226},{"op":243,"a":977,"b":442,"k":3654},{"op":954,"a":606,"b":379,"k":6163},{"op":287,"a":297,"b":873,"k":8342},{"op":383,"a":479,"b":486,"k":35},{"op":118,"a":918,"b":42,"k":2306},{"op":27,"a":294,"b":690,"k":881},{"op":664,"a":669,"b":30,"k":817},{"op":821,"a":513,"b":550,"k":7719},{"op":368,"a":841,"b":93,"k":7137},{"op":391,"a":333,"b":493,"k":6446},{"op":923,"a":82,"b":602,"k":6749},{"op":461,"a":354,"b":324,"k":4206},{"op":651,"a":699,"b":531,"k":4199},{"op":654,"a":354,"b":949,"k":1898},{"op":811,"a":643,"b":693,"k":2765},{"op":673,"a":683,"b":311,"k":6236}]}],
    // prettier-ignore
    decodes: [["broadcast","div","pow","add"],["transpose","add","matmul"],["atan","asin","tan","acos","acos","asec","tanh","sigmoid","acoth","atan","tanh","log2","cbrt","asech","acos","atan","acosh","neg","atan","acoth","tan","asec","softplus","log10","csch","exp","csch","cbrt","sign","csch","asinh"]],
    build: "f64 loops",
  },
  {
    id: "gradient-copy-reads-freed-arena (H v, one graph)",
    summary:
      "the same liveness bug in a single small graph, seen in the compiled Hessian-vector product (seed 12345, batch 741): " +
      "p0 [3], p1 []: y = sum(exp(reshape(p0, [1,3])ᵀ + p1·p1 as [1,1]) * r) + sum((p0 + p0) * r'), H v in f64 loops " +
      "is off by up to 0.9 (the gradient of the same graph is right).",
    repro: [{ seed: 25, instrs: [{ op: 898, a: 0, b: 0, k: 0 }, { op: 271, a: 0, b: 0, k: 0 }, { op: 413, a: 913, b: 0, k: 0 }, { op: 0, a: 393, b: 5, k: 6905 }, { op: 83, a: 685, b: 0, k: 0 }, { op: 0, a: 0, b: 0, k: 0 }] }],
    decodes: [["transpose", "newParam", "matmul", "add", "exp", "add"]],
    build: "f64 loops",
    hvp: true,
  },
];

export const knownBug = (problem: string): KnownBug | undefined => KNOWN_BUGS.find((b) => b.match?.test(problem));
