/**
 * The WebAssembly instruction table of compiler/emit/wasm-encoder.ts: every
 * numeric instruction of i32, i64, f32 and f64, the fixed-width SIMD set
 * (v128, i8x16, i16x8, i32x4, i64x2, f32x4, f64x2) and the threads
 * proposal's atomics, each under binaryen's name (`m.f32x4.extract_lane`,
 * `m.i32.trunc_s.f32`, `m.i8x16.add_saturate_s`) with its opcode, operand
 * and result types. The encoder builds every method from this table: adding
 * an instruction is one row.
 *
 * A row is [kind, opcode, operands, result, extra]:
 * - kind says how the method is called (below);
 * - opcode: one byte, or prefix·2¹⁶ + code for the prefixed spaces
 *   (0xfc saturating truncation and bulk memory, 0xfd SIMD, 0xfe atomics);
 * - operands and result: one letter per value type, i i32, I i64, f f32,
 *   F f64, v v128 ("" is none);
 * - extra: log2 of the natural alignment (memory kinds), or the lane count
 *   (lane kinds).
 *
 * | kind | binaryen's call shape |
 * | --- | --- |
 * | op | (operand, …) |
 * | load | (offset, align, ptr, name?) |
 * | store | (offset, align, ptr, value, name?) |
 * | lane | (vec, lane) — extract_lane |
 * | replace | (vec, lane, value) |
 * | loadlane | (offset, align, lane, ptr, vec, name?) |
 * | storelane | (offset, align, lane, ptr, vec, name?) |
 * | shuffle | (left, right, mask: 16 lane indices) |
 * | aload | (offset, ptr, name?) — atomic, natural alignment |
 * | astore, armw | (offset, ptr, value, name?) |
 * | acmpxchg | (offset, ptr, expected, replacement, name?) |
 * | amem | (ptr, operand, …, name?) — memory.atomic.notify / wait, offset 0 |
 *
 * Opcodes: the WebAssembly core specification 2.0 (binary format, §5.4) and
 * the threads proposal's overview.
 */

export type Kind =
  | "op"
  | "load"
  | "store"
  | "lane"
  | "replace"
  | "loadlane"
  | "storelane"
  | "shuffle"
  | "aload"
  | "astore"
  | "armw"
  | "acmpxchg"
  | "amem";

export type Row<K extends Kind = Kind, P extends string = string> = readonly [kind: K, opcode: number, operands: P, result: string, extra: number];

/** A nested table: namespaces of rows (binaryen's `m.i32.trunc_s.f32` is TABLE.i32.trunc_s.f32). */
export interface Table {
  readonly [name: string]: Row | Table;
}

/** Rows of one kind and signature from a name → opcode map. */
function rows<const K extends Kind, const P extends string>(kind: K, operands: P, result: string, codes: Record<string, number>, extra = 0) {
  const out: Record<string, Row<K, P>> = {};
  for (const [name, code] of Object.entries(codes)) out[name] = [kind, code, operands, result, extra];
  return out;
}
/** `rows` keeping the names as the type's keys. */
const group = rows as <const K extends Kind, const P extends string, const N extends string>(
  kind: K,
  operands: P,
  result: string,
  codes: Record<N, number>,
  extra?: number,
) => { readonly [n in N]: Row<K, P> };

const row = <const K extends Kind, const P extends string>(kind: K, code: number, operands: P, result: string, extra = 0): Row<K, P> => [
  kind,
  code,
  operands,
  result,
  extra,
];

const S = 0xfd0000; // SIMD prefix
const A = 0xfe0000; // atomics prefix
const FC = 0xfc0000; // saturating truncation, bulk memory

/** The seven read-modify-write operations of one width: add, sub, and, or, xor, xchg at base + 7k, cmpxchg. */
function rmw<const T extends string>(base: number, t: T, align: number) {
  return {
    ...group("armw", `i${t}`, t, { add: A + base, sub: A + base + 7, and: A + base + 14, or: A + base + 21, xor: A + base + 28, xchg: A + base + 35 }, align),
    cmpxchg: row("acmpxchg", A + base + 42, `i${t}${t}`, t, align),
  };
}

const i32 = {
  ...group("load", "i", "i", { load: 0x28 }, 2),
  ...group("load", "i", "i", { load8_s: 0x2c, load8_u: 0x2d }, 0),
  ...group("load", "i", "i", { load16_s: 0x2e, load16_u: 0x2f }, 1),
  store: row("store", 0x36, "ii", "", 2),
  store8: row("store", 0x3a, "ii", "", 0),
  store16: row("store", 0x3b, "ii", "", 1),
  ...group("op", "i", "i", { clz: 0x67, ctz: 0x68, popcnt: 0x69, eqz: 0x45, extend8_s: 0xc0, extend16_s: 0xc1 }),
  ...group("op", "ii", "i", {
    add: 0x6a, sub: 0x6b, mul: 0x6c, div_s: 0x6d, div_u: 0x6e, rem_s: 0x6f, rem_u: 0x70,
    and: 0x71, or: 0x72, xor: 0x73, shl: 0x74, shr_s: 0x75, shr_u: 0x76, rotl: 0x77, rotr: 0x78,
    eq: 0x46, ne: 0x47, lt_s: 0x48, lt_u: 0x49, gt_s: 0x4a, gt_u: 0x4b, le_s: 0x4c, le_u: 0x4d, ge_s: 0x4e, ge_u: 0x4f,
  }),
  trunc_s: { f32: row("op", 0xa8, "f", "i"), f64: row("op", 0xaa, "F", "i") },
  trunc_u: { f32: row("op", 0xa9, "f", "i"), f64: row("op", 0xab, "F", "i") },
  trunc_s_sat: { f32: row("op", FC + 0, "f", "i"), f64: row("op", FC + 2, "F", "i") },
  trunc_u_sat: { f32: row("op", FC + 1, "f", "i"), f64: row("op", FC + 3, "F", "i") },
  reinterpret: row("op", 0xbc, "f", "i"),
  wrap: row("op", 0xa7, "I", "i"),
  atomic: {
    load: row("aload", A + 0x10, "i", "i", 2),
    load8_u: row("aload", A + 0x12, "i", "i", 0),
    load16_u: row("aload", A + 0x13, "i", "i", 1),
    store: row("astore", A + 0x17, "ii", "", 2),
    store8: row("astore", A + 0x19, "ii", "", 0),
    store16: row("astore", A + 0x1a, "ii", "", 1),
    rmw: rmw(0x1e, "i", 2),
    rmw8_u: rmw(0x20, "i", 0),
    rmw16_u: rmw(0x21, "i", 1),
  },
};

const i64 = {
  ...group("load", "i", "I", { load: 0x29 }, 3),
  ...group("load", "i", "I", { load8_s: 0x30, load8_u: 0x31 }, 0),
  ...group("load", "i", "I", { load16_s: 0x32, load16_u: 0x33 }, 1),
  ...group("load", "i", "I", { load32_s: 0x34, load32_u: 0x35 }, 2),
  store: row("store", 0x37, "iI", "", 3),
  store8: row("store", 0x3c, "iI", "", 0),
  store16: row("store", 0x3d, "iI", "", 1),
  store32: row("store", 0x3e, "iI", "", 2),
  ...group("op", "I", "I", { clz: 0x79, ctz: 0x7a, popcnt: 0x7b, extend8_s: 0xc2, extend16_s: 0xc3, extend32_s: 0xc4 }),
  eqz: row("op", 0x50, "I", "i"),
  ...group("op", "II", "I", {
    add: 0x7c, sub: 0x7d, mul: 0x7e, div_s: 0x7f, div_u: 0x80, rem_s: 0x81, rem_u: 0x82,
    and: 0x83, or: 0x84, xor: 0x85, shl: 0x86, shr_s: 0x87, shr_u: 0x88, rotl: 0x89, rotr: 0x8a,
  }),
  ...group("op", "II", "i", { eq: 0x51, ne: 0x52, lt_s: 0x53, lt_u: 0x54, gt_s: 0x55, gt_u: 0x56, le_s: 0x57, le_u: 0x58, ge_s: 0x59, ge_u: 0x5a }),
  trunc_s: { f32: row("op", 0xae, "f", "I"), f64: row("op", 0xb0, "F", "I") },
  trunc_u: { f32: row("op", 0xaf, "f", "I"), f64: row("op", 0xb1, "F", "I") },
  trunc_s_sat: { f32: row("op", FC + 4, "f", "I"), f64: row("op", FC + 6, "F", "I") },
  trunc_u_sat: { f32: row("op", FC + 5, "f", "I"), f64: row("op", FC + 7, "F", "I") },
  reinterpret: row("op", 0xbd, "F", "I"),
  extend_s: row("op", 0xac, "i", "I"),
  extend_u: row("op", 0xad, "i", "I"),
  atomic: {
    load: row("aload", A + 0x11, "i", "I", 3),
    load8_u: row("aload", A + 0x14, "i", "I", 0),
    load16_u: row("aload", A + 0x15, "i", "I", 1),
    load32_u: row("aload", A + 0x16, "i", "I", 2),
    store: row("astore", A + 0x18, "iI", "", 3),
    store8: row("astore", A + 0x1b, "iI", "", 0),
    store16: row("astore", A + 0x1c, "iI", "", 1),
    store32: row("astore", A + 0x1d, "iI", "", 2),
    rmw: rmw(0x1f, "I", 3),
    rmw8_u: rmw(0x22, "I", 0),
    rmw16_u: rmw(0x23, "I", 1),
    rmw32_u: rmw(0x24, "I", 2),
  },
};

const f32 = {
  load: row("load", 0x2a, "i", "f", 2),
  store: row("store", 0x38, "if", "", 2),
  ...group("op", "f", "f", { abs: 0x8b, neg: 0x8c, ceil: 0x8d, floor: 0x8e, trunc: 0x8f, nearest: 0x90, sqrt: 0x91 }),
  ...group("op", "ff", "f", { add: 0x92, sub: 0x93, mul: 0x94, div: 0x95, min: 0x96, max: 0x97, copysign: 0x98 }),
  ...group("op", "ff", "i", { eq: 0x5b, ne: 0x5c, lt: 0x5d, gt: 0x5e, le: 0x5f, ge: 0x60 }),
  reinterpret: row("op", 0xbe, "i", "f"),
  convert_s: { i32: row("op", 0xb2, "i", "f"), i64: row("op", 0xb4, "I", "f") },
  convert_u: { i32: row("op", 0xb3, "i", "f"), i64: row("op", 0xb5, "I", "f") },
  demote: row("op", 0xb6, "F", "f"),
};

const f64 = {
  load: row("load", 0x2b, "i", "F", 3),
  store: row("store", 0x39, "iF", "", 3),
  ...group("op", "F", "F", { abs: 0x99, neg: 0x9a, ceil: 0x9b, floor: 0x9c, trunc: 0x9d, nearest: 0x9e, sqrt: 0x9f }),
  ...group("op", "FF", "F", { add: 0xa0, sub: 0xa1, mul: 0xa2, div: 0xa3, min: 0xa4, max: 0xa5, copysign: 0xa6 }),
  ...group("op", "FF", "i", { eq: 0x61, ne: 0x62, lt: 0x63, gt: 0x64, le: 0x65, ge: 0x66 }),
  reinterpret: row("op", 0xbf, "I", "F"),
  convert_s: { i32: row("op", 0xb7, "i", "F"), i64: row("op", 0xb9, "I", "F") },
  convert_u: { i32: row("op", 0xb8, "i", "F"), i64: row("op", 0xba, "I", "F") },
  promote: row("op", 0xbb, "f", "F"),
};

const v128 = {
  load: row("load", S + 0x00, "i", "v", 4),
  ...group("load", "i", "v", { load8x8_s: S + 0x01, load8x8_u: S + 0x02, load16x4_s: S + 0x03, load16x4_u: S + 0x04, load32x2_s: S + 0x05, load32x2_u: S + 0x06 }, 3),
  load8_splat: row("load", S + 0x07, "i", "v", 0),
  load16_splat: row("load", S + 0x08, "i", "v", 1),
  load32_splat: row("load", S + 0x09, "i", "v", 2),
  load64_splat: row("load", S + 0x0a, "i", "v", 3),
  load32_zero: row("load", S + 0x5c, "i", "v", 2),
  load64_zero: row("load", S + 0x5d, "i", "v", 3),
  store: row("store", S + 0x0b, "iv", "", 4),
  load8_lane: row("loadlane", S + 0x54, "iv", "v", 0),
  load16_lane: row("loadlane", S + 0x55, "iv", "v", 1),
  load32_lane: row("loadlane", S + 0x56, "iv", "v", 2),
  load64_lane: row("loadlane", S + 0x57, "iv", "v", 3),
  store8_lane: row("storelane", S + 0x58, "iv", "", 0),
  store16_lane: row("storelane", S + 0x59, "iv", "", 1),
  store32_lane: row("storelane", S + 0x5a, "iv", "", 2),
  store64_lane: row("storelane", S + 0x5b, "iv", "", 3),
  not: row("op", S + 0x4d, "v", "v"),
  ...group("op", "vv", "v", { and: S + 0x4e, andnot: S + 0x4f, or: S + 0x50, xor: S + 0x51 }),
  bitselect: row("op", S + 0x52, "vvv", "v"),
  any_true: row("op", S + 0x53, "v", "i"),
};

const i8x16 = {
  shuffle: row("shuffle", S + 0x0d, "vv", "v", 16),
  swizzle: row("op", S + 0x0e, "vv", "v"),
  splat: row("op", S + 0x0f, "i", "v"),
  extract_lane_s: row("lane", S + 0x15, "v", "i", 16),
  extract_lane_u: row("lane", S + 0x16, "v", "i", 16),
  replace_lane: row("replace", S + 0x17, "vi", "v", 16),
  ...group("op", "vv", "v", {
    eq: S + 0x23, ne: S + 0x24, lt_s: S + 0x25, lt_u: S + 0x26, gt_s: S + 0x27, gt_u: S + 0x28, le_s: S + 0x29, le_u: S + 0x2a, ge_s: S + 0x2b, ge_u: S + 0x2c,
    narrow_i16x8_s: S + 0x65, narrow_i16x8_u: S + 0x66,
    add: S + 0x6e, add_saturate_s: S + 0x6f, add_saturate_u: S + 0x70, sub: S + 0x71, sub_saturate_s: S + 0x72, sub_saturate_u: S + 0x73,
    min_s: S + 0x76, min_u: S + 0x77, max_s: S + 0x78, max_u: S + 0x79, avgr_u: S + 0x7b,
  }),
  ...group("op", "v", "v", { abs: S + 0x60, neg: S + 0x61, popcnt: S + 0x62 }),
  ...group("op", "v", "i", { all_true: S + 0x63, bitmask: S + 0x64 }),
  ...group("op", "vi", "v", { shl: S + 0x6b, shr_s: S + 0x6c, shr_u: S + 0x6d }),
};

const i16x8 = {
  splat: row("op", S + 0x10, "i", "v"),
  extract_lane_s: row("lane", S + 0x18, "v", "i", 8),
  extract_lane_u: row("lane", S + 0x19, "v", "i", 8),
  replace_lane: row("replace", S + 0x1a, "vi", "v", 8),
  ...group("op", "vv", "v", {
    eq: S + 0x2d, ne: S + 0x2e, lt_s: S + 0x2f, lt_u: S + 0x30, gt_s: S + 0x31, gt_u: S + 0x32, le_s: S + 0x33, le_u: S + 0x34, ge_s: S + 0x35, ge_u: S + 0x36,
    q15mulr_sat_s: S + 0x82, narrow_i32x4_s: S + 0x85, narrow_i32x4_u: S + 0x86,
    add: S + 0x8e, add_saturate_s: S + 0x8f, add_saturate_u: S + 0x90, sub: S + 0x91, sub_saturate_s: S + 0x92, sub_saturate_u: S + 0x93,
    mul: S + 0x95, min_s: S + 0x96, min_u: S + 0x97, max_s: S + 0x98, max_u: S + 0x99, avgr_u: S + 0x9b,
    extmul_low_i8x16_s: S + 0x9c, extmul_high_i8x16_s: S + 0x9d, extmul_low_i8x16_u: S + 0x9e, extmul_high_i8x16_u: S + 0x9f,
  }),
  ...group("op", "v", "v", {
    extadd_pairwise_i8x16_s: S + 0x7c, extadd_pairwise_i8x16_u: S + 0x7d, abs: S + 0x80, neg: S + 0x81,
    extend_low_i8x16_s: S + 0x87, extend_high_i8x16_s: S + 0x88, extend_low_i8x16_u: S + 0x89, extend_high_i8x16_u: S + 0x8a,
  }),
  ...group("op", "v", "i", { all_true: S + 0x83, bitmask: S + 0x84 }),
  ...group("op", "vi", "v", { shl: S + 0x8b, shr_s: S + 0x8c, shr_u: S + 0x8d }),
};

const i32x4 = {
  splat: row("op", S + 0x11, "i", "v"),
  extract_lane: row("lane", S + 0x1b, "v", "i", 4),
  replace_lane: row("replace", S + 0x1c, "vi", "v", 4),
  ...group("op", "vv", "v", {
    eq: S + 0x37, ne: S + 0x38, lt_s: S + 0x39, lt_u: S + 0x3a, gt_s: S + 0x3b, gt_u: S + 0x3c, le_s: S + 0x3d, le_u: S + 0x3e, ge_s: S + 0x3f, ge_u: S + 0x40,
    add: S + 0xae, sub: S + 0xb1, mul: S + 0xb5, min_s: S + 0xb6, min_u: S + 0xb7, max_s: S + 0xb8, max_u: S + 0xb9, dot_i16x8_s: S + 0xba,
    extmul_low_i16x8_s: S + 0xbc, extmul_high_i16x8_s: S + 0xbd, extmul_low_i16x8_u: S + 0xbe, extmul_high_i16x8_u: S + 0xbf,
  }),
  ...group("op", "v", "v", {
    extadd_pairwise_i16x8_s: S + 0x7e, extadd_pairwise_i16x8_u: S + 0x7f, abs: S + 0xa0, neg: S + 0xa1,
    extend_low_i16x8_s: S + 0xa7, extend_high_i16x8_s: S + 0xa8, extend_low_i16x8_u: S + 0xa9, extend_high_i16x8_u: S + 0xaa,
    trunc_sat_f32x4_s: S + 0xf8, trunc_sat_f32x4_u: S + 0xf9, trunc_sat_f64x2_s_zero: S + 0xfc, trunc_sat_f64x2_u_zero: S + 0xfd,
  }),
  ...group("op", "v", "i", { all_true: S + 0xa3, bitmask: S + 0xa4 }),
  ...group("op", "vi", "v", { shl: S + 0xab, shr_s: S + 0xac, shr_u: S + 0xad }),
};

const i64x2 = {
  splat: row("op", S + 0x12, "I", "v"),
  extract_lane: row("lane", S + 0x1d, "v", "I", 2),
  replace_lane: row("replace", S + 0x1e, "vI", "v", 2),
  ...group("op", "vv", "v", {
    add: S + 0xce, sub: S + 0xd1, mul: S + 0xd5, eq: S + 0xd6, ne: S + 0xd7, lt_s: S + 0xd8, gt_s: S + 0xd9, le_s: S + 0xda, ge_s: S + 0xdb,
    extmul_low_i32x4_s: S + 0xdc, extmul_high_i32x4_s: S + 0xdd, extmul_low_i32x4_u: S + 0xde, extmul_high_i32x4_u: S + 0xdf,
  }),
  ...group("op", "v", "v", {
    abs: S + 0xc0, neg: S + 0xc1,
    extend_low_i32x4_s: S + 0xc7, extend_high_i32x4_s: S + 0xc8, extend_low_i32x4_u: S + 0xc9, extend_high_i32x4_u: S + 0xca,
  }),
  ...group("op", "v", "i", { all_true: S + 0xc3, bitmask: S + 0xc4 }),
  ...group("op", "vi", "v", { shl: S + 0xcb, shr_s: S + 0xcc, shr_u: S + 0xcd }),
};

const f32x4 = {
  splat: row("op", S + 0x13, "f", "v"),
  extract_lane: row("lane", S + 0x1f, "v", "f", 4),
  replace_lane: row("replace", S + 0x20, "vf", "v", 4),
  ...group("op", "vv", "v", {
    eq: S + 0x41, ne: S + 0x42, lt: S + 0x43, gt: S + 0x44, le: S + 0x45, ge: S + 0x46,
    add: S + 0xe4, sub: S + 0xe5, mul: S + 0xe6, div: S + 0xe7, min: S + 0xe8, max: S + 0xe9, pmin: S + 0xea, pmax: S + 0xeb,
  }),
  ...group("op", "v", "v", {
    demote_f64x2_zero: S + 0x5e, ceil: S + 0x67, floor: S + 0x68, trunc: S + 0x69, nearest: S + 0x6a,
    abs: S + 0xe0, neg: S + 0xe1, sqrt: S + 0xe3, convert_i32x4_s: S + 0xfa, convert_i32x4_u: S + 0xfb,
  }),
};

const f64x2 = {
  splat: row("op", S + 0x14, "F", "v"),
  extract_lane: row("lane", S + 0x21, "v", "F", 2),
  replace_lane: row("replace", S + 0x22, "vF", "v", 2),
  ...group("op", "vv", "v", {
    eq: S + 0x47, ne: S + 0x48, lt: S + 0x49, gt: S + 0x4a, le: S + 0x4b, ge: S + 0x4c,
    add: S + 0xf0, sub: S + 0xf1, mul: S + 0xf2, div: S + 0xf3, min: S + 0xf4, max: S + 0xf5, pmin: S + 0xf6, pmax: S + 0xf7,
  }),
  ...group("op", "v", "v", {
    promote_low_f32x4: S + 0x5f, ceil: S + 0x74, floor: S + 0x75, trunc: S + 0x7a, nearest: S + 0x94,
    abs: S + 0xec, neg: S + 0xed, sqrt: S + 0xef, convert_low_i32x4_s: S + 0xfe, convert_low_i32x4_u: S + 0xff,
  }),
};

/** Memory instructions beyond loads and stores (the memory index immediate is always 0: one memory). */
const memory = {
  atomic: {
    notify: row("amem", A + 0x00, "ii", "i", 2),
    wait32: row("amem", A + 0x01, "iiI", "i", 2),
    wait64: row("amem", A + 0x02, "iII", "i", 3),
  },
};

export const TABLE = { i32, i64, f32, f64, v128, i8x16, i16x8, i32x4, i64x2, f32x4, f64x2, memory } as const;
export { FC as PREFIX_FC, S as PREFIX_SIMD, A as PREFIX_ATOMIC };
