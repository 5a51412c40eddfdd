/**
 * The fixed-order gradient reduction of `threads` (runtime/threads.ts):
 * a ← fl(fl(w₀·a) + fl(w₁·b)) elementwise, with float32 rounding fl, as a
 * WebAssembly SIMD loop (f32x4.mul, f32x4.mul, f32x4.add: no fused multiply-add)
 * in a small memory of its own — the trainer copies the gradients in and the
 * result out (three memory copies, ~10 µs for mnist's 101,770 floats, where the
 * same loop in JS takes ~170 µs). The module is ~100 bytes, written here by hand,
 * so the runtime needs no compiler.
 *
 * Where WebAssembly SIMD is missing, the JS loop computes the same bits: for
 * float32 operands the double product or sum rounded once to float32
 * (Math.fround) is the correctly rounded float32 result, which is what an f32x4
 * lane computes. Float64 parameters reduce in JS doubles.
 */
import type { Buf } from "./types.ts";

const pad16 = (bytes: number) => Math.ceil(bytes / 16) * 16;

/**
 * (func (param $bOff i32) (param $end i32)) over [0, end): a[p] = w0·a[p] + w1·a[p + bOff], the weights read from
 * memory at 2·bOff and 2·bOff + 4 (no f32 parameters: from JS a double argument of a call V8 does not inline is
 * boxed, one heap number per call, and a step allocates nothing).
 */
const BODY = [
  0x02,
  0x01,
  0x7f,
  0x02,
  0x7b, // locals: p i32 (2); W0 (3), W1 (4) v128
  0x20,
  0x00,
  0x41,
  0x01,
  0x74,
  0x2a,
  0x02,
  0x00,
  0xfd,
  0x13,
  0x21,
  0x03, // W0 = f32x4.splat(f32.load(bOff << 1))
  0x20,
  0x00,
  0x41,
  0x01,
  0x74,
  0x2a,
  0x02,
  0x04,
  0xfd,
  0x13,
  0x21,
  0x04, // W1 = f32x4.splat(f32.load offset=4 (bOff << 1))
  0x02,
  0x40, // block
  0x20,
  0x02,
  0x20,
  0x01,
  0x4f,
  0x0d,
  0x00, // br_if p >= end
  0x03,
  0x40, // loop
  0x20,
  0x02, // address p
  0x20,
  0x03,
  0x20,
  0x02,
  0xfd,
  0x00,
  0x04,
  0x00,
  0xfd,
  0xe6,
  0x01, // W0 * a[p]
  0x20,
  0x04,
  0x20,
  0x02,
  0x20,
  0x00,
  0x6a,
  0xfd,
  0x00,
  0x04,
  0x00,
  0xfd,
  0xe6,
  0x01, // W1 * a[p + bOff]
  0xfd,
  0xe4,
  0x01, // add
  0xfd,
  0x0b,
  0x04,
  0x00, // v128.store
  0x20,
  0x02,
  0x41,
  0x10,
  0x6a,
  0x22,
  0x02,
  0x20,
  0x01,
  0x49,
  0x0d,
  0x00, // p += 16; br_if p < end
  0x0b,
  0x0b,
  0x0b, // end loop, block, func
];
const section = (id: number, bytes: number[]) => [id, bytes.length, ...bytes];
const WASM = Uint8Array.from([
  0x00,
  0x61,
  0x73,
  0x6d,
  0x01,
  0x00,
  0x00,
  0x00,
  ...section(1, [0x01, 0x60, 0x02, 0x7f, 0x7f, 0x00]),
  ...section(
    2,
    [
      0x01, 0x03, 0x65, 0x6e, 0x76, 0x06, 0x6d, 0x65, 0x6d, 0x6f, 0x72, 0x79,
      0x02, 0x00, 0x01,
    ],
  ), // env.memory, min 1 page
  ...section(3, [0x01, 0x00]),
  ...section(7, [0x01, 0x05, 0x61, 0x78, 0x70, 0x62, 0x79, 0x00, 0x00]), // export "axpby"
  ...section(10, [0x01, BODY.length, ...BODY]),
]);

let compiled: WebAssembly.Module | null | undefined;
function simd(): WebAssembly.Module | null {
  if (compiled === undefined) {
    try {
      compiled =
        typeof WebAssembly === "object" && WebAssembly.validate(WASM)
          ? new WebAssembly.Module(WASM)
          : null;
    } catch {
      compiled = null;
    }
  }
  return compiled;
}

export class Reducer {
  /** The accumulator and the operand: the trainer copies gradients into these. */
  readonly a: Buf;
  readonly b: Buf;
  /** The weights [w0, w1] of the next `axpby` (float32 for float32 buffers: stored, they round as an f32 lane's do). */
  readonly w: Buf;
  private readonly axpbyWasm: ((bOff: number, end: number) => void) | undefined;
  private readonly bOff: number;

  constructor(
    readonly size: number,
    f64: boolean,
  ) {
    const mod = f64 ? null : simd();
    this.bOff = pad16(size * 4);
    if (mod) {
      const memory = new WebAssembly.Memory({
        initial: Math.max(1, Math.ceil((2 * this.bOff + 16) / 65536)),
      });
      const exports = new WebAssembly.Instance(mod, { env: { memory } })
        .exports as { axpby: (bOff: number, end: number) => void };
      this.axpbyWasm = exports.axpby;
      this.a = new Float32Array(memory.buffer, 0, size);
      this.b = new Float32Array(memory.buffer, this.bOff, size);
      this.w = new Float32Array(memory.buffer, 2 * this.bOff, 2);
    } else {
      this.axpbyWasm = undefined;
      this.a = f64 ? new Float64Array(size) : new Float32Array(size);
      this.b = f64 ? new Float64Array(size) : new Float32Array(size);
      this.w = f64 ? new Float64Array(2) : new Float32Array(2);
    }
  }

  /** a ← fl(fl(w0·a) + fl(w1·b)) with [w0, w1] = this.w (float64 buffers: in doubles). */
  axpby(): void {
    if (this.axpbyWasm) return this.axpbyWasm(this.bOff, this.bOff);
    const a = this.a;
    const b = this.b;
    const u = this.w[0]!;
    const v = this.w[1]!;
    if (a instanceof Float64Array) {
      for (let x = 0; x < a.length; x++) a[x] = u * a[x]! + v * b[x]!;
      return;
    }
    for (let x = 0; x < a.length; x++)
      a[x] = Math.fround(u * a[x]!) + Math.fround(v * b[x]!);
  }
}
