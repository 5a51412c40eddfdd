/**
 * Training plots as text: `historyPlot(history)` is an SVG of the loss and
 * accuracy per epoch (train solid, validation dashed), `asciiPlot(values)` a
 * few lines of terminal chart. Browser-safe: strings in, strings out — no
 * DOM, no files, no Node globals (a page sets `innerHTML`; Node writes the
 * file, or rasterizes it with `svgToPng` from runtime/png.ts).
 *
 * The output is a pure function of the numbers, so a seeded training run
 * gives the same bytes every time.
 */

/** What the plot reads: `fit`'s History has these (NaN marks an epoch without that value). */
export interface PlotHistory {
  readonly loss: readonly number[];
  readonly accuracy?: readonly number[];
  readonly valLoss?: readonly number[];
  readonly valAccuracy?: readonly number[];
}

export interface PlotOptions {
  readonly title?: string;
  /** Pixels (SVG units) of the whole picture; default 760 × 300. */
  readonly width?: number;
  readonly height?: number;
  /** Loss on a log axis (default: log when the loss spans more than 20×). */
  readonly logLoss?: boolean;
  /** The legend's names of the two curves (default "train" and "validation"): e.g. two runs compared. */
  readonly labels?: { readonly train?: string; readonly validation?: string };
  /**
   * Each epoch's x coordinate instead of its number, per curve, and the axis's name: e.g. updates made by the
   * end of each epoch, to compare runs whose epochs cost different numbers of steps.
   */
  readonly x?: { readonly train: readonly number[]; readonly validation?: readonly number[]; readonly label: string };
}

const TRAIN = "#2b5797";
const VAL = "#d9822b";
const FONT = `font-family="Liberation Sans, Helvetica, Arial, sans-serif"`;

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
/** Coordinates with two decimals: short, and the same text on every engine. */
const f = (v: number) => (Math.round(v * 100) / 100).toString();
const finite = (xs: readonly number[] | undefined) => (xs ?? []).filter(Number.isFinite);

/** About `count` round tick values covering [lo, hi]. */
function ticks(lo: number, hi: number, count: number): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  const out: number[] = [];
  for (let k = Math.ceil(lo / step - 1e-9); k * step <= hi + step * 1e-9; k++) out.push(Number((k * step).toPrecision(12)));
  return out;
}

function tickText(v: number): string {
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e4 || a < 1e-3) return v.toExponential(0).replace("e+", "e");
  return Number(v.toPrecision(3)).toString();
}

interface Series {
  readonly name: string;
  readonly values: readonly number[];
  /** x of each value (default: 1, 2, … — the epoch). */
  readonly xs?: readonly number[] | undefined;
  readonly color: string;
  readonly dashed: boolean;
}

/** One panel: axes, grid, ticks, the series as polylines (a gap at each NaN), dots when there are few epochs. */
function panel(x0: number, y0: number, w: number, h: number, title: string, series: Series[], opts: { log: boolean; percent: boolean; xLabel?: string | undefined }): string {
  const out: string[] = [];
  const epochs = Math.max(1, ...series.map((s) => s.values.length));
  const all = series.flatMap((s) => finite(s.values)).filter((v) => !opts.log || v > 0);
  const left = 48;
  const bottom = 34;
  const top = 24;
  const pw = w - left - 12;
  const ph = h - top - bottom;
  const px = x0 + left;
  const py = y0 + top;
  out.push(`<text x="${f(x0 + left)}" y="${f(y0 + 15)}" font-size="13" font-weight="bold" fill="#222">${esc(title)}</text>`);
  out.push(`<rect x="${f(px)}" y="${f(py)}" width="${f(pw)}" height="${f(ph)}" fill="#fbfbfb" stroke="#999" stroke-width="1"/>`);
  if (!all.length) {
    out.push(`<text x="${f(px + pw / 2)}" y="${f(py + ph / 2)}" font-size="12" fill="#888" text-anchor="middle">no data</text>`);
    return out.join("\n");
  }
  const tr = (v: number) => (opts.log ? Math.log10(v) : v);
  let lo = Math.min(...all.map(tr));
  let hi = Math.max(...all.map(tr));
  if (hi - lo < 1e-12) {
    lo -= opts.log ? 0.5 : Math.abs(lo) * 0.1 || 0.5;
    hi += opts.log ? 0.5 : Math.abs(hi) * 0.1 || 0.5;
  }
  const pad = (hi - lo) * 0.06;
  lo -= pad;
  hi += pad;
  if (opts.percent && Math.max(...all) <= 1) hi = Math.min(hi, 1);
  const inset = 8; // keep the first and last dots off the frame
  // x: the epoch number, or the series' own coordinates (`xs`) over their common range
  const custom = series.some((s) => s.xs);
  const xsOf = (s: Series) => s.xs ?? s.values.map((_, i) => i + 1);
  const xAll = custom ? series.flatMap((s) => xsOf(s).filter((_, i) => Number.isFinite(s.values[i]!))) : [];
  const [xMin, xMax] = custom ? [Math.min(...xAll), Math.max(...xAll)] : [1, epochs];
  const X = (e: number) => px + (xMax === xMin ? pw / 2 : inset + ((e - xMin) / (xMax - xMin)) * (pw - 2 * inset));
  const Y = (v: number) => py + ph - ((tr(v) - lo) / (hi - lo)) * ph;
  // y grid and ticks: round values on a linear axis; powers of 10 (and 2×, 5×) on a log axis
  const yt = opts.log
    ? ticks(lo, hi, 4)
        .flatMap((e) => (hi - lo < 1.5 ? [1, 2, 5].map((m) => Math.log10(m) + Math.floor(e)) : [e]))
        .filter((e, i, a) => e >= lo && e <= hi && a.indexOf(e) === i)
    : ticks(lo, hi, 5);
  for (const t of yt) {
    const y = py + ph - ((t - lo) / (hi - lo)) * ph;
    const v = opts.log ? Number((10 ** t).toPrecision(3)) : t;
    out.push(`<line x1="${f(px)}" y1="${f(y)}" x2="${f(px + pw)}" y2="${f(y)}" stroke="#e4e4e4" stroke-width="1"/>`);
    out.push(`<text x="${f(px - 5)}" y="${f(y + 4)}" font-size="10" fill="#444" text-anchor="end">${opts.percent ? `${tickText(v * 100)}%` : tickText(v)}</text>`);
  }
  const xt = custom
    ? ticks(xMin, xMax, 6).filter((e) => e >= xMin && e <= xMax)
    : ticks(1, epochs, Math.min(8, epochs - 1 || 1)).filter((e) => Number.isInteger(e) && e >= 1 && e <= epochs);
  for (const e of xt) {
    const x = X(e);
    out.push(`<line x1="${f(x)}" y1="${f(py + ph)}" x2="${f(x)}" y2="${f(py + ph + 4)}" stroke="#999" stroke-width="1"/>`);
    out.push(`<text x="${f(x)}" y="${f(py + ph + 15)}" font-size="10" fill="#444" text-anchor="middle">${custom ? tickText(e) : e}</text>`);
  }
  out.push(`<text x="${f(px + pw / 2)}" y="${f(py + ph + 29)}" font-size="11" fill="#444" text-anchor="middle">${esc(opts.xLabel ?? "epoch")}</text>`);
  for (const s of series) {
    let run: string[] = [];
    const flush = () => {
      if (run.length > 1)
        out.push(`<polyline points="${run.join(" ")}" fill="none" stroke="${s.color}" stroke-width="2" stroke-linejoin="round"${s.dashed ? ` stroke-dasharray="6 4"` : ""}/>`);
      run = [];
    };
    const xs = xsOf(s);
    s.values.forEach((v, i) => {
      if (Number.isFinite(v) && (!opts.log || v > 0)) run.push(`${f(X(xs[i]!))},${f(Y(v))}`);
      else flush();
    });
    flush();
    if (epochs <= 30)
      s.values.forEach((v, i) => {
        if (Number.isFinite(v) && (!opts.log || v > 0)) out.push(`<circle cx="${f(X(xs[i]!))}" cy="${f(Y(v))}" r="2.5" fill="${s.color}"/>`);
      });
  }
  // Legend on the title's line, right-aligned above the frame: it never covers a curve.
  // (Width from an average glyph of 0.56 em: the text is short, and the line sample leaves slack.)
  let lx = px + pw;
  for (const s of [...series.filter((s) => finite(s.values).length)].reverse()) {
    const last = finite(s.values).at(-1)!;
    const text = `${s.name} ${opts.percent ? `${(last * 100).toFixed(2)}%` : last.toPrecision(3)}`;
    lx -= text.length * 5.6 + 34;
    const ly = y0 + 15;
    out.push(`<line x1="${f(lx)}" y1="${f(ly - 4)}" x2="${f(lx + 22)}" y2="${f(ly - 4)}" stroke="${s.color}" stroke-width="2"${s.dashed ? ` stroke-dasharray="6 4"` : ""}/>`);
    out.push(`<text x="${f(lx + 27)}" y="${f(ly)}" font-size="10" fill="#333">${esc(text)}</text>`);
  }
  return out.join("\n");
}

/** The loss (and, when there is any, accuracy) per epoch, train and validation, as a standalone SVG document. */
export function historyPlot(h: PlotHistory, opts: PlotOptions = {}): string {
  const width = opts.width ?? 760;
  const height = opts.height ?? 300;
  const hasAcc = finite(h.accuracy).length + finite(h.valAccuracy).length > 0;
  const losses = [...finite(h.loss), ...finite(h.valLoss)].filter((v) => v > 0);
  const log = opts.logLoss ?? (losses.length > 1 && Math.max(...losses) / Math.min(...losses) > 20);
  const titleH = opts.title ? 22 : 0;
  const pw = hasAcc ? width / 2 : width;
  const [trainName, valName] = [opts.labels?.train ?? "train", opts.labels?.validation ?? "validation"];
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${FONT}>`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
  ];
  if (opts.title) parts.push(`<text x="${f(width / 2)}" y="16" font-size="14" fill="#222" text-anchor="middle">${esc(opts.title)}</text>`);
  parts.push(
    panel(0, titleH, pw, height - titleH, `loss${log ? " (log)" : ""}`, [
      { name: trainName, values: h.loss, color: TRAIN, dashed: false, xs: opts.x?.train },
      { name: valName, values: h.valLoss ?? [], color: VAL, dashed: true, xs: opts.x?.validation },
    ], { log, percent: false, xLabel: opts.x?.label }),
  );
  if (hasAcc)
    parts.push(
      panel(pw, titleH, pw, height - titleH, "accuracy", [
        { name: trainName, values: h.accuracy ?? [], color: TRAIN, dashed: false, xs: opts.x?.train },
        { name: valName, values: h.valAccuracy ?? [], color: VAL, dashed: true, xs: opts.x?.validation },
      ], { log: false, percent: true, xLabel: opts.x?.label }),
    );
  parts.push(`</svg>`);
  return `${parts.join("\n")}\n`;
}

/**
 * A terminal line chart of `values` (e.g. the loss per epoch): `height` rows,
 * one column per value (values are averaged into at most `width` columns),
 * the y range labelled on the left. Plain box-drawing characters, no colour.
 */
export function asciiPlot(values: readonly number[], opts: { height?: number; width?: number; label?: string } = {}): string {
  const height = Math.max(2, opts.height ?? 8);
  const width = Math.max(2, opts.width ?? 60);
  const vs = values.filter(Number.isFinite);
  if (!vs.length) return `${opts.label ?? ""}(no data)\n`;
  // `width` columns: averaged down when there are more values, linearly interpolated when fewer.
  const cols = vs.length === 1 ? 1 : width;
  const col = Array.from({ length: cols }, (_, c) => {
    if (vs.length > cols) {
      const a = Math.floor((c * vs.length) / cols);
      const b = Math.max(a + 1, Math.floor(((c + 1) * vs.length) / cols));
      return vs.slice(a, b).reduce((s, v) => s + v, 0) / (b - a);
    }
    const t = cols === 1 ? 0 : (c / (cols - 1)) * (vs.length - 1);
    const i = Math.min(Math.floor(t), vs.length - 2);
    return i < 0 ? vs[0]! : vs[i]! + (vs[i + 1]! - vs[i]!) * (t - i);
  });
  const lo = Math.min(...col);
  const hi = Math.max(...col);
  const row = (v: number) => (hi > lo ? Math.round(((hi - v) / (hi - lo)) * (height - 1)) : Math.floor((height - 1) / 2));
  const grid = Array.from({ length: height }, () => Array<string>(cols).fill(" "));
  col.forEach((v, c) => {
    const r = row(v);
    grid[r]![c] = "•";
    if (c > 0) {
      const p = row(col[c - 1]!);
      for (let k = Math.min(p, r) + 1; k < Math.max(p, r); k++) grid[k]![c] = "│";
    }
  });
  const labels = grid.map((_, r) => (r === 0 ? hi : r === height - 1 ? lo : NaN));
  const lw = Math.max(...labels.filter(Number.isFinite).map((v) => v.toPrecision(3).length));
  const lines = grid.map((g, r) => `${(Number.isFinite(labels[r]!) ? labels[r]!.toPrecision(3) : "").padStart(lw)} ┤${g.join("")}`);
  const axis = `${" ".repeat(lw)} └${"─".repeat(cols)}`;
  const foot = `${" ".repeat(lw + 2)}1${`${vs.length}`.padStart(Math.max(0, cols - 1))}`;
  return `${opts.label ? `${opts.label}\n` : ""}${[...lines, axis, foot].join("\n")}\n`;
}
