/**
 * The optimizers of runtime/optim.ts as WebAssembly SIMD loops over a
 * module's own memory, so a trainer's update never leaves wasm: plain SGD,
 * momentum (heavy ball and Nesterov), AdaGrad, RMSprop and Adam, plus the
 * coupled L2 term (g += λ p), AdamW's decoupled decay (p *= 1 - η λ) over
 * element ranges, and the divergence guard's finiteness check of the
 * gradient.
 *
 * Bit-for-bit the runtime's JS loops. For float32 parameters those compute
 * in float32: every operation's result rounded to float32 (`Math.fround`, or
 * the store into a Float32Array), which for + − × ÷ √ of float32 operands is
 * the correctly rounded float32 result — exactly what an f32x4 lane computes.
 * The kernels do the same operations in the same order (no fused
 * multiply-add), so the results are identical to the last bit
 * (test/emit/optimizers.test.ts checks every rule against runtime/optim.ts).
 *
 * The memory region (byte offsets from `layout.memory.state`, 16-byte aligned):
 *
 *   [0, 128)           float32 scalars: the update's rate and hyperparameters,
 *                      written by the runtime before each call (no arguments, so
 *                      nothing is boxed on the way in); slots in `SLOT`
 *   [128, 128 + V)     state vector 1 (momentum's velocity, AdaGrad's and
 *                      RMSprop's squares, Adam's m), paramSize floats
 *   [128 + V, 128 + 2V) state vector 2 (Adam's v)
 *
 * with V = paramSize · 4 rounded up to 16. Updates run over whole vectors of
 * four, into the zero padding that follows every region.
 */
import * as binaryen from "./wasm-encoder.ts"; // binaryen's builder API, on our own encoder
import { pad16, SCALAR_BYTES, SLOT } from "../lower/optimizer-state.ts";
import { wasmHelpers } from "./wasm-helpers.ts";

/** Where the kernels work (byte addresses). */
export interface OptimizerRegions {
  readonly params: number;
  readonly grads: number;
  readonly size: number;
  readonly state: number;
}

type Ref = number;

/**
 * One update rule on four lanes. `next[k]` gives state k's new value from the
 * gradient and the old state; `delta` the amount subtracted from p, from the
 * gradient and the new state.
 */
interface Rule {
  readonly name: string;
  readonly next: readonly ((h: Lanes) => Ref)[];
  readonly delta: (h: Lanes) => Ref;
}
interface Lanes {
  g(): Ref;
  /** Old state k. */
  old(k: number): Ref;
  /** New state k. */
  now(k: number): Ref;
  /** A scalar slot, splatted. */
  s(slot: number): Ref;
}

const RULES = (m: binaryen.Module): Rule[] => {
  const F = m.f32x4;
  return [
    // p -= η g
    { name: "opt_sgd", next: [], delta: (h) => F.mul(h.s(SLOT.lr), h.g()) },
    // v = μ v + g;  p -= η v
    { name: "opt_momentum", next: [(h) => F.add(F.mul(h.s(SLOT.mu), h.old(0)), h.g())], delta: (h) => F.mul(h.s(SLOT.lr), h.now(0)) },
    // v = μ v + g;  p -= η (g + μ v)
    {
      name: "opt_nesterov",
      next: [(h) => F.add(F.mul(h.s(SLOT.mu), h.old(0)), h.g())],
      delta: (h) => F.mul(h.s(SLOT.lr), F.add(h.g(), F.mul(h.s(SLOT.mu), h.now(0)))),
    },
    // s += g²;  p -= η g / (√s + ε)
    {
      name: "opt_adagrad",
      next: [(h) => F.add(h.old(0), F.mul(h.g(), h.g()))],
      delta: (h) => F.div(F.mul(h.s(SLOT.lr), h.g()), F.add(F.sqrt(h.now(0)), h.s(SLOT.eps))),
    },
    // s = ρ s + (1-ρ) g²;  p -= η g / (√s + ε)
    {
      name: "opt_rmsprop",
      next: [(h) => F.add(F.mul(h.s(SLOT.mu), h.old(0)), F.mul(F.mul(h.s(SLOT.oneMinusMu), h.g()), h.g()))],
      delta: (h) => F.div(F.mul(h.s(SLOT.lr), h.g()), F.add(F.sqrt(h.now(0)), h.s(SLOT.eps))),
    },
    // m = β1 m + (1-β1) g;  v = β2 v + (1-β2) g²;  p -= a m / (√(v c) + ε),  a = η / (1 - β1^t), c = 1 / (1 - β2^t)
    {
      name: "opt_adam",
      next: [
        (h) => F.add(F.mul(h.s(SLOT.mu), h.old(0)), F.mul(h.s(SLOT.oneMinusMu), h.g())),
        (h) => F.add(F.mul(h.s(SLOT.beta2), h.old(1)), F.mul(F.mul(h.s(SLOT.oneMinusBeta2), h.g()), h.g())),
      ],
      delta: (h) => F.div(F.mul(h.s(SLOT.a), h.now(0)), F.add(F.sqrt(F.mul(h.now(1), h.s(SLOT.c))), h.s(SLOT.eps))),
    },
  ];
};

/**
 * Adds the optimizer kernels, each over an element range [from, to) (from a
 * multiple of 4): `opt_check(from, to)` (1 when every gradient element there is
 * finite), `opt_l2(from, to)`, `opt_decay(from, to)`, and one
 * `opt_<rule>(from, to)` per rule, and `opt_adamw(from, to)` (the decay and Adam in one pass). The trainer passes (0, size); with threads,
 * each thread updates its own range (runtime/threads.ts).
 */
export function addOptimizers(m: binaryen.Module, r: OptimizerRegions): void {
  const { i32, v128, f32 } = binaryen;
  const { get, set, c } = wasmHelpers(m);
  const dG = r.grads - r.params;
  const s1 = r.state + SCALAR_BYTES;
  const s2 = s1 + pad16(r.size * 4);
  const dS = [s1 - r.params, s2 - r.params];
  if (r.params % 16 || dG % 16 || r.state % 16) throw new Error("internal: the optimizer regions must be 16-byte aligned");

  // Element ranges [from, to) of the kernels below: `from` a multiple of 4 (a range starts on a vector), `to` rounded
  // up to one (the padding after every region is zero), so the threads of runtime/threads.ts can each take a range.
  const startAt = (base: number, from: number) => m.i32.add(c(base), m.i32.shl(get(from), c(2)));
  const endAt = (base: number, to: number) => m.i32.add(c(base), m.i32.shl(m.i32.and(m.i32.add(get(to), c(3)), c(-4)), c(2)));

  // opt_check(from, to): the bits of g·0 OR-ed over the range's lanes. x·0 is ±0 for finite x (no bits but the sign)
  // and NaN for ±∞ and NaN, so the range is finite when the OR has no bit but the sign. OR (latency 1) rather than a
  // float sum (latency 3-4, one chain) keeps the loop at memory speed; four vectors per trip, then one at a time.
  {
    const FROM = 0, TO = 1, P = 2, END = 3, ACC = 4;
    const zero = () => m.v128.const(new Array(16).fill(0));
    const zeroed = (at: number) => m.f32x4.mul(m.v128.load(at, 16, get(P)), zero());
    const body = [
      set(ACC, zero()),
      set(P, startAt(r.grads, FROM)),
      set(END, endAt(r.grads, TO)),
      m.if(m.i32.le_u(m.i32.add(get(P), c(64)), get(END)), m.loop("v4", m.block(null, [
        set(ACC, m.v128.or(get(ACC, v128), m.v128.or(m.v128.or(zeroed(0), zeroed(16)), m.v128.or(zeroed(32), zeroed(48))))),
        set(P, m.i32.add(get(P), c(64))),
        m.br("v4", m.i32.le_u(m.i32.add(get(P), c(64)), get(END))),
      ]))),
      m.if(m.i32.lt_u(get(P), get(END)), m.loop("v", m.block(null, [
        set(ACC, m.v128.or(get(ACC, v128), zeroed(0))),
        set(P, m.i32.add(get(P), c(16))),
        m.br("v", m.i32.lt_u(get(P), get(END))),
      ]))),
      m.return(m.i32.eqz(m.v128.any_true(m.v128.and(get(ACC, v128), m.i32x4.splat(c(0x7fffffff)))))),
    ];
    m.addFunction("opt_check", binaryen.createType([i32, i32]), i32, [i32, i32, v128], m.block(null, body, i32));
    m.addFunctionExport("opt_check", "opt_check");
  }

  // opt_l2(from, to): g += λ p;  opt_decay(from, to): p *= keep — over any element range: single elements up to a
  // vector boundary, whole vectors, then the last single elements (the same operation on every element, so the
  // same bits either way).
  const ranged = (name: string, target: number, slot: number, src: number | null) => {
    const FROM = 0, TO = 1, I = 2, K = 3, KV = 4;
    const at = (base: number) => m.i32.add(c(base), m.i32.shl(get(I), c(2)));
    const one = () => {
      const x = m.f32.load(0, 4, at(target));
      return m.f32.store(0, 4, at(target), src === null ? m.f32.mul(x, get(K, f32)) : m.f32.add(x, m.f32.mul(get(K, f32), m.f32.load(0, 4, at(src)))));
    };
    const four = () => {
      const x = m.v128.load(0, 16, at(target));
      return m.v128.store(0, 16, at(target), src === null ? m.f32x4.mul(x, get(KV, v128)) : m.f32x4.add(x, m.f32x4.mul(get(KV, v128), m.v128.load(0, 16, at(src)))));
    };
    const loop = (label: string, test: () => Ref, stmt: () => Ref, by: number) =>
      m.if(test(), m.loop(label, m.block(null, [stmt(), set(I, m.i32.add(get(I), c(by))), m.br(label, test())])));
    const headTest = () => m.i32.and(m.i32.lt_u(get(I), get(TO)), m.i32.ne(m.i32.and(get(I), c(3)), c(0)));
    const vecTest = () => m.i32.le_u(m.i32.add(get(I), c(4)), get(TO));
    const tailTest = () => m.i32.lt_u(get(I), get(TO));
    const body = [
      set(K, m.f32.load(slot * 4, 4, c(r.state))),
      set(KV, m.f32x4.splat(get(K, f32))),
      set(I, get(FROM)),
      loop("head", headTest, one, 1),
      loop("vec", vecTest, four, 4),
      loop("tail", tailTest, one, 1),
    ];
    m.addFunction(name, binaryen.createType([i32, i32]), binaryen.none, [i32, f32, v128], m.block(null, body));
    m.addFunctionExport(name, name);
  };
  ranged("opt_l2", r.grads, SLOT.l2, r.params);
  ranged("opt_decay", r.params, SLOT.keep, null);

  // the update rules: P walks the params region; the other vectors sit at constant offsets from it. Adam also comes
  // decayed, as `opt_adamw`: p = fl(fl(p keep) - δ), AdamW's decoupled decay and the rule in one pass — the same two
  // roundings as opt_decay then opt_adam, so the same bits (the trainer uses it over its decay ranges).
  for (const [rule, decayed] of RULES(m).flatMap((r) => (r.name === "opt_adam" ? [[r, false], [r, true]] : [[r, false]]) as [Rule, boolean][])) {
    const name = decayed ? "opt_adamw" : rule.name;
    // (from, to) | locals: P END | G | OLD0 OLD1 | NEW0 NEW1 | scalars (one v128 per slot used, loaded once)
    const FROM = 0, TO = 1, P = 2, END = 3, G = 4, OLD = 5, NEW = 7, SC = 9;
    const used = new Map<number, number>();
    const vars: number[] = [i32, i32, v128, v128, v128, v128, v128];
    const lanes: Lanes = {
      g: () => get(G, v128),
      old: (k) => get(OLD + k, v128),
      now: (k) => get(NEW + k, v128),
      s: (slot) => {
        if (!used.has(slot)) {
          used.set(slot, SC + used.size);
          vars.push(v128);
        }
        return get(used.get(slot)!, v128);
      },
    };
    const step: Ref[] = [set(G, m.v128.load(dG, 16, get(P)))];
    rule.next.forEach((next, k) => {
      step.push(set(OLD + k, m.v128.load(dS[k]!, 16, get(P))));
      step.push(set(NEW + k, next(lanes)));
      step.push(m.v128.store(dS[k]!, 16, get(P), get(NEW + k, v128)));
    });
    const p = m.v128.load(0, 16, get(P));
    step.push(m.v128.store(0, 16, get(P), m.f32x4.sub(decayed ? m.f32x4.mul(p, lanes.s(SLOT.keep)) : p, rule.delta(lanes))));
    step.push(set(P, m.i32.add(get(P), c(16))), m.br("v", m.i32.lt_u(get(P), get(END))));
    const loop = m.loop("v", m.block(null, step));
    const init = [...used].map(([slot, local]) => set(local, m.f32x4.splat(m.f32.load(slot * 4, 4, c(r.state)))));
    const range = [set(P, startAt(r.params, FROM)), set(END, endAt(r.params, TO))];
    m.addFunction(name, binaryen.createType([i32, i32]), binaryen.none, vars, m.block(null, [...init, ...range, m.if(m.i32.lt_u(get(P), get(END)), loop)]));
    m.addFunctionExport(name, name);
  }
}
