// fit's batchSchedule: rows per step chosen per epoch (grow the batch instead of decaying the rate),
// checked like batchSize; a constant schedule is exactly the fixed batch.
import { describe, expect, it } from "vitest";
import * as iris from "../../generated/iris.js";
import { adam, createTrainer, RuntimeError, type EpochRecord } from "../../runtime/index.ts";
import { loadIris } from "../../runtime/node.ts";

const { train } = loadIris({ seed: 3 }); // 120 training flowers; iris is compiled with m.batch(16)

describe("fit's batchSchedule", () => {
  it("takes the epoch's batch size from the schedule: ceil(n / b) updates an epoch, the previous record passed in", () => {
    const t = createTrainer(iris, { optimizer: adam({ lr: 1e-2 }), seed: 1 });
    const seen: [number, number | undefined][] = [];
    const schedule = (epoch: number, previous: EpochRecord | undefined) => {
      seen.push([epoch, previous?.epoch]);
      return [4, 8, 16][Math.min(epoch - 1, 2)]!;
    };
    t.fit(train, { epochs: 4, batchSchedule: schedule, progress: false });
    expect(seen).toEqual([[1, undefined], [2, 1], [3, 2], [4, 3]]);
    expect(t.steps).toBe(120 / 4 + 120 / 8 + 2 * Math.ceil(120 / 16));
  });

  it("a constant schedule gives the same weights as the same fixed batchSize, bit for bit", () => {
    const a = createTrainer(iris, { optimizer: adam({ lr: 1e-2 }), seed: 2, batchSize: 8 });
    a.fit(train, { epochs: 3, progress: false });
    const b = createTrainer(iris, { optimizer: adam({ lr: 1e-2 }), seed: 2 });
    b.fit(train, { epochs: 3, batchSchedule: () => 8, progress: false });
    expect(Array.from(b.params)).toEqual(Array.from(a.params));
    expect(b.steps).toBe(a.steps);
  });

  it("refuses a batch the compiled model cannot take, naming the epoch and the bound", () => {
    const t = createTrainer(iris, { seed: 1 });
    expect(() => t.fit(train, { epochs: 2, batchSchedule: (e) => (e === 2 ? 32 : 8), progress: false })).toThrow(RuntimeError);
    expect(() => t.fit(train, { epochs: 1, batchSchedule: () => 32, progress: false })).toThrow(/batchSchedule returned 32 for epoch \d+; it must be a whole number from 1 to 16/);
    expect(() => t.fit(train, { epochs: 1, batchSchedule: () => 2.5, progress: false })).toThrow(/returned 2.5/);
  });
});
