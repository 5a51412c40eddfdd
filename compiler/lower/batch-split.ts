/**
 * Can a step's batch be split across threads (runtime/threads.ts)? Only when
 * the loss over n rows is exactly a combination of the losses of its row
 * chunks: with chunks of nᵢ rows (Σ nᵢ = n),
 *
 *   "mean": L(n rows) = Σᵢ (nᵢ / n) · L(chunk i)   — a batch mean (m.mean over the batch axis),
 *                                                      plus terms that read no data (a penalty on the weights);
 *   "sum":  L(n rows) = Σᵢ L(chunk i)              — a batch sum (m.sum over the batch axis).
 *
 * The gradient then combines with the same weights. This holds when every value
 * that reads batched data is row-local (row r depends only on row r of the
 * inputs) up to masked reductions over the batch axis, and the loss is linear in
 * those reductions. Anything else — a batch statistic inside the model, a
 * variance over the batch, a square of a mean, an op this analysis does not know —
 * gives undefined, and the trainer refuses `threads` instead of returning a
 * different number.
 */
import { type Node, topo } from "../ir/graph.ts";
import { opDef } from "../ir/ops.ts";

/**
 * C: reads no data; R: row-local, axis 0 the batch axis; S: a sum over the batch
 * (sums of chunks add); M: a mean over the batch; N: n · c, the batch size
 * times a constant; X: none of these (rows mix, or nonlinear in S/M).
 */
type Cls = "C" | "R" | "S" | "M" | "N" | "X";

const LINEAR = new Set(["S", "M"]);

export function batchSplit(
  loss: Node | undefined,
  batch: number | undefined,
): "mean" | "sum" | undefined {
  if (!loss || batch === undefined || loss.shape.length !== 0) return undefined;
  const cls = new Map<number, Cls>();
  const B = batch;
  const rowLocal = (n: Node) => cls.get(n.id) === "R";
  /** where(rows, x, 0) with rows from batchMask alone: x with its padding rows zeroed. */
  const masked = (n: Node): boolean => {
    if (n.op !== "where") return false;
    const [c, , z] = n.inputs;
    if (z!.op !== "const" || z!.attrs.value !== 0) return false;
    let m = c!;
    while (m.op === "broadcast" || m.op === "reshape") m = m.inputs[0]!;
    return m.op === "batchMask" && rowLocal(n);
  };
  for (const n of topo([loss])) {
    const ins = n.inputs.map((i) => cls.get(i.id)!);
    const all = (c: Cls) => ins.every((x) => x === c);
    const keepsRows = n.shape.length > 0 && n.shape[0] === B;
    let c: Cls = "X";
    if (n.op === "param" || n.op === "const") c = "C";
    else if (n.op === "input") c = n.attrs.batch === 1 ? "R" : "X";
    else if (n.op === "batchMask") c = "R";
    else if (n.op === "batchSize") c = "N";
    else if (ins.length > 0 && all("C")) c = "C";
    else if (n.op === "sum") {
      const axes = n.attrs.axes as number[];
      const rank = n.inputs[0]!.shape.length;
      const overBatch = axes.some((a) => a === 0 || a === -rank);
      if (ins[0] === "R")
        c = !overBatch
          ? keepsRows
            ? "R"
            : "X"
          : masked(n.inputs[0]!)
            ? "S"
            : "X";
      else if (LINEAR.has(ins[0]!)) c = ins[0]!;
    } else if (n.op === "reshape" || n.op === "broadcast") {
      // row r stays row r: reshape keeps axis 0 (so the row width too); broadcast keeps the rank ([B] -> [B, B] would not)
      const i = n.inputs[0]!;
      const rows =
        keepsRows &&
        i.shape[0] === B &&
        (n.op === "reshape" || i.shape.length === n.shape.length);
      if (ins[0] === "R") c = rows ? "R" : "X";
      else if (LINEAR.has(ins[0]!) || ins[0] === "N") c = ins[0]!;
    } else if (n.op === "transpose") {
      if (LINEAR.has(ins[0]!)) c = ins[0]!;
    } else if (n.op === "matmul") {
      // rows of a · b are rows of a; b must not read the batch (matmul(xᵀ, ·) mixes rows)
      if (ins[0] === "R" && ins[1] === "C") c = keepsRows ? "R" : "X";
      else if (
        (LINEAR.has(ins[0]!) && ins[1] === "C") ||
        (ins[0] === "C" && LINEAR.has(ins[1]!))
      )
        c = ins[0] === "C" ? ins[1]! : ins[0]!;
    } else if (
      n.op === "softmax" ||
      n.op === "logsumexp" ||
      n.op === "softmaxCE"
    ) {
      if (ins.every((x) => x === "R" || x === "C") && ins.includes("R"))
        c =
          keepsRows &&
          n.inputs.every((i, k) => ins[k] === "C" || i.shape[0] === B)
            ? "R"
            : "X";
    } else if (opDef(n.op).kind === "conv") {
      // an image's conv or pool reads only that image (axis 0); the filter gradient sums over images
      if (!opDef(n.op).sumsImages && ins[0] === "R" && ins.slice(1).every((x) => x === "C")) c = keepsRows ? "R" : "X";
    } else if (n.inputs.length > 0 && opDef(n.op).kind === "elementwise") {
      if (ins.every((x) => x === "R" || x === "C"))
        c =
          keepsRows &&
          n.inputs.every(
            (i, k) =>
              ins[k] === "C" ||
              (i.shape.length === n.shape.length && i.shape[0] === B),
          )
            ? "R"
            : "X";
      else c = linear(n.op, ins);
    }
    cls.set(n.id, c);
  }
  const top = cls.get(loss.id);
  return top === "M" || top === "C" ? "mean" : top === "S" ? "sum" : undefined;
}

const ELEMENTWISE_LINEAR = new Set(["add", "sub", "mul", "div", "neg"]);

/** The class of a linear op over batch sums and means (anything else is X). */
function linear(op: string, ins: readonly Cls[]): Cls {
  if (!ELEMENTWISE_LINEAR.has(op)) return "X";
  const [a, b] = ins;
  if (op === "neg") return a === "S" || a === "M" ? a : "X";
  if (op === "add" || op === "sub") {
    if (a === b && (a === "S" || a === "M")) return a;
    if ((a === "M" && b === "C") || (a === "C" && b === "M")) return "M"; // Σ nᵢ/n · (Lᵢ + P) = L + P
    return "X";
  }
  if (op === "mul") {
    if (
      (a === "C" && (b === "S" || b === "M" || b === "N")) ||
      (b === "C" && (a === "S" || a === "M" || a === "N"))
    )
      return a === "C" ? b! : a!;
    return "X";
  }
  // div
  if ((a === "S" || a === "M") && b === "C") return a;
  if (a === "S" && b === "N") return "M";
  return "X";
}
