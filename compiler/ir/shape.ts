/** Static shapes: a scalar is `[]`; row-major (last axis contiguous). */
export type Shape = readonly number[];

/** Thrown by a shape rule; `Graph.mk` turns it into a GradcError naming op and shapes. */
export class ShapeError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}

export const size = (s: Shape): number => s.reduce((a, b) => a * b, 1);

export const sameShape = (a: Shape, b: Shape): boolean =>
  a.length === b.length && a.every((d, i) => d === b[i]);

/** Numpy broadcasting: align right, a 1 stretches. `null` if the shapes do not broadcast. */
export function broadcastShapes(...shapes: Shape[]): Shape | null {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    let d = 1;
    for (const s of shapes) {
      const e = s[s.length - rank + i] ?? 1;
      if (e === 1) continue;
      if (d !== 1 && d !== e) return null;
      d = e;
    }
    out.push(d);
  }
  return out;
}

export const strides = (s: Shape): number[] => {
  const st = new Array<number>(s.length);
  let acc = 1;
  for (let i = s.length - 1; i >= 0; i--) {
    st[i] = acc;
    acc *= s[i]!;
  }
  return st;
};

/**
 * For each flat index of `out`, the flat index of the element of a tensor of
 * shape `inp` that broadcasting reads. `inp` must broadcast to `out`.
 */
export function broadcastIndex(out: Shape, inp: Shape): Int32Array {
  const n = size(out);
  const idx = new Int32Array(n);
  const rank = out.length;
  const inSt = strides(inp);
  const off = rank - inp.length;
  const outSt = strides(out);
  for (let f = 0; f < n; f++) {
    let j = 0;
    for (let ax = off; ax < rank; ax++) {
      const d = inp[ax - off]!;
      if (d !== 1) j += Math.floor(f / outSt[ax]!) % out[ax]! * inSt[ax - off]!;
    }
    idx[f] = j;
  }
  return idx;
}

/** Normalizes possibly negative axes against a rank; `null` if one is out of range or repeated. */
export function normAxes(axes: readonly number[], rank: number): number[] | null {
  const out = axes.map((a) => (a < 0 ? a + rank : a));
  if (out.some((a) => !Number.isInteger(a) || a < 0 || a >= rank)) return null;
  if (new Set(out).size !== out.length) return null;
  return out.sort((a, b) => a - b);
}
