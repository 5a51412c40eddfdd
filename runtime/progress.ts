/**
 * The progress bar `fit` draws while it trains: one line per epoch with the
 * running loss, accuracy and examples per second (npm cli-progress, on
 * stderr). Silent unless stderr is a terminal and CI is unset, so logs and
 * pipes stay clean.
 */
import cliProgress from "cli-progress";

export interface Progress {
  /** A new bar for epoch `epoch` (1-based) of `epochs`, `steps` steps long. */
  start(epoch: number, epochs: number, steps: number): void;
  /** After each step; redraws at most 10 times a second, so calling it every step is cheap. */
  tick(step: number, loss: number, accuracy: number, examples: number): void;
  /** Ends the epoch's line with its summary. */
  end(summary: string): void;
}

/** Whether a bar would be visible: stderr is a TTY and `CI` is not set. */
export const progressVisible = (): boolean => process.stderr.isTTY === true && !process.env.CI;

const fmtLoss = (v: number) => (Number.isFinite(v) ? (Math.abs(v) >= 1e4 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(3) : v.toFixed(4)) : String(v));
const fmtAcc = (v: number) => (Number.isNaN(v) ? "-" : `${(100 * v).toFixed(1)}%`);

/** A bar on stderr, or `undefined` when `enabled` is false or the terminal would not show it. */
export function progressBar(enabled = true): Progress | undefined {
  if (!enabled || !progressVisible()) return undefined;
  const bar = new cliProgress.SingleBar(
    {
      format: "epoch {epoch} [{bar}] {value}/{total} | loss {loss} | acc {acc} | {rate} ex/s",
      barsize: 24,
      hideCursor: true,
      clearOnComplete: true,
      stream: process.stderr,
      fps: 10,
    },
    cliProgress.Presets.shades_classic,
  );
  let t0 = 0;
  let last = 0;
  let label = "";
  return {
    start(epoch, epochs, steps) {
      t0 = performance.now();
      last = 0;
      label = `${String(epoch).padStart(String(epochs).length)}/${epochs}`;
      bar.start(steps, 0, { epoch: label, loss: "-", acc: "-", rate: "-" });
    },
    tick(step, loss, accuracy, examples) {
      const now = performance.now();
      if (now - last < 100) return;
      last = now;
      const rate = Math.round((examples * 1000) / Math.max(1, now - t0));
      bar.update(step, { epoch: label, loss: fmtLoss(loss), acc: fmtAcc(accuracy), rate: rate.toLocaleString("en-US") });
    },
    end(summary) {
      bar.stop();
      process.stderr.write(`${summary}\n`);
    },
  };
}

export { fmtAcc, fmtLoss };
