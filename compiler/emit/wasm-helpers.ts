import * as binaryen from "./wasm-encoder.ts"; // binaryen's builder API, on our own encoder

/** The shorthands every kernel builder uses: locals, i32 constants and address arithmetic. */
export function wasmHelpers(m: binaryen.Module) {
  return {
    get: (l: number, t: number = binaryen.i32) => m.local.get(l, t),
    set: (l: number, v: number) => m.local.set(l, v),
    c: (v: number) => m.i32.const(v),
    add: (a: number, b: number) => m.i32.add(a, b),
    mul: (a: number, b: number) => m.i32.mul(a, b),
    ltU: (a: number, b: number) => m.i32.lt_u(a, b),
  };
}
