/** gradc in-process: loadSpec + compile + importModule, timed, with the size of what it emits. */
import { performance } from "node:perf_hooks";
import { importModule } from "../../compiler/emit/load.ts";
import { loadSpec } from "../../compiler/frontend/load.ts";
import { compile } from "../../compiler/index.ts";

export interface CompileResult {
  readonly js: string;
  readonly ts: string;
  /** Wall ms: spec load (esbuild) + compile (autodiff … emit) + import of the module. */
  readonly ms: number;
  readonly loadMs: number;
  readonly compileMs: number;
  readonly importMs: number;
  readonly tsLines: number;
  readonly tsBytes: number;
  readonly jsLines: number;
  readonly jsBytes: number;
}

const lines = (s: string) => s.split("\n").length - (s.endsWith("\n") ? 1 : 0);

export async function compileSpec(file: string, name?: string): Promise<CompileResult> {
  const t0 = performance.now();
  const model = await loadSpec(file, name ? { name } : {});
  const t1 = performance.now();
  const { ts, js } = await compile(model);
  const t2 = performance.now();
  await importModule(js);
  const t3 = performance.now();
  return {
    js,
    ts,
    ms: t3 - t0,
    loadMs: t1 - t0,
    compileMs: t2 - t1,
    importMs: t3 - t2,
    tsLines: lines(ts),
    tsBytes: Buffer.byteLength(ts),
    jsLines: lines(js),
    jsBytes: Buffer.byteLength(js),
  };
}
