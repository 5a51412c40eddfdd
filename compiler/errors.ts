/**
 * One error class for everything gradc reports to a user. `code` is stable
 * (tests and docs key on it); the message names the place, the op, the shapes
 * and the fix.
 */
export type ErrorCode =
  | "E_SPEC_LOAD" // the spec file could not be read, bundled or run
  | "E_SPEC_EXPORT" // the spec file does not export a model builder
  | "E_UNKNOWN_OP" // an op name that is not in the op table
  | "E_ARITY" // wrong number of inputs to an op
  | "E_SHAPE" // shapes that the op's shape rule rejects
  | "E_BAD_NAME" // a name that is not a safe identifier
  | "E_DUP_NAME" // two leaves or outputs with one name
  | "E_UNUSED" // a param the loss (or, without a loss, every output) does not depend on
  | "E_BAD_ATTR" // an attribute of the wrong kind (axis out of range, non-finite constant…)
  | "E_NO_LOSS" // a trainer asked for but the spec has no loss
  | "E_LOSS_NOT_SCALAR" // the loss is not shape []
  | "E_EMPTY_MODEL" // nothing to compute
  | "E_TOO_BIG" // the model needs more memory than wasm32 (4 GiB) or a JS typed array (4 GiB) holds
  | "E_PARSE" // a formula mathjs cannot parse
  | "E_FORMULA" // a formula that parses but cannot be compiled (unknown function, bad symbol)
  | "E_CLI" // bad command-line usage
  | "E_GRAD_CHECK" // generated derivatives disagree with finite differences
  | "E_STALE" // generated/ differs from what the compiler now produces
  | "E_WRITE" // an output file could not be written
  | "E_ONNX_OP" // an op with no ONNX form in a model being exported
  | "E_ONNX_BATCH" // a model whose batch axis cannot be exported as a symbolic dimension
  | "E_ONNX_NO_OUTPUT" // exporting a model that declares no output
  | "E_ONNX_IMPORT" // an ONNX file gradc cannot turn into a spec (unsupported operator, dynamic shape, …)
  | "E_WEIGHTS" // a --weights file that cannot be read or is not a checkpoint of this model
  | "E_DEPENDENCY" // a package the command needs is not installed (a runtime-only install)
  | "E_INTERNAL" // an unexpected failure: a bug in gradc
  | "E_OVERWRITE" // an output would replace a file gradc did not write (or the spec itself)
  | "E_RENDER" // Graphviz could not lay out a picture (a gradc bug)
  | "E_ARG"; // a value of the wrong size passed to the interpreter or runtime

export interface Where {
  file?: string;
  line?: number;
  col?: number;
}

export interface ErrorInfo extends Where {
  op?: string;
  shapes?: number[][];
  hint?: string;
}

export class GradcError extends Error {
  readonly code: ErrorCode;
  readonly info: ErrorInfo;
  constructor(code: ErrorCode, message: string, info: ErrorInfo = {}) {
    super(message);
    this.name = "GradcError";
    this.code = code;
    this.info = info;
  }

  /** Adds the spec location if none is known yet (the frontend knows it, the IR does not). */
  at(where: Where): GradcError {
    if (this.info.file === undefined && where.file !== undefined) Object.assign(this.info, where);
    return this;
  }

  /** `error[E_SHAPE] model.ts:12:7: add: cannot broadcast [4,2] with [3]` + hint line. */
  format(): string {
    const { file, line, col, hint } = this.info;
    const loc = file ? `${file}${line ? `:${line}${col ? `:${col}` : ""}` : ""}: ` : "";
    return `error[${this.code}] ${loc}${this.message}${hint ? `\n  hint: ${hint}` : ""}`;
  }
}

export const fmtShape = (s: readonly number[]): string => `[${s.join(",")}]`;
