/**
 * `exportOnnx` as the package exports it (compiler/index.ts): a wrapper whose declaration names only
 * the types of onnx-types.ts, so the package's .d.ts never reaches onnx-proto's (see onnx-types.ts).
 */
import type { Model } from "../ir/model.ts";
import { exportOnnx as build } from "./onnx.ts";
import type { ExportOptions, OnnxExport, ParamValues } from "./onnx-types.ts";

/** The model's forward graph as an ONNX model (opset 17) with `params` as its initializers. */
export function exportOnnx(model: Model, params: ParamValues, opts: ExportOptions = {}): OnnxExport {
  return build(model, params, opts);
}
