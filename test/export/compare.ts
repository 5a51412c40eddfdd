/** The export tests' tolerance: max abs error <= 1e-5 x the output's scale (its largest finite |value|, at least 1e-3). */
export const TOL = 1e-5;

/** max |got - want| and the scale it is judged against; NaN must meet NaN. */
export function compare(got: ArrayLike<number>, want: ArrayLike<number>): { err: number; scale: number; ok: boolean } {
  let err = 0;
  let scale = 1e-3;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i]! - want[i]!);
    err = Number.isNaN(d) ? (Number.isNaN(got[i]!) && Number.isNaN(want[i]!) ? err : Infinity) : Math.max(err, d);
    if (Number.isFinite(want[i]!)) scale = Math.max(scale, Math.abs(want[i]!));
  }
  return { err, scale, ok: got.length === want.length && err <= TOL * scale };
}
