/**
 * Shrunk failing cases from the fuzzers, replayed on every `npm test`
 * (compiled with the real emitter: no fast-emission stand-ins here).
 *
 * - REGRESSIONS: cases of bugs that are fixed; they must stay green.
 * - test/fuzz/known.ts: bugs found and reported but not fixed yet (in code
 *   outside this suite's remit). Each is an `it.fails`: the suite stays
 *   green while the bug exists, and this turns red the day it is fixed —
 *   then move its recipe to REGRESSIONS and delete it from known.ts.
 *
 * A recipe is test/fuzz/graphs.ts's choice sequence; `npm run fuzz` prints
 * one for every new failure. When the conv choices were appended to CHOICES
 * (71 entries then), recorded op indices were re-indexed to i mod 71, and
 * when "custom" was appended (82 entries then) to i mod 82: the same entries
 * by name, as `decodes` checks. The DSL repros below say the same in spec form.
 */
import { describe, expect, it } from "vitest";
import { importModule } from "../../compiler/emit/load.ts";
import { builder } from "../../compiler/frontend/dsl.ts";
import { compile } from "../../compiler/index.ts";
import { type BuildName, checkRecipes } from "./check.ts";
import { CHOICES, type Recipe } from "./graphs.ts";
import { KNOWN_BUGS } from "./known.ts";

interface Regression {
  readonly why: string;
  /** One or more recipes, compiled together as one model. */
  readonly recipes: readonly Recipe[];
  /** The ops each recipe decoded to when it was recorded (a generator change would silently re-map it). */
  readonly decodes: readonly (readonly string[])[];
  readonly builds?: BuildName[];
  readonly hvpEvery?: number;
}

const REGRESSIONS: Regression[] = [
  {
    why:
      "harness: a point within ~1e-3 of a pole (a unary chain through acoth, csch, atanh, cbrt): the central difference at eps 1e-6 was " +
      "-99.710 for a true -99.524 (rel 1.9e-3 > rtol); eps/2 moves it by more than the tolerance, so checkGradients extrapolates " +
      "(Richardson: -99.52381) — the rule was right (seed 20261201, batch 1751)",
    // prettier-ignore
    recipes: [{"seed":2147483639,"instrs":[{"op":42,"a":870,"b":104,"k":1492},{"op":14,"a":33,"b":30,"k":1541},{"op":38,"a":577,"b":272,"k":9755},{"op":14,"a":738,"b":384,"k":3991},{"op":24,"a":563,"b":608,"k":8040},{"op":48,"a":525,"b":143,"k":5841},{"op":38,"a":681,"b":221,"k":560},{"op":41,"a":181,"b":952,"k":6274},{"op":51,"a":379,"b":555,"k":9164},{"op":32,"a":949,"b":509,"k":8412},{"op":26,"a":13,"b":873,"k":1415},{"op":52,"a":383,"b":191,"k":4486},{"op":28,"a":119,"b":172,"k":4172},{"op":7,"a":157,"b":812,"k":8938},{"op":26,"a":337,"b":373,"k":7893},{"op":48,"a":602,"b":409,"k":8519},{"op":51,"a":857,"b":5,"k":108},{"op":35,"a":879,"b":362,"k":4797},{"op":27,"a":679,"b":587,"k":8151},{"op":21,"a":969,"b":496,"k":8983},{"op":36,"a":325,"b":271,"k":7452},{"op":7,"a":965,"b":890,"k":4966},{"op":37,"a":650,"b":166,"k":4288},{"op":39,"a":513,"b":519,"k":3243},{"op":29,"a":174,"b":212,"k":1418},{"op":14,"a":9,"b":335,"k":1539},{"op":18,"a":565,"b":968,"k":9335},{"op":27,"a":141,"b":604,"k":4887},{"op":47,"a":461,"b":507,"k":5242},{"op":45,"a":933,"b":70,"k":7352},{"op":21,"a":23,"b":733,"k":2816}]}],
    decodes: [
      [
        "coth",
        "expm1",
        "cosh",
        "expm1",
        "sign",
        "acoth",
        "cosh",
        "csch",
        "softplus",
        "acos",
        "cos",
        "step",
        "sec",
        "neg",
        "cos",
        "acoth",
        "softplus",
        "acsc",
        "tan",
        "cbrt",
        "acot",
        "neg",
        "sinh",
        "tanh",
        "csc",
        "expm1",
        "log10",
        "tan",
        "acsch",
        "atanh",
        "cbrt",
      ],
    ],
    builds: ["f64", "f64 loops"],
    hvpEvery: 0,
  },
  {
    why: "lower: float32 builds round constants to float32 (fround(2.17) - 2.17 was 7.6e-8 where float32 gives 0; seed 20261123, batch 1657)",
    // prettier-ignore
    recipes: [{"seed":1237012383,"instrs":[{"op":0,"a":0,"b":0,"k":115},{"op":12,"a":0,"b":0,"k":8347},{"op":6,"a":97,"b":0,"k":0},{"op":55,"a":540,"b":0,"k":0},{"op":0,"a":0,"b":0,"k":0}]}],
    decodes: [["add", "where", "div", "sum", "add"]],
    builds: ["f32", "f32 loops", "f32 wasm"],
    hvpEvery: 0,
  },
  {
    why: "lower: a loop `sum` to a scalar read by backward (was a ReferenceError on forward's local `sum0_acc`)",
    recipes: [
      {
        seed: 0,
        instrs: [
          { op: 55, a: 0, b: 0, k: 0 },
          { op: 25, a: 65, b: 0, k: 0 },
        ],
      },
    ],
    decodes: [["sum", "sin"]],
    builds: ["f64 loops", "f32 loops"],
  },
  {
    why: "plan: a [1,1] unrolled operand of a loop matmul in backward is stored (was 'matmul operand has no strided storage')",
    recipes: [
      {
        seed: 1879048171,
        instrs: [
          { op: 58, a: 0, b: 0, k: 0 },
          { op: 13, a: 33, b: 0, k: 0 },
          { op: 0, a: 0, b: 0, k: 0 },
        ],
      },
    ],
    decodes: [["matmul", "exp", "add"]],
    builds: ["f64", "f32"],
  },
  {
    why: "lower: a gradient that is a broadcast of an unrolled value is copied from its elements (was 'read by a loop but not stored')",
    recipes: [
      {
        seed: 2147483627,
        instrs: [
          { op: 55, a: 0, b: 0, k: 329 },
          { op: 9, a: 1, b: 0, k: 1554 },
          { op: 0, a: 1, b: 0, k: 0 },
        ],
      },
    ],
    decodes: [["sum", "max", "add"]],
    builds: ["f64", "f32"],
  },
  {
    why: "checker: an output that is a small result of a large cancellation (0.000685) is within float32's own error, not a fixed 1e-3 (seed 1, batch 98)",
    builds: ["f64 loops", "f32 loops"],
    hvpEvery: 0,
    // prettier-ignore
    decodes: [["csc","div","relu","broadcast","acsc","batchSize","sum","add","sign","pow","sign","ge","coth","log1p","tanh","logsumexp","tanh","const","where","step","logsumexp","logsumexp","acosh","csc","batchSize","expm1","acsc","log","where","asech","log2","div","broadcast","sec","exp","const","acsch","asech","mul","logsumexp"]],
    // prettier-ignore
    recipes: [{"seed":1103786820,"instrs":[{"op":29,"a":973,"b":959,"k":4360},{"op":6,"a":467,"b":640,"k":3679},{"op":50,"a":137,"b":280,"k":8119},{"op":61,"a":194,"b":868,"k":1269},{"op":35,"a":353,"b":938,"k":7961},{"op":1,"a":907,"b":612,"k":4372},{"op":55,"a":381,"b":328,"k":4853},{"op":0,"a":395,"b":871,"k":4678},{"op":24,"a":211,"b":139,"k":700},{"op":8,"a":121,"b":909,"k":8610},{"op":24,"a":839,"b":547,"k":4889},{"op":11,"a":451,"b":8,"k":7218},{"op":42,"a":29,"b":49,"k":3750},{"op":16,"a":959,"b":540,"k":58},{"op":39,"a":506,"b":774,"k":2679},{"op":56,"a":983,"b":521,"k":640},{"op":39,"a":294,"b":314,"k":1563},{"op":3,"a":367,"b":560,"k":4978},{"op":12,"a":707,"b":976,"k":6158},{"op":52,"a":329,"b":961,"k":7447},{"op":56,"a":138,"b":274,"k":7477},{"op":56,"a":946,"b":224,"k":1438},{"op":44,"a":27,"b":759,"k":1597},{"op":29,"a":567,"b":52,"k":1230},{"op":1,"a":765,"b":586,"k":2629},{"op":14,"a":7,"b":47,"k":782},{"op":35,"a":961,"b":151,"k":7759},{"op":15,"a":223,"b":764,"k":2738},{"op":12,"a":562,"b":684,"k":529},{"op":46,"a":915,"b":803,"k":6589},{"op":17,"a":457,"b":62,"k":2060},{"op":6,"a":709,"b":919,"k":1879},{"op":61,"a":689,"b":240,"k":2639},{"op":28,"a":131,"b":805,"k":339},{"op":13,"a":657,"b":198,"k":2163},{"op":3,"a":754,"b":432,"k":2728},{"op":47,"a":185,"b":577,"k":263},{"op":46,"a":718,"b":164,"k":3520},{"op":5,"a":534,"b":938,"k":1464},{"op":56,"a":463,"b":438,"k":140}]}],
  },
  {
    why: "plan: every gradient source is kept out of fusion — gradient-copy-reads-freed-arena",
    // "unrollLimit 0: a gradient whose last op is fused into the final copy to `grads` (here d p0 = reshape(transpose(" +
    //       "d1 + d2)), d1, d2 two matmul outputs) is computed when the copy runs, at the end of backward — but the liveness " +
    //       "of d1 and d2 ends at their last other reader, so a later kernel (another graph's) reuses their arena slots first: " +
    //       "a silently wrong gradient. Needs other graphs in the model to reuse the space: three graphs, seed 12345 batch 110."
    // prettier-ignore
    recipes: [{"seed":16337765,"instrs":[{"op":61,"a":0,"b":0,"k":0},{"op":6,"a":17,"b":0,"k":0},{"op":8,"a":805,"b":0,"k":0},{"op":0,"a":0,"b":0,"k":0}]},{"seed":1395842518,"instrs":[{"op":59,"a":0,"b":0,"k":0},{"op":0,"a":9,"b":0,"k":2087},{"op":58,"a":1,"b":0,"k":0}]},{"seed":1595300128,"instrs":[{"op":33,"a":511,"b":757,"k":9033},{"op":31,"a":489,"b":42,"k":6887},{"op":27,"a":967,"b":926,"k":7875},{"op":32,"a":761,"b":645,"k":1301},{"op":32,"a":699,"b":57,"k":1130},{"op":34,"a":637,"b":650,"k":3486},{"op":39,"a":715,"b":165,"k":342},{"op":49,"a":431,"b":765,"k":1690},{"op":48,"a":609,"b":122,"k":3805},{"op":33,"a":690,"b":541,"k":4349},{"op":39,"a":858,"b":767,"k":854},{"op":17,"a":341,"b":853,"k":1690},{"op":21,"a":709,"b":83,"k":4492},{"op":46,"a":413,"b":189,"k":4574},{"op":32,"a":401,"b":877,"k":1226},{"op":33,"a":977,"b":442,"k":3654},{"op":44,"a":606,"b":379,"k":6163},{"op":7,"a":297,"b":873,"k":8342},{"op":33,"a":479,"b":486,"k":35},{"op":48,"a":918,"b":42,"k":2306},{"op":27,"a":294,"b":690,"k":881},{"op":34,"a":669,"b":30,"k":817},{"op":51,"a":513,"b":550,"k":7719},{"op":18,"a":841,"b":93,"k":7137},{"op":41,"a":333,"b":493,"k":6446},{"op":13,"a":82,"b":602,"k":6749},{"op":41,"a":354,"b":324,"k":4206},{"op":21,"a":699,"b":531,"k":4199},{"op":24,"a":354,"b":949,"k":1898},{"op":41,"a":643,"b":693,"k":2765},{"op":43,"a":683,"b":311,"k":6236}]}],
    // prettier-ignore
    decodes: [["broadcast","div","pow","add"],["transpose","add","matmul"],["atan","asin","tan","acos","acos","asec","tanh","sigmoid","acoth","atan","tanh","log2","cbrt","asech","acos","atan","acosh","neg","atan","acoth","tan","asec","softplus","log10","csch","exp","csch","cbrt","sign","csch","asinh"]],
    builds: ["f64 loops", "f32 loops"],
  },
  {
    why: "plan: every gradient source is kept out of fusion — gradient-copy-reads-freed-arena (H v, one graph)",
    // "the same liveness bug in a single small graph, seen in the compiled Hessian-vector product (seed 12345, batch 741): " +
    //       "p0 [3], p1 []: y = sum(exp(reshape(p0, [1,3])ᵀ + p1·p1 as [1,1]) * r) + sum((p0 + p0) * r'), H v in f64 loops " +
    //       "is off by up to 0.9 (the gradient of the same graph is right)."
    recipes: [
      {
        seed: 25,
        instrs: [
          { op: 59, a: 0, b: 0, k: 0 },
          { op: 62, a: 0, b: 0, k: 0 },
          { op: 58, a: 913, b: 0, k: 0 },
          { op: 0, a: 393, b: 5, k: 6905 },
          { op: 13, a: 685, b: 0, k: 0 },
          { op: 0, a: 0, b: 0, k: 0 },
        ],
      },
    ],
    decodes: [["transpose", "newParam", "matmul", "add", "exp", "add"]],
    builds: ["f64 loops", "f32 loops"],
    hvpEvery: 1,
  },
  {
    why: "plan: every gradient source is kept out of fusion — gradient-copy-reads-freed-arena (two small graphs)",
    // "the same liveness bug, shrunk from seed 12345 batch 1405: p0 [3], p1 [1,1], p2 []: " +
    //       "y0 = sum(max(reshape(p0, [1,3])ᵀ + p1, p2) * r); a second graph, y1 = logsumexp(broadcast(q, [2])) r' + (q + q) r'', " +
    //       "reuses the arena slot d p0 is read from: where max picks p2, d p0 is 0 but the loops build returns -0.87, -0.61."
    recipes: [
      {
        seed: 360835881,
        instrs: [
          { op: 59, a: 0, b: 0, k: 0 },
          { op: 0, a: 497, b: 0, k: 3 },
          { op: 9, a: 613, b: 0, k: 6987 },
        ],
      },
      {
        seed: 0,
        instrs: [
          { op: 56, a: 0, b: 0, k: 0 },
          { op: 0, a: 0, b: 0, k: 0 },
        ],
      },
    ],
    decodes: [
      ["transpose", "add", "max"],
      ["logsumexp", "add"],
    ],
    builds: ["f64 loops", "f32 loops"],
  },
  {
    why: "plan: every gradient source is kept out of fusion — fused-gradient-source-has-no-storage",
    // "unrollLimit 0: a gradient that is a view (reshape/transpose) of a loop value which has one other reader gets " +
    //       "fused into that reader, so the final copy to `grads` finds neither elements nor storage. Minimal: p [], q [1], " +
    //       "r [1,1] input, y = sum((reshape(p, [1,1])ᵀ + q) * 1.81 * r). The same root cause as gradient-copy-reads-freed-arena: " +
    //       "plan/memory.ts keeps out of fusion only the gradient sources in row-major order (gradRoots), not all of them."
    recipes: [
      {
        seed: 0,
        instrs: [
          { op: 59, a: 0, b: 0, k: 0 },
          { op: 0, a: 449, b: 0, k: 9 },
          { op: 3, a: 829, b: 0, k: 0 },
          { op: 52, a: 0, b: 0, k: 0 },
        ],
      },
    ],
    decodes: [["transpose", "add", "const", "step"]],
    builds: ["f64 loops", "f32 loops"],
  },
  {
    why:
      "wasm conv: conv2dBackInput with rows clipped walked its filter pointer below the filter (flipped rows, a negative " +
      "step) and let the loads' static offsets bring it back; wasm does not wrap pointer + offset, so a filter near " +
      "address 0 read out of bounds (x [1,1,2,2] param, 3×3 filter, pad [1,1,1,0]; seed 20261202, batch 106)",
    recipes: [{ seed: 13, instrs: [{ op: 71, a: 0, b: 0, k: 9064 }] }],
    decodes: [["conv2d"]],
    builds: ["f32 wasm", "f64"],
  },
  {
    why:
      "wasm conv: the same conv2dBackInput filter-pointer bug reached from the forward pass (a conv2dBackInput op of " +
      "the graph itself, then add): memory access out of bounds in forward; seed 20261202, batch 1301, found by the " +
      "100k run on 5d0b3f8 before the fix in cf92054, which it fails without",
    recipes: [
      {
        seed: 18,
        instrs: [
          { op: 74, a: 0, b: 0, k: 3778 },
          { op: 0, a: 0, b: 0, k: 0 },
        ],
      },
    ],
    decodes: [["conv2dBackInput", "add"]],
    builds: ["f32 wasm", "f64"],
  },
  {
    why:
      "harness: a correct gradient (81.1262, a chain through exp, cosh, expm1, tan, csc) failed against D(1e-6) = 81.2128 " +
      "because halving eps moved the difference by 0.8 of the tolerance, under the old 'converged' test; the reference is " +
      "now Richardson's extrapolation whenever the analytic misses D(eps) (seed 20261202, batch 1857)",
    recipes: [
      {
        seed: 10,
        instrs: [
          { op: 7, a: 1, b: 4, k: 9089 },
          { op: 45, a: 9, b: 533, k: 12 },
          { op: 7, a: 742, b: 2, k: 7546 },
          { op: 13, a: 2, b: 4, k: 6 },
          { op: 7, a: 337, b: 220, k: 9 },
          { op: 51, a: 259, b: 999, k: 9 },
          { op: 38, a: 995, b: 394, k: 7855 },
          { op: 13, a: 902, b: 3, k: 9776 },
          { op: 15, a: 558, b: 139, k: 9996 },
          { op: 14, a: 5, b: 196, k: 6474 },
          { op: 53, a: 1, b: 74, k: 1708 },
          { op: 27, a: 814, b: 650, k: 9990 },
          { op: 46, a: 6, b: 6, k: 739 },
          { op: 25, a: 994, b: 42, k: 11 },
          { op: 52, a: 943, b: 8, k: 3981 },
          { op: 29, a: 5, b: 996, k: 9995 },
          { op: 13, a: 103, b: 38, k: 7918 },
          { op: 13, a: 7, b: 760, k: 3479 },
          { op: 14, a: 281, b: 1, k: 9806 },
        ],
      },
    ],
    decodes: [
      [
        "neg",
        "atanh",
        "neg",
        "exp",
        "neg",
        "softplus",
        "cosh",
        "exp",
        "log",
        "expm1",
        "halfSquare",
        "tan",
        "asech",
        "sin",
        "step",
        "csc",
        "exp",
        "exp",
        "expm1",
      ],
    ],
  },
  {
    why:
      "lower: an unrolled read of a view no strided access expresses (a reshape of a transpose of a matmul, in the " +
      "Hessian-vector product of add → avgPool2dBack → matmul) threw 'reshape#85 has neither elements nor storage'; " +
      "such a view now takes its input's elements (seed 20261204, batch 425; it failed on 973ecb1 too)",
    recipes: [
      {
        seed: 16544053,
        instrs: [
          { op: 0, a: 0, b: 0, k: 0 },
          { op: 81, a: 0, b: 0, k: 5199 },
          { op: 58, a: 709, b: 0, k: 152 },
        ],
      },
    ],
    decodes: [["add", "avgPool2dBack", "matmul"]],
    builds: ["f64", "f64 loops", "f32", "f32 loops", "f32 wasm"],
    hvpEvery: 1,
  },
];

const decode = (r: Recipe) =>
  r.instrs.map((i) => CHOICES[i.op % CHOICES.length]!);

describe("fuzz regressions (fixed bugs)", () => {
  it.each(REGRESSIONS)("$why", async ({ recipes, builds, hvpEvery }) => {
    expect(
      (await checkRecipes(recipes, { builds, hvpEvery: hvpEvery ?? 1 }))
        .problems,
    ).toEqual([]);
  });

  it("every recorded recipe still decodes to the graph it was recorded as (graphs.ts changes re-map recipes)", () => {
    for (const r of REGRESSIONS)
      expect(r.recipes.map(decode), r.why).toEqual(r.decodes);
    for (const b of KNOWN_BUGS)
      expect(b.repro.map(decode), b.id).toEqual(b.decodes);
  });
});

describe("known compiler bugs (it.fails until fixed; see test/fuzz/known.ts) and DSL repros of fixed ones", () => {
  for (const bug of KNOWN_BUGS)
    // BUG: see `summary` in test/fuzz/known.ts — the shrunk recipe still fails in this build.
    it.fails(`${bug.id}: shrunk fuzz case`, async () => {
      expect(
        (
          await checkRecipes(bug.repro, {
            builds: [bug.build],
            hvpEvery: bug.hvp ? 1 : 0,
          })
        ).problems,
      ).toEqual([]);
    });

  /** Compiles a DSL spec in float64, runs forward and backward on fixed values, returns the gradient. */
  const run = async (
    spec: (m: ReturnType<typeof builder>) => void,
    unrollLimit?: number,
  ) => {
    const m = builder("repro", "test/fuzz/regressions.test.ts");
    spec(m);
    const c = await compile(m.finish(), {
      precision: "f64",
      ...(unrollLimit === undefined ? {} : { unrollLimit }),
    });
    const mod = await importModule(c.js);
    const buf = mod.buffers();
    buf.params.fill(0.5);
    buf.inputs.fill(0.25);
    mod.forward(buf.params, buf.inputs, buf.arena);
    mod.backward!(buf.params, buf.inputs, buf.arena, buf.grads);
    return Array.from(buf.grads);
  };

  // FIXED: scalar-sum-accumulator-read-in-backward — lower.ts keeps a loop `sum` to a scalar in a local
  // `sum0_acc` and backward reads that local (defined only in forward): ReferenceError.
  it("loops: y = sin(sum(p)) — d/dp = cos(sum(p))", async () => {
    const g = await run((m) => {
      const p = m.param("p", [3]);
      m.loss(m.sin(m.sum(p)));
    }, 0);
    expect(g).toEqual([Math.cos(1.5), Math.cos(1.5), Math.cos(1.5)]);
  });

  // FIXED: matmul-operand-not-stored — plan/memory.ts stores an unrolled value read by a loop kernel only
  // if it has more than one element; a loop matmul needs strided storage for its [1,1] operand too.
  it("default plan: y = sum(exp(x·w) * r), x [1,18], w [18,1], r [1,1] input", async () => {
    const g = await run((m) => {
      const x = m.param("x", [1, 18]);
      const w = m.param("w", [18, 1]);
      const r = m.input("r", [1, 1]);
      m.loss(m.sum(m.exp(x.matmul(w)).mul(r)));
    });
    // d/dx_j = r e^{x·w} w_j = 0.25 e^{4.5} 0.5
    expect(g[0]).toBeCloseTo(0.25 * Math.exp(4.5) * 0.5, 10);
  });

  // FIXED: unrolled-gradient-read-by-copy-loop — d p = broadcast(cos(sum(p, [0]))) has 18 elements, so lower.ts copies it
  // into `grads` with a loop, which reads cos(…) (3 elements, unrolled, never stored) from memory.
  it("default plan: y = sum(sin(sum(p, [0]))), p [6,3] — d/dp = cos(3)", async () => {
    const g = await run((m) => {
      const p = m.param("p", [6, 3]);
      m.loss(m.sum(m.sin(m.sum(p, [0]))));
    });
    expect(g).toEqual(Array(18).fill(Math.cos(3)));
  });

  // FIXED: fused-gradient-source-has-no-storage — d p = reshape(transpose(1.81 r)) is a view of a loop value that
  // plan/memory.ts fused into d q's kernel (only row-major gradient sources were kept out of fusion), so the copy of
  // d p into `grads` found neither elements nor storage: "internal: reshape#22 has neither elements nor storage".
  it("loops: y = sum((reshape(p, [1,1])ᵀ + q) * 1.81 * r) compiles; d/dp = d/dq = 1.81 r", async () => {
    const g = await run((m) => {
      const p = m.param("p", []);
      const q = m.param("q", [1]);
      const r = m.input("r", [1, 1]);
      m.loss(m.sum(m.reshape(p, [1, 1]).T.add(q).mul(1.81).mul(r)));
    }, 0);
    expect(g).toEqual([1.81 * 0.25, 1.81 * 0.25]);
  });
});
