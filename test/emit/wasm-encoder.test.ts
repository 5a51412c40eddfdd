// gradc's WebAssembly encoder (compiler/emit/wasm-encoder.ts) against binaryen, the library it replaced:
// - every row of the opcode table, called the same way on both, encodes to the same function body bytes;
// - binaryen's builder API for the numeric and SIMD namespaces is covered (no instruction left out);
// - every kernel template (compiler/emit/wasm.ts, optimizers.ts) built by both — the templates run unchanged on
//   binaryen — computes the same memory bit for bit, against binaryen's -O3 of it too;
// - the encoder's own checks: operand types, single use, labels, locals, features, the shared memory import.
// binaryen is a devDependency, for this test and bench/wasm-ab.ts.
import binaryen from "binaryen";
import { beforeAll, describe, expect, it, vi } from "vitest";
import * as enc from "../../compiler/emit/wasm-encoder.ts";
import { TABLE, type Row, type Table } from "../../compiler/emit/wasm-opcodes.ts";
import * as ours from "../../compiler/emit/wasm.ts";
import { compile } from "../../compiler/index.ts";
import { loadSpec } from "../../compiler/frontend/load.ts";
import type { MatmulKernel, Epi } from "../../compiler/lower/kernel.ts";
import { rng } from "../helpers.ts";

type AnyModule = { [k: string]: unknown };

/** The function bodies of a module's code section. */
function bodies(bytes: Uint8Array): Uint8Array[] {
  let p = 8;
  const u = () => {
    let n = 0;
    let s = 0;
    for (;;) {
      const b = bytes[p++]!;
      n += (b & 0x7f) * 2 ** s;
      s += 7;
      if (!(b & 0x80)) return n;
    }
  };
  while (p < bytes.length) {
    const id = bytes[p++]!;
    const size = u();
    const end = p + size;
    if (id === 10) {
      const out: Uint8Array[] = [];
      for (let n = u(); n > 0; n--) {
        const len = u();
        out.push(bytes.slice(p, p + len));
        p += len;
      }
      return out;
    }
    p = end;
  }
  return [];
}

const LETTER = { i: "i32", I: "i64", f: "f32", F: "f64", v: "v128" } as const;

/** Every row of the table with its dotted name. */
const rowsOf = (t: Table, path: string[] = []): [string[], Row][] =>
  Object.entries(t).flatMap(([k, r]) => (Array.isArray(r) ? [[[...path, k], r as Row] as [string[], Row]] : rowsOf(r as Table, [...path, k])));

/**
 * One function holding one instruction, built through either library's API: the operands are the function's
 * parameters (so neither library has locals to reorder), the result its result.
 */
function single(lib: typeof binaryen | typeof enc, name: string[], r: Row, variant = 0): Uint8Array {
  const m = new lib.Module() as unknown as AnyModule & binaryen.Module;
  m.setFeatures(lib.Features.All as never);
  m.setMemory(1, 2, null, [], true, false, "0"); // before the instructions: binaryen binds them to a memory when built
  m.addMemoryImport("0", "env", "memory", true);
  const [kind, , operands, result, extra] = r;
  const types = [...operands].map((c) => lib[LETTER[c as keyof typeof LETTER]]);
  const get = (i: number) => m.local.get(i, types[i]!);
  const args = types.map((_, i) => get(i));
  const natural = 2 ** extra;
  const align = variant ? Math.max(1, natural >> 1) : natural;
  const offset = variant ? 1 << 20 : 8;
  const call: unknown[] =
    kind === "op" ? args
    : kind === "load" ? [offset, align, ...args]
    : kind === "store" ? [offset, align, ...args]
    : kind === "lane" ? [...args, extra - 1 - variant]
    : kind === "replace" ? [args[0], extra - 1 - variant, args[1]]
    : kind === "loadlane" || kind === "storelane" ? [offset, align, (16 >> extra) - 1 - variant, ...args]
    : kind === "shuffle" ? [...args, Array.from({ length: 16 }, (_, i) => (i * 7 + variant) % 32)]
    : kind === "amem" ? args
    : [offset, ...args]; // atomics: natural alignment
  let fn: unknown = m;
  for (const k of name) fn = (fn as AnyModule)[k];
  if (typeof fn !== "function") throw new Error(`${lib === binaryen ? "binaryen" : "the encoder"} has no ${name.join(".")}`);
  const ns = name.slice(0, -1).reduce<unknown>((o, k) => (o as AnyModule)[k], m);
  const body = (fn as (...a: unknown[]) => number).apply(ns, call);
  const res = result === "" ? lib.none : lib[LETTER[result as keyof typeof LETTER]];
  m.addFunction("f", lib.createType(types), res, [], body);
  return bodies(m.emitBinary())[0]!;
}

describe("the opcode table encodes as binaryen does", () => {
  const rows = rowsOf(TABLE as unknown as Table);
  it("covers the numeric, SIMD and atomic instructions", () => expect(rows.length).toBeGreaterThan(400));
  for (const [name, r] of rows)
    it(name.join("."), () => {
      for (const variant of r[0] === "op" || r[0] === "amem" ? [0] : [0, 1]) {
        const want = single(binaryen, name, r, variant);
        expect(Buffer.from(single(enc, name, r, variant)).toString("hex")).toBe(Buffer.from(want).toString("hex"));
      }
    });

  it("binaryen's numeric and SIMD instructions are all in the table", () => {
    const m = new binaryen.Module() as unknown as AnyModule;
    const missing: string[] = [];
    // not instructions of wasm 2.0 + threads (binaryen's extensions, GC, relaxed SIMD, wide arithmetic)
    const skip = /^(pop|atomic\.pause|.*relaxed.*|.*(add|sub)128|.*mul_wide.*|.*f16.*|.*waitqueue.*)$/;
    const walk = (o: AnyModule, ours: AnyModule | undefined, path: string) => {
      for (const [k, v] of Object.entries(o)) {
        const name = `${path}.${k}`;
        if (skip.test(name.slice(name.indexOf(".") + 1)) || /^(const|const_bits)$/.test(k)) continue;
        if (typeof v === "function") {
          if (typeof ours?.[k] !== "function") missing.push(name);
        } else if (v && typeof v === "object") walk(v as AnyModule, ours?.[k] as AnyModule | undefined, name);
      }
    };
    const e = new enc.Module() as unknown as AnyModule;
    for (const ns of ["i32", "i64", "f32", "f64", "v128", "i8x16", "i16x8", "i32x4", "i64x2", "f32x4", "f64x2"]) walk(m[ns] as AnyModule, e[ns] as AnyModule, ns);
    expect(missing).toEqual([]);
  });

  it("constants", () => {
    const cases: [string, (lib: typeof binaryen | typeof enc, m: AnyModule & binaryen.Module) => number, number][] = [];
    for (const v of [0, 1, -1, 63, 64, -64, -65, 2 ** 31 - 1, -(2 ** 31), 123456789]) cases.push([`i32 ${v}`, (_l, m) => m.i32.const(v), binaryen.i32]);
    for (const v of [0n, -1n, 5n, 1n << 32n, 0x7fffffff89abcdefn, -(1n << 63n), 63n, -64n, -65n])
      cases.push([`i64 ${v}`, (_l, m) => m.i64.const(v), binaryen.i64]);
    for (const v of [0, -0, 1.5, -3.25e-20, Infinity, NaN, 3.4e38]) {
      cases.push([`f32 ${v}`, (_l, m) => m.f32.const(v), binaryen.f32]);
      cases.push([`f64 ${v}`, (_l, m) => m.f64.const(v), binaryen.f64]);
    }
    cases.push(["f32 bits", (_l, m) => m.f32.const_bits(0x7fa00001), binaryen.f32]);
    cases.push(["f64 bits", (_l, m) => m.f64.const_bits(0x7ff4000000000001n), binaryen.f64]);
    cases.push(["v128", (_l, m) => m.v128.const(Array.from({ length: 16 }, (_, i) => (i * 37) & 255)), binaryen.v128]);
    for (const [what, make, t] of cases) {
      const hex = (lib: typeof binaryen | typeof enc) => {
        const m = new lib.Module() as unknown as AnyModule & binaryen.Module;
        m.setFeatures(lib.Features.All as never);
        const type = lib === binaryen ? t : ({ [binaryen.i32]: enc.i32, [binaryen.i64]: enc.i64, [binaryen.f32]: enc.f32, [binaryen.f64]: enc.f64, [binaryen.v128]: enc.v128 } as Record<number, number>)[t]!;
        m.addFunction("f", lib.none, type, [], make(lib, m));
        return Buffer.from(bodies(m.emitBinary())[0]!).toString("hex");
      };
      expect(hex(enc), what).toBe(hex(binaryen));
    }
  });
});

// ---------------------------------------------------------------- the kernel templates on both libraries

const EPIS: Epi[] = (() => {
  const acc: Epi = { k: "acc" };
  const col = (at: number): Epi => ({ k: "load", at, rowBytes: 64, col: true });
  const rowv = (at: number): Epi => ({ k: "load", at, rowBytes: 4, col: false });
  const one: Epi = { k: "load", at: 0, rowBytes: 0, col: false };
  const out: Epi[] = [
    { k: "max", a: { k: "+", a: acc, b: col(0) }, b: { k: "num", v: 0 } },
    { k: "abs", x: { k: "/", a: { k: "min", a: { k: "*", a: acc, b: rowv(0) }, b: col(0) }, b: one } },
    { k: "sqrt", x: { k: "-", a: { k: "neg", x: acc }, b: { k: "num", v: -2.5 } } },
  ];
  for (const op of [">", ">=", "<", "<="] as const) out.push({ k: "sel", c: { op, a: acc, b: { k: "num", v: 0.25 } }, a: acc, b: col(0) });
  return out;
})();

/** Kernels over a 1 MiB memory: A at 0, B at 256 KiB, C at 512 KiB, epilogue operands at 768 KiB. */
function kernels(): MatmulKernel[] {
  const out: MatmulKernel[] = [];
  const base = { aBase: 0, bBase: 1 << 18, cBase: 1 << 19 };
  const shift = (e: Epi | undefined): Epi | undefined =>
    e === undefined ? undefined
    : e.k === "load" ? { ...e, at: e.at + 3 * (1 << 18) }
    : "x" in e ? { ...e, x: shift(e.x)! }
    : e.k === "sel" ? { ...e, c: { ...e.c, a: shift(e.c.a)!, b: shift(e.c.b)! }, a: shift(e.a)!, b: shift(e.b)! }
    : "a" in e ? { ...e, a: shift(e.a)!, b: shift(e.b)! }
    : e;
  let n = 0;
  for (const [M4, K, N] of [[4, 8, 8], [8, 5, 19], [12, 3, 4], [4, 16, 33]] as const)
    for (const epilogue of [undefined, ...EPIS]) {
      out.push({ name: `mm${n++}`, M4, K, N, sa0: K, sa1: 1, ...base, epilogue: shift(epilogue) });
      out.push({ name: `mm${n++}`, M4, K, N, sa0: 1, sa1: M4 + 3, ...base, epilogue: shift(epilogue) }); // Aᵀ, strided
      if (K % 4 === 0) out.push({ name: `mm${n++}`, M4, K, N, sa0: K, sa1: 1, ...base, bT: true, epilogue: shift(epilogue) });
    }
  return out;
}

type Lib = { addWasmContents: typeof ours.addWasmContents };

/** Runs every export of the module on a memory filled from `seed` and returns the memory's bits after each call. */
function run(bytes: Uint8Array, pages: number, seed: number): { trace: string[]; memory: Uint32Array } {
  const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
  const f = new Float32Array(memory.buffer);
  const r = rng(seed);
  for (let i = 0; i < f.length; i++) f[i] = 0.5 + r(); // positive: sqrt and division stay finite
  const inst = new WebAssembly.Instance(new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>), { env: { memory } }).exports as Record<string, (...a: number[]) => number>;
  const trace: string[] = [];
  const hash = () => {
    const u = new Uint32Array(memory.buffer);
    let h = 0x811c9dc5;
    for (let i = 0; i < u.length; i++) h = Math.imul(h ^ u[i]!, 0x01000193) >>> 0;
    return h;
  };
  for (const [name, fn] of Object.entries(inst)) {
    const ret = name === "sgd" ? fn(0.01) : name === "opt_l2" || name === "opt_decay" ? fn(3, 1000) : fn();
    trace.push(`${name} -> ${ret} memory ${hash()}`);
  }
  return { trace, memory: new Uint32Array(memory.buffer) };
}

function viaBinaryen(lib: Lib, build: (lib: Lib, m: enc.Module) => void, optimize: boolean): Uint8Array {
  const m = new binaryen.Module();
  try {
    build(lib, m as unknown as enc.Module);
    expect(m.validate()).toBe(1);
    if (optimize) {
      binaryen.setOptimizeLevel(3);
      binaryen.setShrinkLevel(0);
      m.optimize();
    }
    return m.emitBinary();
  } finally {
    m.dispose();
  }
}

describe("the kernel templates: the encoder's bytes compute what binaryen's compute", () => {
  let withBinaryen: Lib;
  beforeAll(async () => {
    vi.resetModules();
    // the same template modules, with binaryen in place of the encoder
    vi.doMock("../../compiler/emit/wasm-encoder.ts", () => ({ ...binaryen, Module: binaryen.Module }));
    withBinaryen = await import("../../compiler/emit/wasm.ts");
    vi.doUnmock("../../compiler/emit/wasm-encoder.ts");
  });

  const cases: [string, () => Promise<{ pages: number; build: (lib: Lib, m: enc.Module) => void }>][] = [
    [
      "matmul kernels of every form and epilogue, sgd and the optimizer kernels (odd sizes)",
      async () => {
        const update = { params: 1 << 19, grads: (1 << 19) + 4096, size: 1021 };
        const state = { ...update, state: (1 << 19) + 8192 };
        return { pages: 16, build: (lib, m) => lib.addWasmContents(m, kernels(), 16, update, state) };
      },
    ],
    [
      "the mnist example's module",
      async () => {
        const c = await compile(await loadSpec("examples/mnist/model.ts"));
        const mem = c.lowered.layout.memory!;
        const update = { params: mem.params, grads: mem.grads, size: c.lowered.layout.paramSize };
        const state = mem.state === undefined ? undefined : { ...update, state: mem.state };
        return { pages: mem.pages, build: (lib, m) => lib.addWasmContents(m, c.lowered.kernels, mem.pages, update, state) };
      },
    ],
  ];
  for (const [what, make] of cases)
    it(what, async () => {
      const { pages, build } = await make();
      const m = new enc.Module();
      build(ours, m);
      expect(m.validate(), m.errors.join("\n")).toBe(1);
      const mine = m.emitBinary();
      expect(WebAssembly.validate(mine)).toBe(true);
      const want = run(viaBinaryen(withBinaryen, build, false), pages, 7);
      const got = run(mine, pages, 7);
      expect(got.trace.length).toBeGreaterThan(3);
      expect(got.trace).toEqual(want.trace);
      expect(run(viaBinaryen(withBinaryen, build, true), pages, 7).trace).toEqual(want.trace);
      // and the exported buildWasm is the same bytes
      if (what.startsWith("matmul")) expect(ours.buildWasm(kernels(), 16, { params: 1 << 19, grads: (1 << 19) + 4096, size: 1021 }, { params: 1 << 19, grads: (1 << 19) + 4096, size: 1021, state: (1 << 19) + 8192 })).toEqual(mine);
    });
});

// ---------------------------------------------------------------- the encoder's own checks

describe("the encoder's checks and module features", () => {
  const { i32, f32, v128, none } = enc;

  it("an operand of the wrong type is refused where it is built, naming the instruction", () => {
    const m = new enc.Module();
    expect(() => m.f32x4.add(m.local.get(0, v128), m.f32.const(1))).toThrow(/f32x4\.add: operand 2 is f32, expected v128/);
    expect(() => m.i32.store(0, 4, m.f32.const(0), m.i32.const(1))).toThrow(/i32\.store: operand 1 is f32, expected i32/);
    expect(() => m.v128.load(0, 32, m.i32.const(0))).toThrow(/alignment 32 is not a power of 2 up to 16/);
    expect(() => m.f32x4.extract_lane(m.local.get(0, v128), 4)).toThrow(/lane 4 is not in 0\.\.3/);
    expect(() => m.block(null, [m.i32.const(1), m.nop()])).toThrow(/child 0 leaves a i32/);
    expect(() => m.block(null, [m.i32.const(1)])).toThrow(/of type none ends in a i32/);
  });

  it("an expression used twice is refused, as binaryen's validator refuses it", () => {
    const m = new enc.Module();
    const x = m.i32.const(1);
    m.i32.add(x, m.i32.const(2));
    expect(() => m.i32.add(x, m.i32.const(3))).toThrow(/already used/);
    expect(() => new enc.Module().drop(x)).toThrow(/not an expression of this module/);
  });

  it("validate() finds wrong locals, labels, calls and bodies; emitBinary refuses them", () => {
    const m = new enc.Module();
    m.setFeatures(enc.Features.SIMD128);
    m.addFunction("a", none, none, [f32], m.block(null, [m.local.set(0, m.i32.const(1)), m.br("nowhere")]));
    m.addFunction("b", none, i32, [], m.block(null, [m.call("a", [m.i32.const(1)], none), m.i32.const(0)], i32));
    expect(m.validate()).toBe(0);
    expect(m.errors.join("\n")).toMatch(/local\.set 0: the local is f32, not i32/);
    expect(m.errors.join("\n")).toMatch(/br nowhere: no enclosing block or loop/);
    expect(m.errors.join("\n")).toMatch(/call a: operands \(i32\), expected \(\)/);
    expect(() => m.emitBinary()).toThrow(/invalid module/);
  });

  it("SIMD without the feature is refused", () => {
    const m = new enc.Module();
    m.addFunction("f", none, v128, [], m.v128.const(new Array(16).fill(0)));
    expect(m.validate()).toBe(0);
    expect(m.errors[0]).toMatch(/SIMD128 instructions without that feature/);
    m.setFeatures(enc.Features.SIMD128);
    expect(m.validate()).toBe(1);
  });

  it("a shared memory import: flags 0x03 with its maximum; instantiates with a shared WebAssembly.Memory and runs atomics", () => {
    const m = new enc.Module();
    m.setFeatures(enc.Features.Atomics | enc.Features.SIMD128);
    m.setMemory(2, 8, null, [], false, false, "0");
    m.addMemoryImport("0", "env", "memory", true);
    m.addFunction("add", enc.createType([i32, i32]), i32, [], m.i32.atomic.rmw.add(0, m.local.get(0, i32), m.local.get(1, i32)));
    m.addFunctionExport("add", "add");
    expect(m.validate(), m.errors.join()).toBe(1);
    const bytes = m.emitBinary();
    const imp = [0x03, 0x65, 0x6e, 0x76, 0x06, ...new TextEncoder().encode("memory"), 0x02, 0x03, 0x02, 0x08];
    expect(Buffer.from(bytes).toString("hex")).toContain(Buffer.from(imp).toString("hex"));
    expect(WebAssembly.validate(bytes)).toBe(true);
    const memory = new WebAssembly.Memory({ initial: 2, maximum: 8, shared: true });
    const { add } = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports as { add: (p: number, v: number) => number };
    expect([add(16, 5), add(16, 7)]).toEqual([0, 5]);
    expect(new Int32Array(memory.buffer)[4]).toBe(12);
    // without a maximum a shared memory is refused
    const n = new enc.Module();
    n.setFeatures(enc.Features.Atomics);
    n.addMemoryImport("0", "env", "memory", true);
    expect(n.validate()).toBe(0);
    expect(n.errors[0]).toMatch(/shared memory needs a maximum/);
  });

  it("a function of 200,000 instructions encodes (no call's argument limit on the way)", () => {
    const m = new enc.Module();
    const body = Array.from({ length: 100_000 }, (_, i) => m.local.set(0, m.i32.add(m.local.get(0, i32), m.i32.const(i & 1))));
    m.addFunction("f", enc.createType([i32]), i32, [], m.block(null, [...body, m.local.get(0, i32)], i32));
    m.addFunctionExport("f", "f");
    const { f } = new WebAssembly.Instance(new WebAssembly.Module(m.emitBinary())).exports as { f: (x: number) => number };
    expect(f(3)).toBe(3 + 50_000);
  });

  it("control flow, calls, select and tuples of parameters run as written", () => {
    const m = new enc.Module();
    m.setFeatures(enc.Features.SIMD128);
    // sum(n) = Σ_{i<n} i with a loop; pick(a, b, c) = c ? a : b; twice(x) = sum(x) + sum(x) through calls
    const I = 1;
    const S = 2;
    m.addFunction(
      "sum",
      enc.createType([i32]),
      i32,
      [i32, i32],
      m.block(null, [
        m.local.set(S, m.i32.const(0)),
        m.if(
          m.i32.gt_s(m.local.get(0, i32), m.i32.const(0)),
          m.loop("l", m.block(null, [
            m.local.set(S, m.i32.add(m.local.get(S, i32), m.local.get(I, i32))),
            m.local.set(I, m.i32.add(m.local.get(I, i32), m.i32.const(1))),
            m.br("l", m.i32.lt_s(m.local.get(I, i32), m.local.get(0, i32))),
          ])),
        ),
        m.local.get(S, i32),
      ], i32),
    );
    m.addFunction("pick", enc.createType([f32, f32, i32]), f32, [], m.select(m.local.get(2, i32), m.local.get(0, f32), m.local.get(1, f32)));
    m.addFunction("twice", enc.createType([i32]), i32, [], m.i32.add(m.call("sum", [m.local.get(0, i32)], i32), m.call("sum", [m.local.get(0, i32)], i32)));
    m.addFunction("early", enc.createType([i32]), i32, [], m.block("out", [m.if(m.local.get(0, i32), m.return(m.i32.const(7))), m.i32.const(9)], i32));
    // firstAbove(n) = the first i with i·i > n: a br_if out of the loop to the enclosing block
    m.addFunction(
      "firstAbove",
      enc.createType([i32]),
      i32,
      [i32],
      m.block(null, [
        m.block("done", [
          m.loop("l", m.block(null, [
            m.br("done", m.i32.gt_s(m.i32.mul(m.local.get(1, i32), m.local.get(1, i32)), m.local.get(0, i32))),
            m.local.set(1, m.i32.add(m.local.get(1, i32), m.i32.const(1))),
            m.br("l"),
          ])),
        ]),
        m.local.get(1, i32),
      ], i32),
    );
    for (const f of ["sum", "pick", "twice", "early", "firstAbove"]) m.addFunctionExport(f, f);
    expect(m.validate(), m.errors.join()).toBe(1);
    const x = new WebAssembly.Instance(new WebAssembly.Module(m.emitBinary())).exports as Record<string, (...a: number[]) => number>;
    expect([x.sum!(0), x.sum!(1), x.sum!(10)]).toEqual([0, 0, 45]);
    expect([x.pick!(1.5, 2.5, 1), x.pick!(1.5, 2.5, 0)]).toEqual([1.5, 2.5]);
    expect(x.twice!(5)).toBe(20);
    expect([x.early!(1), x.early!(0)]).toEqual([7, 9]);
    expect([x.firstAbove!(0), x.firstAbove!(10), x.firstAbove!(16)]).toEqual([1, 4, 5]);
    expect(enc.expandType(enc.createType([f32, f32, i32]))).toEqual([f32, f32, i32]);
  });
});
