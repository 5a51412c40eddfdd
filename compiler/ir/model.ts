/**
 * A model as the frontends produce it: leaves (inputs, params), named
 * outputs, an optional scalar loss, and what is known about the spec (node
 * names for readable output, source locations for errors).
 */
import { GradcError, type Where } from "../errors.ts";
import type { Graph, Node } from "./graph.ts";
import type { Shape } from "./shape.ts";

/** How a parameter starts: part of the runtime ABI (runtime/abi.ts), which the runtime reads from the layout. */
export type { Init } from "../../runtime/abi.ts";
import type { Init } from "../../runtime/abi.ts";

export interface Leaf {
  readonly name: string;
  readonly node: Node;
  readonly shape: Shape;
  /** Params: how the runtime initializes them. */
  readonly init?: Init;
  /** Inputs: the leading axis is the batch axis. */
  readonly batched?: boolean;
  /** Inputs: a dropout mask with this drop rate (the trainer fills it: 0 or 1/(1-p) while training, 1 otherwise). */
  readonly dropout?: number;
  /** Inputs: where `gradc check` samples them. Defaults to [-1, 1]. */
  readonly range?: readonly [number, number];
  readonly where?: Where;
}

export interface Output {
  readonly name: string;
  readonly node: Node;
  readonly where?: Where;
}

/**
 * The derivative rule a spec wrote for one `custom` node (`m.custom(name, { forward, vjp })`): `vjp[i]` is the
 * adjoint of the node's input i + 1 (null: none), an expression over the spec's nodes and the placeholder
 * `adjoint` (an input leaf named `__adjoint`, of the node's shape), which autodiff replaces by the node's adjoint.
 */
export interface CustomRule {
  readonly name: string;
  readonly adjoint: Node;
  readonly vjp: readonly (Node | null)[];
  readonly where?: Where;
}

export interface Model {
  readonly name: string;
  /** The spec this came from, as the user named it (for headers and errors). */
  readonly source: string;
  readonly graph: Graph;
  readonly inputs: readonly Leaf[];
  readonly params: readonly Leaf[];
  readonly outputs: readonly Output[];
  readonly loss?: Node;
  /** The compiled (maximum) batch size, when inputs have a "batch" axis. */
  readonly batch?: number;
  /** Spec names of intermediate nodes (`h1`), by node id. */
  readonly names: ReadonlyMap<number, string>;
  /** Where each named node was declared. */
  readonly where: ReadonlyMap<number, Where>;
  /** The spec's own derivative rules, by `custom` node id (this spec's registry: nothing is shared between specs). */
  readonly customs?: ReadonlyMap<number, CustomRule>;
  /** The spec's boxes (m.define, m.custom) in declaration order, with how often each was called: for `gradc summary`. */
  readonly boxes?: readonly Box[];
}

/** A named box of the spec: a function of builder ops (m.define, differentiated automatically) or a custom op with its own vjp. */
export interface Box {
  readonly name: string;
  readonly kind: "define" | "custom";
  readonly where: Where;
  /** How many times the spec called it. */
  readonly calls: number;
}

const RESERVED = new Set(
  (
    "break case catch class const continue debugger default delete do else enum export extends false finally for " +
    "function if import in instanceof new null return super switch this throw true try typeof var void while with " +
    "yield let static implements interface package private protected public await async of undefined NaN Infinity " +
    "arguments eval constructor prototype toString valueOf hasOwnProperty Math Object Array Number"
  ).split(" "),
);

/**
 * Spec names become identifiers in generated code, so they must be plain
 * ASCII identifiers: no quotes, no comment terminators, no unicode look-alikes,
 * no reserved words, no prototype keys.
 */
export function checkName(name: unknown, what: string, where?: Where): string {
  const bad = (why: string) =>
    new GradcError("E_BAD_NAME", `${what} name ${showValue(name)} ${why}`, {
      ...where,
      hint: "use a plain identifier: letters, digits and _ (not starting with a digit or __), at most 64 characters, not a JS keyword",
    });
  if (typeof name !== "string") throw bad("is not a string");
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(name)) throw bad("is not a valid identifier");
  if (name.startsWith("__")) throw bad("starts with __ (reserved)");
  if (RESERVED.has(name)) throw bad("is a reserved word");
  return name;
}

/**
 * A value from a spec as an error message shows it: strings quoted with every
 * character outside printable ASCII escaped (no raw newlines, line separators
 * or bidi controls reach the terminal), other values with their type.
 */
export function showValue(v: unknown): string {
  if (typeof v === "string")
    return `"${v.replace(/[^\x20-\x7e]|["\\]/g, (c) => (c === '"' || c === "\\" ? `\\${c}` : `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`))}"`;
  if (Array.isArray(v)) return `[${v.map(showValue).join(",")}]`;
  if (typeof v === "number") return String(v);
  return `${String(JSON.stringify(v) ?? v)} (${v === null ? "null" : typeof v})`;
}

/** `o[k]` when `o` holds it as an own property: never an inherited (possibly polluted) one. */
export const own = <T extends object, K extends keyof T>(o: T, k: K): T[K] | undefined => (Object.hasOwn(o, k) ? o[k] : undefined);
