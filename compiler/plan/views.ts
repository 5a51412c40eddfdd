/**
 * Strided views: reshape, transpose and broadcast read their source's storage
 * at other strides, with no copy — when such strides exist. Element
 * (i0, i1, …) of a view sits at Σ i_d st_d from the source's base.
 */
import type { Node } from "../ir/graph.ts";
import { type Shape, strides } from "../ir/shape.ts";

/** Does storage with strides `st` hold `shape` in row-major order (size-1 axes ignored)? */
export const contiguous = (st: readonly number[], shape: Shape): boolean =>
  strides(shape).every((s, d) => shape[d] === 1 || s === st[d]);

/**
 * The strides of `n`, a chain of views over `src` whose storage has strides
 * `srcSt`; undefined when the chain has no strided form (a reshape of a
 * transposed value). Iterative: the chain may be long.
 */
export function viewStrides(n: Node, src: Node, srcSt: readonly number[]): readonly number[] | undefined {
  const chain: Node[] = [];
  for (let x = n; x !== src; x = x.inputs[0]!) chain.push(x);
  let st = srcSt;
  for (let k = chain.length - 1; k >= 0; k--) {
    const v = chain[k]!;
    const x = v.inputs[0]!;
    if (v.op === "transpose") st = [st[1]!, st[0]!];
    else if (v.op === "reshape") {
      if (!contiguous(st, x.shape)) return undefined;
      st = strides(v.shape);
    } else {
      // broadcast: new leading axes and stretched size-1 axes read the same element (stride 0)
      const off = v.shape.length - x.shape.length;
      const s = st;
      st = v.shape.map((d, i) => (i < off || (x.shape[i - off] === 1 && d !== 1) ? 0 : s[i - off]!));
    }
  }
  return st;
}
