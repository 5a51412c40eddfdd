/**
 * A small WebAssembly binary encoder with binaryen's builder API, for the
 * kernel templates (compiler/emit/wasm.ts, optimizers.ts): `new Module()`,
 * expressions built bottom-up as numbers (`m.f32x4.add(a, b)`,
 * `m.v128.load(offset, align, ptr)`, `m.block(label, children, type)`,
 * `m.br(label, cond?)`, `m.loop(label, body)`), then `addFunction`,
 * `addFunctionExport`, `setMemory` / `addMemoryImport`, `validate` and
 * `emitBinary`. It replaces binaryen (a 15 MB module whose load was most of a
 * cold compile); code written against binaryen ports by changing its import
 * to `import * as binaryen from "./wasm-encoder.ts"`.
 *
 * What it does not do: optimize. The bytes are the templates' instructions
 * as written (unnamed blocks flattened), so a template is written the way it
 * should run; `npm run bench` measured the kernels without binaryen's -O3
 * (BENCHMARKS.md, "Compile time").
 *
 * Checks, cheap and early: every instruction's operand types when it is built
 * (the error names the instruction and the operand), each expression used
 * once, a block's children; per function in `validate()`: locals' indices and
 * types, branch labels in scope, calls, the body against the result type, the
 * features the module enabled. `emitBinary()` refuses a module that fails
 * them; `WebAssembly.validate` on the bytes is the final word (wasm.ts).
 *
 * The instruction set is the table of compiler/emit/wasm-opcodes.ts.
 */
import { PREFIX_ATOMIC, PREFIX_FC, PREFIX_SIMD, type Row, TABLE, type Table } from "./wasm-opcodes.ts";

export type Type = number;
export type ExpressionRef = number;
export type FunctionRef = number;

// Value types are their binary codes; `none` is the empty block type.
export const none: Type = 0x40;
export const i32: Type = 0x7f;
export const i64: Type = 0x7e;
export const f32: Type = 0x7d;
export const f64: Type = 0x7c;
export const v128: Type = 0x7b;
/** The type of an expression that never completes (br, return, unreachable). */
export const unreachable: Type = 0x00;
/** `block(…, auto)`: the type of the last child. */
export const auto: Type = -1;

const VALUE: readonly Type[] = [i32, i64, f32, f64, v128];
const NAME: Record<number, string> = { [none]: "none", [i32]: "i32", [i64]: "i64", [f32]: "f32", [f64]: "f64", [v128]: "v128", [unreachable]: "unreachable" };
const LETTER: Record<string, Type> = { i: i32, I: i64, f: f32, F: f64, v: v128 };
const typeName = (t: Type): string => NAME[t] ?? (t < -1 ? `(${expandType(t).map(typeName).join(", ")})` : `type ${t}`);

/**
 * Several types (a function's parameters), encoded in the number itself:
 * -2 - Σ digitₖ·6ᵏ with digits 1..5 for i32 … v128. Pure: no table behind it.
 */
export function createType(types: readonly Type[]): Type {
  if (types.length === 0) return none;
  if (types.length === 1) return checkValue(types[0]!);
  if (types.length > 19) throw new Error(`wasm encoder: at most 19 types in a tuple, not ${types.length}`);
  let n = 0;
  for (let k = types.length - 1; k >= 0; k--) n = n * 6 + VALUE.indexOf(checkValue(types[k]!)) + 1;
  return -2 - n;
}

export function expandType(t: Type): Type[] {
  if (t === none) return [];
  if (t >= 0) return [t];
  const out: Type[] = [];
  for (let n = -2 - t; n > 0; n = Math.floor(n / 6)) out.push(VALUE[(n % 6) - 1]!);
  return out;
}

function checkValue(t: Type): Type {
  if (!VALUE.includes(t)) throw new Error(`wasm encoder: ${typeName(t)} is not a value type`);
  return t;
}

/** binaryen's feature bits (the ones this encoder checks: SIMD128, Atomics, NontrappingFPToInt, BulkMemory, SignExt). */
export const Features = {
  MVP: 0,
  Atomics: 1,
  MutableGlobals: 2,
  NontrappingFPToInt: 4,
  SIMD128: 8,
  BulkMemory: 16,
  SignExt: 32,
  Multivalue: 512,
  All: 0xfffffff,
} as const;
export type Features = number;

// ---------------------------------------------------------------- the builder API's types, from the table

type Ref = ExpressionRef;
type Refs<P extends string, A extends Ref[] = []> = P extends `${string}${infer R}` ? Refs<R, [...A, Ref]> : A;
type Method<R> =
  R extends Row<"op", infer P> ? (...operands: Refs<P>) => Ref
  : R extends Row<"load"> ? (offset: number, align: number, ptr: Ref, name?: string) => Ref
  : R extends Row<"store"> ? (offset: number, align: number, ptr: Ref, value: Ref, name?: string) => Ref
  : R extends Row<"lane"> ? (vec: Ref, lane: number) => Ref
  : R extends Row<"replace"> ? (vec: Ref, lane: number, value: Ref) => Ref
  : R extends Row<"loadlane" | "storelane"> ? (offset: number, align: number, lane: number, ptr: Ref, vec: Ref, name?: string) => Ref
  : R extends Row<"shuffle"> ? (left: Ref, right: Ref, mask: ArrayLike<number>) => Ref
  : R extends Row<"aload"> ? (offset: number, ptr: Ref, name?: string) => Ref
  : R extends Row<"astore" | "armw"> ? (offset: number, ptr: Ref, value: Ref, name?: string) => Ref
  : R extends Row<"acmpxchg"> ? (offset: number, ptr: Ref, expected: Ref, replacement: Ref, name?: string) => Ref
  : R extends Row<"amem", infer P> ? (...operands: [...Refs<P>, name?: string]) => Ref
  : never;
type Api<T> = { readonly [K in keyof T]: T[K] extends Row ? Method<T[K]> : Api<T[K]> };
type T = typeof TABLE;

export interface MemorySegment {
  readonly name?: string;
  readonly data: Uint8Array;
  readonly offset: ExpressionRef;
  readonly passive?: boolean;
}

// ---------------------------------------------------------------- expressions

type Node =
  /** An instruction: its operands, then `bytes` (opcode and immediates). */
  | { readonly k: "ins"; readonly name: string; readonly type: Type; readonly kids: readonly Ref[]; readonly bytes: readonly number[] }
  | { readonly k: "block" | "loop"; readonly label: string | null; readonly type: Type; readonly kids: readonly Ref[] }
  | { readonly k: "if"; readonly type: Type; readonly kids: readonly Ref[] }
  /** br / br_if: kids are [value?, condition?]. */
  | { readonly k: "br"; readonly label: string; readonly type: Type; readonly kids: readonly Ref[]; readonly cond: boolean }
  | { readonly k: "local"; readonly op: "get" | "set" | "tee"; readonly index: number; readonly type: Type; readonly kids: readonly Ref[] }
  | { readonly k: "call"; readonly callee: string; readonly type: Type; readonly kids: readonly Ref[] }
  | { readonly k: "return"; readonly type: Type; readonly kids: readonly Ref[] };

interface Func {
  readonly name: string;
  readonly params: Type;
  readonly results: Type;
  readonly vars: readonly Type[];
  readonly body?: Ref;
  readonly imported?: { readonly module: string; readonly base: string };
}

interface Memory {
  name: string;
  initial: number;
  maximum: number | null;
  shared: boolean;
  exportName: string | null;
  segments: readonly MemorySegment[];
  imported?: { readonly module: string; readonly base: string };
}

/** Each module's references start at its own multiple of 2²⁴, so one module's expression is never taken for another's. */
let modules = 0;
const SPAN = 2 ** 24;

/** The opcode's bytes: one, or the prefix and the code as LEB128. */
function opcode(code: number): number[] {
  return code < 0x100 ? [code] : [code >>> 16, ...uleb(code & 0xffff)];
}
function uleb(n: number): number[] {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new Error(`wasm encoder: ${n} is not an unsigned 32-bit integer`);
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
}
function sleb(v: bigint): number[] {
  const out: number[] = [];
  for (;;) {
    const b = Number(v & 0x7fn);
    v >>= 7n;
    if ((v === 0n && !(b & 0x40)) || (v === -1n && b & 0x40)) return out.push(b), out;
    out.push(b | 0x80);
  }
}
function floatBytes(x: number, bits: 32 | 64, raw: boolean): number[] {
  const dv = new DataView(new ArrayBuffer(bits / 8));
  if (bits === 32) raw ? dv.setUint32(0, x >>> 0, true) : dv.setFloat32(0, x, true);
  else dv.setFloat64(0, x, true);
  return [...new Uint8Array(dv.buffer)];
}
function i64Value(low: number | bigint, high?: number): bigint {
  if (typeof low === "bigint") return BigInt.asIntN(64, low);
  return BigInt.asIntN(64, (BigInt(high ?? (low < 0 ? -1 : 0)) << 32n) | BigInt(low >>> 0));
}
/** The feature an instruction needs, from its first bytes (the 0xfc codes used here fit one byte). */
const featureOf = ([b0, b1]: readonly number[]) =>
  b0 === PREFIX_SIMD >>> 16 ? Features.SIMD128
  : b0 === PREFIX_ATOMIC >>> 16 ? Features.Atomics
  : b0 === PREFIX_FC >>> 16 ? (b1! < 8 ? Features.NontrappingFPToInt : Features.BulkMemory)
  : b0! >= 0xc0 && b0! <= 0xc4 ? Features.SignExt
  : 0;
const FEATURE_NAME: Record<number, string> = { 1: "Atomics", 4: "NontrappingFPToInt", 8: "SIMD128", 16: "BulkMemory", 32: "SignExt" };

export class Module {
  private readonly base = ++modules * SPAN;
  private readonly nodes: Node[] = [];
  private readonly used: boolean[] = [];
  private readonly funcs: Func[] = [];
  private readonly exports: { name: string; kind: 0 | 2; internal: string }[] = [];
  private mem: Memory | null = null;
  private features: Features = Features.MVP;
  private usedFeatures: Features = 0;
  /** What the last `validate()` found wrong. */
  errors: string[] = [];

  declare readonly i32: Api<T["i32"]> & { const(value: number): Ref };
  declare readonly i64: Api<T["i64"]> & { const(lowOrBigInt: number | bigint, high?: number): Ref };
  declare readonly f32: Api<T["f32"]> & { const(value: number): Ref; const_bits(bits: number): Ref };
  declare readonly f64: Api<T["f64"]> & { const(value: number): Ref; const_bits(lowOrBigInt: number | bigint, high?: number): Ref };
  declare readonly v128: Api<T["v128"]> & { const(bytes: ArrayLike<number>): Ref };
  declare readonly i8x16: Api<T["i8x16"]>;
  declare readonly i16x8: Api<T["i16x8"]>;
  declare readonly i32x4: Api<T["i32x4"]>;
  declare readonly i64x2: Api<T["i64x2"]>;
  declare readonly f32x4: Api<T["f32x4"]>;
  declare readonly f64x2: Api<T["f64x2"]>;
  declare readonly memory: Api<T["memory"]> & {
    size(name?: string, memory64?: boolean): Ref;
    grow(delta: Ref, name?: string, memory64?: boolean): Ref;
    copy(dest: Ref, source: Ref, size: Ref): Ref;
    fill(dest: Ref, value: Ref, size: Ref): Ref;
  };
  declare readonly atomic: { fence(): Ref };
  readonly local: {
    get(index: number, type: Type): Ref;
    set(index: number, value: Ref): Ref;
    tee(index: number, value: Ref, type: Type): Ref;
  };

  constructor() {
    for (const [k, p] of NAMESPACES) (this as unknown as Record<string, unknown>)[k] = instance(p, this);
    this.local = {
      get: (index, type) => this.add({ k: "local", op: "get", index, type: checkValue(type), kids: [] }),
      set: (index, value) => this.add({ k: "local", op: "set", index, type: none, kids: [this.take(value, "local.set")] }),
      tee: (index, value, type) => this.add({ k: "local", op: "tee", index, type: checkValue(type), kids: [this.take(value, "local.tee")] }),
    };
  }

  // ------------------------------------------------------------ control

  block(label: string | null, children: readonly Ref[], resultType: Type = none): Ref {
    const kids = children.map((c) => this.take(c, "block"));
    const types = kids.map((c) => this.node(c).type);
    const last = types.length ? types[types.length - 1]! : none;
    const type = resultType === auto ? last : resultType;
    types.forEach((t, i) => {
      if (i < types.length - 1 && t !== none && t !== unreachable)
        throw new Error(`wasm encoder: block ${label ?? "(unnamed)"}: child ${i} leaves a ${typeName(t)} on the stack (drop it)`);
    });
    if (!(last === type || last === unreachable || (type === unreachable && last === none)))
      throw new Error(`wasm encoder: block ${label ?? "(unnamed)"} of type ${typeName(type)} ends in a ${typeName(last)}`);
    return this.add({ k: "block", label, type, kids });
  }

  loop(label: string | null, body: Ref): Ref {
    const kid = this.take(body, "loop");
    return this.add({ k: "loop", label, type: this.node(kid).type, kids: [kid] });
  }

  if(condition: Ref, ifTrue: Ref, ifFalse?: Ref): Ref {
    const kids = [condition, ifTrue, ...(ifFalse === undefined ? [] : [ifFalse])].map((c) => this.take(c, "if"));
    this.expect("if", [kids[0]!], [i32]);
    const [t, e] = [this.node(kids[1]!).type, ifFalse === undefined ? none : this.node(kids[2]!).type];
    const type = t === unreachable ? e : t;
    if (!(e === type || e === unreachable)) throw new Error(`wasm encoder: if: the arms' types differ (${typeName(t)}, ${typeName(e)})`);
    if (ifFalse === undefined && type !== none && type !== unreachable) throw new Error(`wasm encoder: if without else leaves a ${typeName(type)}`);
    return this.add({ k: "if", type, kids });
  }

  /** br (no condition) or br_if; binaryen's `br` and `br_if` are the same call. */
  br(label: string, condition?: Ref, value?: Ref): Ref {
    const kids = [...(value === undefined ? [] : [value]), ...(condition === undefined ? [] : [condition])].map((c) => this.take(c, "br"));
    if (condition !== undefined) this.expect("br_if", [kids[kids.length - 1]!], [i32]);
    const type = condition === undefined ? unreachable : value === undefined ? none : this.node(kids[0]!).type;
    return this.add({ k: "br", label, type, kids, cond: condition !== undefined });
  }
  br_if(label: string, condition?: Ref, value?: Ref): Ref {
    return this.br(label, condition, value);
  }

  return(value?: Ref): Ref {
    return this.add({ k: "return", type: unreachable, kids: value === undefined ? [] : [this.take(value, "return")] });
  }

  select(condition: Ref, ifTrue: Ref, ifFalse: Ref): Ref {
    const [a, b] = [this.node(ifTrue).type, this.node(ifFalse).type];
    const t = a === unreachable ? b : a;
    return this.ins("select", t, [ifTrue, ifFalse, condition], [0x1b], [t, t, i32]);
  }

  drop(value: Ref): Ref {
    const t = this.node(value).type;
    if (t === none) throw new Error("wasm encoder: drop of an expression with no value");
    return this.ins("drop", none, [value], [0x1a], [t]);
  }

  nop(): Ref {
    return this.ins("nop", none, [], [0x01]);
  }

  unreachable(): Ref {
    return this.ins("unreachable", unreachable, [], [0x00]);
  }

  call(name: string, operands: readonly Ref[], returnType: Type): Ref {
    return this.add({ k: "call", callee: name, type: returnType, kids: operands.map((c) => this.take(c, "call")) });
  }

  // ------------------------------------------------------------ the module

  addFunction(name: string, params: Type, results: Type, vars: readonly Type[], body: Ref): FunctionRef {
    this.fresh(name);
    if (expandType(results).length > 1) throw new Error(`wasm encoder: ${name}: multiple results are not supported`);
    vars.forEach(checkValue);
    this.funcs.push({ name, params, results, vars: [...vars], body: this.take(body, `function ${name}`) });
    return this.funcs.length - 1;
  }

  addFunctionImport(internalName: string, externalModuleName: string, externalBaseName: string, params: Type, results: Type): void {
    this.fresh(internalName);
    if (this.funcs.some((f) => !f.imported)) throw new Error("wasm encoder: add function imports before the functions");
    this.funcs.push({ name: internalName, params, results, vars: [], imported: { module: externalModuleName, base: externalBaseName } });
  }

  addFunctionExport(internalName: string, externalName: string): number {
    return this.export(externalName, 0, internalName);
  }

  addMemoryExport(internalName: string, externalName: string): number {
    return this.export(externalName, 2, internalName);
  }

  /** The one memory: limits in pages of 64 KiB (`maximum` −1 or null: none), active data segments, shared (needs a maximum). */
  setMemory(
    initial: number,
    maximum: number | null,
    exportName?: string | null,
    segments: readonly MemorySegment[] | null = [],
    shared = false,
    memory64 = false,
    internalName = "0",
  ): void {
    if (memory64) throw new Error("wasm encoder: memory64 is not supported");
    if (this.mem && this.mem.name !== internalName) throw new Error("wasm encoder: one memory only");
    const max = maximum === null || maximum < 0 ? null : maximum;
    if (this.mem?.imported && this.mem.shared) shared = true;
    this.mem = { name: internalName, initial, maximum: max, shared, exportName: exportName ?? null, segments: segments ?? [], imported: this.mem?.imported };
    for (const s of segments ?? []) if (!s.passive) this.take(s.offset, "a data segment's offset");
  }

  /** Imports the memory `internalName` (created by `setMemory` before or after); `shared`: a shared memory (limits flag 0x03). */
  addMemoryImport(internalName: string, externalModuleName: string, externalBaseName: string, shared = false): void {
    if (this.mem && this.mem.name !== internalName) throw new Error("wasm encoder: one memory only");
    this.mem ??= { name: internalName, initial: 0, maximum: null, shared: false, exportName: null, segments: [] };
    this.mem.imported = { module: externalModuleName, base: externalBaseName };
    if (shared) this.mem.shared = true;
  }

  setFeatures(features: Features): void {
    this.features = features;
  }

  getFeatures(): Features {
    return this.features;
  }

  /** 1 when the module passes the encoder's checks, else 0 (the reasons in `errors`). */
  validate(): number {
    this.errors = [];
    const missing = this.usedFeatures & ~this.features;
    for (const bit of [1, 4, 8, 16, 32]) if (missing & bit) this.errors.push(`the module uses ${FEATURE_NAME[bit]} instructions without that feature (setFeatures)`);
    const m = this.mem;
    if (m) {
      if (m.shared && m.maximum === null) this.errors.push("a shared memory needs a maximum");
      if (m.shared && !(this.features & Features.Atomics)) this.errors.push("a shared memory needs the Atomics feature");
      if (m.maximum !== null && m.maximum < m.initial) this.errors.push(`memory maximum ${m.maximum} < initial ${m.initial}`);
      if (m.initial > 65536 || (m.maximum ?? 0) > 65536) this.errors.push("a 32-bit memory has at most 65536 pages");
    }
    for (const e of this.exports) {
      if (e.kind === 0 && !this.funcs.some((f) => f.name === e.internal)) this.errors.push(`export ${e.name}: no function ${e.internal}`);
      if (e.kind === 2 && m?.name !== e.internal) this.errors.push(`export ${e.name}: no memory ${e.internal}`);
    }
    for (const f of this.funcs) if (f.body !== undefined) this.code(f, null);
    return this.errors.length ? 0 : 1;
  }

  emitBinary(): Uint8Array<ArrayBuffer> {
    if (!this.validate()) throw new Error(`wasm encoder: invalid module:\n  ${this.errors.join("\n  ")}`);
    const sigs: string[] = [];
    const sigOf = (f: Func) => {
      const key = `${f.params},${f.results}`;
      if (!sigs.includes(key)) sigs.push(key);
      return sigs.indexOf(key);
    };
    const fsig = this.funcs.map(sigOf);
    const out: number[] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
    const section = (id: number, items: number[][]) => {
      if (!items.length) return;
      const body = [...uleb(items.length), ...items.flat()];
      out.push(id, ...uleb(body.length));
      for (const b of body) out.push(b); // not push(...body): a call's arguments are limited, a module is not
    };
    const vec = (ts: readonly number[]) => [...uleb(ts.length), ...ts];
    section(1, sigs.map((s) => { const [p, r] = s.split(",").map(Number); return [0x60, ...vec(expandType(p!)), ...vec(expandType(r!))]; })); // prettier-ignore
    const m = this.mem;
    const limits = (mem: Memory) =>
      mem.maximum === null ? [0x00, ...uleb(mem.initial)] : [mem.shared ? 0x03 : 0x01, ...uleb(mem.initial), ...uleb(mem.maximum)];
    const imports = this.funcs.flatMap((f, i) => (f.imported ? [[...str(f.imported.module), ...str(f.imported.base), 0x00, ...uleb(fsig[i]!)]] : []));
    if (m?.imported) imports.push([...str(m.imported.module), ...str(m.imported.base), 0x02, ...limits(m)]);
    section(2, imports);
    section(3, this.funcs.flatMap((f, i) => (f.imported ? [] : [uleb(fsig[i]!)])));
    if (m && !m.imported) section(5, [limits(m)]);
    const exports = this.exports.map((e) => [...str(e.name), e.kind, ...uleb(e.kind === 0 ? this.funcs.findIndex((f) => f.name === e.internal) : 0)]);
    if (m?.exportName) exports.push([...str(m.exportName), 0x02, 0x00]);
    section(7, exports);
    const passive = m?.segments.filter((s) => s.passive).length ?? 0;
    if (passive) out.push(12, ...uleb(uleb(m!.segments.length).length), ...uleb(m!.segments.length));
    section(10, this.funcs.flatMap((f) => (f.body === undefined ? [] : [this.code(f, [])!])));
    if (m)
      section(11, m.segments.map((s) => {
        const data = [...uleb(s.data.length), ...s.data];
        if (s.passive) return [0x01, ...data];
        const off: number[] = [];
        this.emit(s.offset, { out: off, labels: [], locals: [], results: none, name: "data segment" });
        return [0x00, ...off, 0x0b, ...data];
      })); // prettier-ignore
    return Uint8Array.from(out);
  }

  /** binaryen frees its module here; nothing to free. */
  dispose(): void {}

  // ------------------------------------------------------------ internals

  /** An instruction node: checks its operands against `want` and takes them (the table's methods call it). */
  ins(name: string, type: Type, kids: readonly Ref[], bytes: readonly number[], want: readonly Type[] = []): Ref {
    this.usedFeatures |= featureOf(bytes);
    this.expect(name, kids, want);
    let t = type;
    for (const k of kids) if (this.node(this.take(k, name)).type === unreachable) t = unreachable;
    return this.add({ k: "ins", name, type: t, kids, bytes });
  }

  private expect(name: string, kids: readonly Ref[], want: readonly Type[]): void {
    for (let i = 0; i < kids.length; i++) {
      const t = this.node(kids[i]!).type;
      if (t !== want[i] && t !== unreachable) throw new Error(`wasm encoder: ${name}: operand ${i + 1} is ${typeName(t)}, expected ${typeName(want[i]!)}`);
    }
  }

  private add(n: Node): Ref {
    this.nodes.push(n);
    this.used.push(false);
    return this.base + this.nodes.length - 1;
  }

  private node(ref: Ref): Node {
    const n = this.nodes[ref - this.base];
    if (n === undefined) throw new Error(`wasm encoder: ${ref} is not an expression of this module`);
    return n;
  }

  /** Marks an expression as used by `by`: each expression has one parent, as in binaryen. */
  private take(ref: Ref, by: string): Ref {
    this.node(ref);
    if (this.used[ref - this.base]) throw new Error(`wasm encoder: ${by}: this expression is already used elsewhere (build it again)`);
    this.used[ref - this.base] = true;
    return ref;
  }

  private fresh(name: string): void {
    if (this.funcs.some((f) => f.name === name)) throw new Error(`wasm encoder: function ${name} is defined twice`);
  }

  private export(name: string, kind: 0 | 2, internal: string): number {
    if (this.exports.some((e) => e.name === name) || this.mem?.exportName === name) throw new Error(`wasm encoder: export ${name} is defined twice`);
    this.exports.push({ name, kind, internal });
    return this.exports.length - 1;
  }

  /** A function's code entry (locals, body, end) into `out`; with `out` null, only the checks (errors pushed to `this.errors`). */
  private code(f: Func, out: number[] | null): number[] | null {
    const locals = [...expandType(f.params), ...f.vars];
    const body: number[] = [];
    const runs: [number, Type][] = [];
    for (const t of f.vars) {
      const last = runs[runs.length - 1];
      if (last && last[1] === t) last[0]++;
      else runs.push([1, t]);
    }
    body.push(...uleb(runs.length), ...runs.flatMap(([n, t]) => [...uleb(n), t]));
    const before = this.errors.length;
    this.emit(f.body!, { out: out ? body : null, labels: [], locals, results: f.results, name: f.name });
    const t = this.node(f.body!).type;
    if (!(t === f.results || t === unreachable)) this.errors.push(`${f.name}: the body is ${typeName(t)}, the function returns ${typeName(f.results)}`);
    if (!out) return null;
    if (this.errors.length > before) throw new Error(`wasm encoder: invalid function:\n  ${this.errors.slice(before).join("\n  ")}`);
    body.push(0x0b);
    return [...uleb(body.length), ...body];
  }

  /**
   * An expression's instructions, operands first, into `cx.out` (null: checks only). `cx.labels` is the stack of
   * enclosing labels (null for unnamed structures); an unnamed block is flattened into its parent.
   */
  private emit(ref: Ref, cx: EmitContext): void {
    const n = this.node(ref);
    const out = cx.out;
    switch (n.k) {
      case "ins":
        this.emitAll(n.kids, cx);
        if (out) for (const b of n.bytes) out.push(b);
        return;
      case "block":
        if (n.label === null) return this.emitAll(n.kids, cx);
        return this.structured(0x02, n.label, n.type, n.kids, cx);
      case "loop":
        return this.structured(0x03, n.label, n.type, n.kids, cx);
      case "if":
        this.emit(n.kids[0]!, cx);
        return this.structured(0x04, null, n.type, n.kids.slice(1), cx);
      case "br": {
        this.emitAll(n.kids, cx);
        const at = cx.labels.lastIndexOf(n.label);
        if (at < 0) return this.fail(cx, `br ${n.label}: no enclosing block or loop of that name`);
        out?.push(n.cond ? 0x0d : 0x0c, ...uleb(cx.labels.length - 1 - at));
        return;
      }
      case "local": {
        this.emitAll(n.kids, cx);
        const t = cx.locals[n.index];
        if (t === undefined) return this.fail(cx, `local.${n.op} ${n.index}: the function has ${cx.locals.length} locals`);
        const v = n.op === "get" ? n.type : this.node(n.kids[0]!).type;
        if (v !== t && v !== unreachable) this.fail(cx, `local.${n.op} ${n.index}: the local is ${typeName(t)}, not ${typeName(v)}`);
        if (n.op === "tee" && n.type !== t) this.fail(cx, `local.tee ${n.index}: the local is ${typeName(t)}, not ${typeName(n.type)}`);
        out?.push(n.op === "get" ? 0x20 : n.op === "set" ? 0x21 : 0x22, ...uleb(n.index));
        return;
      }
      case "call": {
        this.emitAll(n.kids, cx);
        const i = this.funcs.findIndex((f) => f.name === n.callee);
        const g = this.funcs[i];
        if (!g) return this.fail(cx, `call ${n.callee}: no such function`);
        const want = expandType(g.params);
        const got = n.kids.map((k) => this.node(k).type);
        if (want.length !== got.length || got.some((t, j) => t !== want[j] && t !== unreachable))
          this.fail(cx, `call ${n.callee}: operands (${got.map(typeName).join(", ")}), expected (${want.map(typeName).join(", ")})`);
        if (n.type !== g.results) this.fail(cx, `call ${n.callee}: returns ${typeName(g.results)}, not ${typeName(n.type)}`);
        out?.push(0x10, ...uleb(i));
        return;
      }
      case "return": {
        this.emitAll(n.kids, cx);
        const t = n.kids.length ? this.node(n.kids[0]!).type : none;
        if (t !== cx.results && t !== unreachable) this.fail(cx, `return of ${typeName(t)} from a function returning ${typeName(cx.results)}`);
        out?.push(0x0f);
        return;
      }
    }
  }

  private emitAll(kids: readonly Ref[], cx: EmitContext): void {
    for (const k of kids) this.emit(k, cx);
  }

  /** block / loop / if (then the arms: `else` between two): a label level, the body, `end`. */
  private structured(op: 0x02 | 0x03 | 0x04, label: string | null, type: Type, body: readonly Ref[], cx: EmitContext): void {
    cx.out?.push(op, type === none || type === unreachable ? 0x40 : type);
    cx.labels.push(label);
    body.forEach((k, i) => {
      if (op === 0x04 && i === 1) cx.out?.push(0x05);
      this.emit(k, cx);
    });
    cx.labels.pop();
    cx.out?.push(0x0b);
    if (type === unreachable) cx.out?.push(0x00); // the code after it is unreachable too, as the type says
  }

  private fail(cx: EmitContext, s: string): void {
    this.errors.push(`${cx.name}: ${s}`);
  }
}

interface EmitContext {
  readonly out: number[] | null;
  readonly labels: (string | null)[];
  readonly locals: readonly Type[];
  readonly results: Type;
  readonly name: string;
}

// ---------------------------------------------------------------- the table's methods

/** A namespace object of one module (`m.f32x4`): its methods live on a prototype shared by every module. */
interface Ns {
  readonly [OWNER]: Module;
}
const OWNER = Symbol("module");

/** The method of one table row, binaryen's call shape for its kind (see wasm-opcodes.ts). */
function method(r: Row, name: string): (this: Ns, ...a: never[]) => Ref {
  const [kind, code, operands, result, extra] = r;
  const P = [...operands].map((c) => LETTER[c]!);
  const R = result === "" ? none : LETTER[result]!;
  const op = opcode(code);
  const memarg = (align: number, offset: number) => {
    const natural = 2 ** extra;
    const a = align === 0 ? natural : align;
    if (!Number.isInteger(Math.log2(a)) || a > natural) throw new Error(`wasm encoder: ${name}: alignment ${align} is not a power of 2 up to ${natural}`);
    return [...op, ...uleb(Math.log2(a)), ...uleb(offset)];
  };
  const lane = (i: number, lanes: number) => {
    if (!Number.isInteger(i) || i < 0 || i >= lanes) throw new Error(`wasm encoder: ${name}: lane ${i} is not in 0..${lanes - 1}`);
    return i;
  };
  switch (kind) {
    case "op":
      return function (this: Ns, ...a: Ref[]) {
        if (a.length !== P.length) throw new Error(`wasm encoder: ${name} takes ${P.length} operand(s), not ${a.length}`);
        return this[OWNER].ins(name, R, a, op, P);
      };
    case "load":
      return function (this: Ns, offset: number, align: number, ptr: Ref) {
        return this[OWNER].ins(name, R, [ptr], memarg(align, offset), P);
      };
    case "store":
      return function (this: Ns, offset: number, align: number, ptr: Ref, value: Ref) {
        return this[OWNER].ins(name, R, [ptr, value], memarg(align, offset), P);
      };
    case "aload":
      return function (this: Ns, offset: number, ptr: Ref) {
        return this[OWNER].ins(name, R, [ptr], memarg(0, offset), P);
      };
    case "astore":
    case "armw":
      return function (this: Ns, offset: number, ptr: Ref, value: Ref) {
        return this[OWNER].ins(name, R, [ptr, value], memarg(0, offset), P);
      };
    case "acmpxchg":
      return function (this: Ns, offset: number, ptr: Ref, expected: Ref, replacement: Ref) {
        return this[OWNER].ins(name, R, [ptr, expected, replacement], memarg(0, offset), P);
      };
    case "amem":
      return function (this: Ns, ...a: (Ref | string | undefined)[]) {
        return this[OWNER].ins(name, R, a.slice(0, P.length) as Ref[], memarg(0, 0), P);
      };
    case "lane":
      return function (this: Ns, vec: Ref, i: number) {
        return this[OWNER].ins(name, R, [vec], [...op, lane(i, extra)], P);
      };
    case "replace":
      return function (this: Ns, vec: Ref, i: number, value: Ref) {
        return this[OWNER].ins(name, R, [vec, value], [...op, lane(i, extra)], P);
      };
    case "loadlane":
    case "storelane":
      return function (this: Ns, offset: number, align: number, i: number, ptr: Ref, vec: Ref) {
        const at = lane(i, 16 >> extra);
        return this[OWNER].ins(name, R, [ptr, vec], [...memarg(align, offset), at], P);
      };
    case "shuffle":
      return function (this: Ns, left: Ref, right: Ref, mask: ArrayLike<number>) {
        const lanes = Array.from(mask);
        if (lanes.length !== 16 || !lanes.every((l) => Number.isInteger(l) && l >= 0 && l < 32)) throw new Error(`wasm encoder: ${name} takes 16 lane indices in 0..31`);
        return this[OWNER].ins(name, R, [left, right], [...op, ...lanes], P);
      };
  }
}

/** A namespace's prototype (its rows' methods and any extra methods) and its nested namespaces. */
interface Proto {
  readonly proto: object;
  readonly kids: readonly (readonly [string, Proto])[];
}

/**
 * A namespace's prototype. Each method is bound to its module on first use (a getter that caches the bound
 * function on the namespace object): binaryen's methods are closures, so `const F = m.f32x4; F.add(a, b)` and
 * `const cmp = F.gt; cmp(a, b)` work, and a module binds only the few dozen methods a template uses.
 */
function protoOf(t: Table, path: string, extra: Record<string, (this: Ns, ...a: never[]) => Ref> = {}): Proto {
  const proto = {};
  const kids: [string, Proto][] = [];
  const bindOnUse = (k: string, fn: (this: Ns, ...a: never[]) => Ref) =>
    Object.defineProperty(proto, k, {
      enumerable: true,
      get(this: Ns) {
        const bound = fn.bind(this);
        Object.defineProperty(this, k, { value: bound, enumerable: true });
        return bound;
      },
    });
  for (const [k, fn] of Object.entries(extra)) bindOnUse(k, fn);
  for (const [k, r] of Object.entries(t)) {
    if (Array.isArray(r)) bindOnUse(k, method(r as Row, `${path}.${k}`));
    else kids.push([k, protoOf(r as Table, `${path}.${k}`)]);
  }
  return { proto, kids };
}

function instance(p: Proto, m: Module): object {
  const o = Object.create(p.proto) as Record<string | symbol, unknown>;
  o[OWNER] = m;
  for (const [k, c] of p.kids) o[k] = instance(c, m);
  return o;
}

const noMemory64 = (b?: boolean) => {
  if (b) throw new Error("wasm encoder: memory64 is not supported");
};

/** Each namespace of `Module` with the methods the table does not hold (constants, bulk memory, fence). */
const NAMESPACES: readonly (readonly [string, Proto])[] = [
  ["i32", protoOf(TABLE.i32, "i32", {
    const(this: Ns, v: number) { return this[OWNER].ins("i32.const", i32, [], [0x41, ...sleb(BigInt(v | 0))]); },
  })],
  ["i64", protoOf(TABLE.i64, "i64", {
    const(this: Ns, lo: number | bigint, hi?: number) { return this[OWNER].ins("i64.const", i64, [], [0x42, ...sleb(i64Value(lo, hi))]); },
  })],
  ["f32", protoOf(TABLE.f32, "f32", {
    const(this: Ns, v: number) { return this[OWNER].ins("f32.const", f32, [], [0x43, ...floatBytes(v, 32, false)]); },
    const_bits(this: Ns, b: number) { return this[OWNER].ins("f32.const", f32, [], [0x43, ...floatBytes(b, 32, true)]); },
  })],
  ["f64", protoOf(TABLE.f64, "f64", {
    const(this: Ns, v: number) { return this[OWNER].ins("f64.const", f64, [], [0x44, ...floatBytes(v, 64, false)]); },
    const_bits(this: Ns, lo: number | bigint, hi?: number) {
      const b = BigInt.asUintN(64, i64Value(lo, hi));
      return this[OWNER].ins("f64.const", f64, [], [0x44, ...Array.from({ length: 8 }, (_, k) => Number((b >> BigInt(8 * k)) & 0xffn))]);
    },
  })],
  ["v128", protoOf(TABLE.v128, "v128", {
    const(this: Ns, bytes: ArrayLike<number>) {
      if (bytes.length !== 16 || !Array.from(bytes).every((b) => Number.isInteger(b) && b >= 0 && b < 256)) throw new Error("wasm encoder: v128.const takes 16 bytes");
      return this[OWNER].ins("v128.const", v128, [], [...opcode(PREFIX_SIMD + 0x0c), ...Array.from(bytes)]);
    },
  })],
  ...(["i8x16", "i16x8", "i32x4", "i64x2", "f32x4", "f64x2"] as const).map((n) => [n, protoOf(TABLE[n], n)] as const),
  ["memory", protoOf(TABLE.memory, "memory", {
    size(this: Ns, _name?: string, m64?: boolean) { noMemory64(m64); return this[OWNER].ins("memory.size", i32, [], [0x3f, 0x00]); },
    grow(this: Ns, d: Ref, _name?: string, m64?: boolean) { noMemory64(m64); return this[OWNER].ins("memory.grow", i32, [d], [0x40, 0x00], [i32]); },
    copy(this: Ns, d: Ref, s: Ref, n: Ref) { return this[OWNER].ins("memory.copy", none, [d, s, n], [...opcode(PREFIX_FC + 10), 0x00, 0x00], [i32, i32, i32]); },
    fill(this: Ns, d: Ref, v: Ref, n: Ref) { return this[OWNER].ins("memory.fill", none, [d, v, n], [...opcode(PREFIX_FC + 11), 0x00], [i32, i32, i32]); },
  })],
  ["atomic", protoOf({}, "atomic", {
    fence(this: Ns) { return this[OWNER].ins("atomic.fence", none, [], [...opcode(PREFIX_ATOMIC + 3), 0x00]); },
  })],
]; // prettier-ignore

function str(s: string): number[] {
  const b = new TextEncoder().encode(s);
  return [...uleb(b.length), ...b];
}
