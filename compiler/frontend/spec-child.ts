/**
 * The spec runs here, in a worker thread of its own (started by load.ts; its own V8 isolate, so
 * its own built-in prototypes): whatever it does — a top-level `Promise.reject`, a throw from a
 * timer, an error whose `message` getter throws, `process.exit(0)`, `while (true)`, polluting
 * `Object.prototype` — cannot reach the compiler. The parent bundles the spec, starts this file's
 * bundle, and gets back (structured clone) either the model as plain data (every node of the graph
 * in id order, so the parent rebuilds the identical graph) or one GradcError. The parent waits for
 * the worker to finish (its timers and promises run out) within the time limit, and terminates it
 * otherwise — a worker can be stopped inside an endless loop. (A worker, not a child process: it
 * starts in a fraction of the time.)
 *
 * First message from the parent: { bundle, name, shown, abs } — the spec bundle's path, the model
 * name, the spec as shown to users, and its absolute path.
 */
import { readFileSync } from "node:fs";
import { SourceMap } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { parentPort } from "node:worker_threads";
import { GradcError, type Where } from "../errors.ts";
import { type Model, own, showValue } from "../ir/model.ts";
import { describeThrown } from "./describe.ts";
import { builder } from "./dsl.ts";

/** The model as data: node i of `nodes` is node id i of the child's graph. */
export interface SerialModel {
  readonly name: string;
  readonly source: string;
  readonly nodes: { op: string; inputs: number[]; attrs: Record<string, unknown> }[];
  readonly inputs: SerialLeaf[];
  readonly params: SerialLeaf[];
  readonly outputs: { name: string; node: number; where?: Where }[];
  readonly loss?: number;
  readonly batch?: number;
  readonly names: [number, string][];
  readonly where: [number, Where][];
  /** The spec's custom rules: [custom node, { name, adjoint node, vjp nodes (null: none) }]. */
  readonly customs?: [number, { name: string; adjoint: number; vjp: (number | null)[]; where?: Where }][];
  readonly boxes?: Model["boxes"];
}
type SerialLeaf = Record<string, unknown> & { node: number };

export type ChildReply = { ok: SerialModel } | { error: { code: string; message: string; info: Record<string, unknown> } };

/**
 * Built-in prototypes a spec could pollute (`Object.prototype.batch = "…"`): every object the
 * compiler reads would inherit the value, and one that reached generated text ran the spec's
 * code in the user's app. The spec runs in its own process (this one), so nothing it changes reaches the
 * compiler; still, the builder here would read polluted values, so the change is refused (E_SPEC_LOAD). The compiler also reads model fields as own properties only.
 */
const PROTOTYPES: [string, object][] = [
  ["Object.prototype", Object.prototype],
  ["Array.prototype", Array.prototype],
  ["Function.prototype", Function.prototype],
  ["String.prototype", String.prototype],
  ["Number.prototype", Number.prototype],
  ["Boolean.prototype", Boolean.prototype],
  ["Symbol.prototype", Symbol.prototype],
  ["Error.prototype", Error.prototype],
  ["Promise.prototype", Promise.prototype],
  ["RegExp.prototype", RegExp.prototype],
  ["Map.prototype", Map.prototype],
  ["Set.prototype", Set.prototype],
];

/** Snapshots the built-in prototypes; the returned function restores them and names what changed. */
function guardPrototypes(): () => string[] {
  const before = PROTOTYPES.map(([name, proto]) => ({ name, proto, props: new Map(Reflect.ownKeys(proto).map((k) => [k, Object.getOwnPropertyDescriptor(proto, k)!])) }));
  const same = (a: PropertyDescriptor, b: PropertyDescriptor) =>
    a.value === b.value && a.get === b.get && a.set === b.set && a.writable === b.writable && a.enumerable === b.enumerable && a.configurable === b.configurable;
  const put = (f: () => void) => {
    try {
      f();
    } catch {
      // a non-configurable change cannot be undone; it is still reported
    }
  };
  return () => {
    const changed: string[] = [];
    for (const { name, proto, props } of before) {
      for (const k of Reflect.ownKeys(proto)) {
        const was = props.get(k);
        if (was && same(was, Object.getOwnPropertyDescriptor(proto, k)!)) continue;
        changed.push(`${name}.${String(k)}`);
        put(() => (was ? Object.defineProperty(proto, k, was) : delete (proto as Record<PropertyKey, unknown>)[k]));
      }
      for (const [k, d] of props)
        if (!Object.hasOwn(proto, k)) {
          changed.push(`${name}.${String(k)} (deleted)`);
          put(() => Object.defineProperty(proto, k, d));
        }
    }
    return changed;
  };
}

const serialize = (m: Model): SerialModel => {
  const leaf = (l: Model["inputs"][number]): SerialLeaf => ({ ...l, node: l.node.id, shape: [...l.shape] });
  return {
    name: m.name,
    source: m.source,
    nodes: m.graph.all().map((n) => ({ op: n.op, inputs: n.inputs.map((i) => i.id), attrs: { ...n.attrs } })),
    inputs: m.inputs.map(leaf),
    params: m.params.map(leaf),
    outputs: m.outputs.map((o) => ({ name: o.name, node: o.node.id, ...(o.where ? { where: o.where } : {}) })),
    ...(m.loss ? { loss: m.loss.id } : {}),
    ...(own(m, "batch") !== undefined ? { batch: m.batch } : {}),
    names: [...m.names],
    where: [...m.where],
    ...(m.boxes ? { boxes: m.boxes } : {}),
    ...(m.customs?.size
      ? { customs: [...m.customs].map(([id, r]) => [id, { name: r.name, adjoint: r.adjoint.id, vjp: r.vjp.map((d) => d && d.id), ...(r.where ? { where: r.where } : {}) }] as const) as SerialModel["customs"] }
      : {}),
  };
};

async function main(): Promise<void> {
  // The worker is started while the parent still bundles the spec (its start-up overlaps that); the paths come after.
  const { bundle, name, shown, abs } = (await new Promise((res) => parentPort!.once("message", res))) as { bundle: string; name: string; shown: string; abs: string };
  // The first error is the answer, even after the model was sent (a rejection or a timer that fires later).
  let failed = false;
  const reply = (r: ChildReply) => {
    if (failed) return;
    failed = "error" in r;
    parentPort!.postMessage(r);
  };
  const bundleUrl = pathToFileURL(bundle).href;
  const map = new SourceMap(JSON.parse(readFileSync(`${bundle}.map`, "utf8")));

  /** The innermost stack frame inside the spec, mapped back to the spec's line and column. */
  const locate = (stack = new Error().stack ?? ""): Where => {
    for (const line of stack.split("\n")) {
      const m = line.match(/(file:\/\/\S+?|\/\S+?):(\d+):(\d+)\)?\s*$/);
      if (!m || (m[1] !== bundleUrl && m[1] !== bundle)) continue;
      const e = map.findEntry(Number(m[2]) - 1, Number(m[3]) - 1) as { originalSource?: string; originalLine?: number; originalColumn?: number };
      if (e.originalSource === undefined) continue;
      const src = e.originalSource.startsWith("file:") ? new URL(e.originalSource).pathname : path.resolve(path.dirname(bundle), e.originalSource);
      const display = path.relative(process.cwd(), src).split(path.sep).join("/");
      return { file: src === abs ? shown : display, line: e.originalLine! + 1, col: e.originalColumn! + 1 };
    }
    return { file: shown };
  };
  const fail = (err: GradcError) => reply({ error: { code: err.code, message: err.message, info: { ...err.info } } });
  const loadError = (what: string, e: unknown, hint = "fix the error above in the spec") => {
    const d = describeThrown(e);
    return new GradcError("E_SPEC_LOAD", `${what}: ${d.message}`, { ...locate(d.stack), hint });
  };

  // Anything the spec leaves behind (a rejected promise nobody awaits, a timer that throws) ends the load.
  process.on("uncaughtException", (e) => fail(e instanceof GradcError ? e.at(locate(e.stack)) : loadError("the spec threw (from a timer or callback)", e)));
  process.on("unhandledRejection", (e) => fail(loadError("the spec left a rejected promise", e, "await or catch every promise in the spec (the model is built synchronously)")));
  // process.exit in a spec is an error at its line, not a silent exit.
  process.exit = ((code?: number) => {
    throw new GradcError("E_SPEC_LOAD", `the spec called process.exit(${code === undefined ? "" : String(code)})`, {
      ...locate(),
      hint: "a spec only builds the model: remove the process.exit call",
    });
  }) as typeof process.exit;

  const restore = guardPrototypes();
  // Neither may it kill or abort the process it shares with the compiler (a worker shares its pid).
  const realKill = process.kill.bind(process);
  process.kill = ((pid: number, signal?: string | number) => {
    if (pid === process.pid || pid === 0 || pid === -process.pid)
      throw new GradcError("E_SPEC_LOAD", `the spec tried to signal its own process (process.kill(${pid}${signal === undefined ? "" : `, ${JSON.stringify(signal)}`}))`, {
        ...locate(),
        hint: "a spec only builds the model: remove the process.kill call",
      });
    return realKill(pid, signal);
  }) as typeof process.kill;
  process.abort = (() => {
    throw new GradcError("E_SPEC_LOAD", "the spec called process.abort()", { ...locate(), hint: "a spec only builds the model: remove the process.abort call" });
  }) as typeof process.abort;
  let mod: { default?: unknown };
  try {
    mod = await import(bundleUrl);
  } catch (e) {
    return fail(e instanceof GradcError ? e.at(locate(e.stack)) : loadError("the spec threw while loading", e));
  }
  if (typeof mod.default !== "function")
    return fail(new GradcError("E_SPEC_EXPORT", "the spec has no default export function", { file: shown, hint: "write `export default (m: ModelBuilder) => { … }`" }));
  const m = builder(name, shown, locate);
  let model: Model;
  try {
    const ret = (mod.default as (m: unknown) => unknown)(m);
    if (typeof (ret as { then?: unknown } | null)?.then === "function") {
      (ret as Promise<unknown>).then(undefined, () => {}); // its later failure must not surface as an unhandled rejection
      return fail(
        new GradcError("E_SPEC_EXPORT", "the spec's default export returned a Promise (an async function?)", {
          file: shown,
          hint: "the model is built synchronously: write `export default (m: ModelBuilder) => { … }` without async/await",
        }),
      );
    }
    model = m.finish();
  } catch (e) {
    // A GradcError raised outside a builder call (e.g. `x.relu()`) gets the spec line from its own stack.
    return fail(e instanceof GradcError ? e.at(locate(e.stack)) : loadError("the spec threw", e));
  }
  const changed = restore();
  if (changed.length) {
    const list = changed.slice(0, 5).map((c) => showValue(c).slice(1, -1)).join(", ");
    return fail(
      new GradcError("E_SPEC_LOAD", `the spec modified built-in prototypes: ${list}${changed.length > 5 ? `, … (${changed.length} in all)` : ""}`, {
        file: shown,
        hint: "a spec may not change Object.prototype or other built-ins: remove that assignment",
      }),
    );
  }
  // The parent takes this once the worker has finished: a timer that throws later is still an error.
  reply({ ok: serialize(model) });
}

void main();
