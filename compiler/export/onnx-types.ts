/**
 * The public surface of the ONNX export: its constants and types, with no import of onnx-proto, so
 * an app's `tsc` (strict, without skipLibCheck) never reads onnx-proto's declarations, which need
 * protobufjs' `Long`. The implementation is compiler/export/onnx.ts; compiler/export/api.ts wraps it.
 */
/** The ONNX operator set the exported models use (ONNX 1.12; ONNX Runtime >= 1.12, PyTorch importers). */
export const ONNX_OPSET = 17;
/** The ONNX IR version written (the one of ONNX 1.10-1.12, which opset 17 needs at least). */
export const ONNX_IR_VERSION = 8;
/** The name of the symbolic batch dimension of batched inputs and outputs. */
export const BATCH_DIM = "N";

/** A dimension of a value in the exported graph: static, or the symbolic batch length. */
export type Dim = number | typeof BATCH_DIM;

/** Param values: by name, or one flat array in the model's param order (a trainer's or module's `params` buffer). */
export type ParamValues = Readonly<Record<string, ArrayLike<number>>> | Float32Array | Float64Array;

export interface ExportOptions {
  /**
   * Where the weights come from, recorded in the model's doc string and
   * metadata (`gradc.weights`): e.g. "trained: mnist.ckpt.json (epoch 5)" or
   * "init: the spec's initializers, seed 0".
   */
  weights?: string;
  /** The gradc version written as the producer version. */
  producerVersion?: string;
}

export interface OnnxExport {
  /** The serialized ModelProto (what a `.onnx` file holds). */
  readonly bytes: Uint8Array;
  readonly opset: number;
  readonly inputs: readonly { readonly name: string; readonly shape: readonly Dim[] }[];
  readonly outputs: readonly { readonly name: string; readonly shape: readonly Dim[] }[];
  /** ONNX operator types used, with counts (for the CLI's summary). */
  readonly ops: ReadonlyMap<string, number>;
}
