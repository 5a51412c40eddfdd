/**
 * The fuzzers compile thousands of models; formatting the generated code is
 * most of the cost of a compile (prettier ~75%, ts-morph ~15% for an unrolled
 * model), and neither changes what the code computes. So the fuzzers swap
 * these two libraries, for compiler/emit/emit.ts only, for the stand-ins in
 * this folder: `prettier.format` returns its input and ts-morph's
 * `Project` is a string builder. `fastEmit.on = false` switches back to the
 * real libraries; the fuzz test compiles a sample of models both ways and
 * asserts the two modules compute bit-identical results (test/fuzz/fuzz.test.ts).
 */
export const fastEmit = { on: true };
