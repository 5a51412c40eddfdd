/**
 * Reading `.onnx` bytes back (gradc import, tests, and the CLI's check that a file it would replace
 * is one gradc wrote). A module of its own so that the package's public types (compiler/index.ts
 * re-exports onnx.ts) never pull in onnx-proto's declarations, which need protobufjs' `Long`.
 */
import onnxProto from "onnx-proto";

export function decodeOnnx(bytes: Uint8Array): onnxProto.onnx.ModelProto {
  return onnxProto.onnx.ModelProto.decode(bytes);
}
