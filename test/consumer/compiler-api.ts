// The compiler's and the Node runtime's types, type-checked like consumer.ts.
import { compile, GradcError } from "gradc";
import type { ModelBuilder } from "gradc/dsl";
import { createTrainer, loadCsv, loadMnist, nodePlatform, writeFileAtomic } from "gradc/runtime/node";

export const spec = (m: ModelBuilder) => m.loss(m.sum(m.param("w", [2])));
export const kinds: string[] = [typeof compile, GradcError.name, typeof createTrainer, typeof loadCsv, typeof loadMnist, nodePlatform.name, typeof writeFileAtomic];
