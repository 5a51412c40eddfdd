/**
 * Fast stand-ins for the two formatting libraries compiler/emit/emit.ts uses,
 * for the fuzzers only (see flag.ts): while `fastEmit.on`, `prettier.format`
 * returns its input and ts-morph's `Project` is a string builder covering
 * what emit.ts calls (any other method throws, naming itself, so a change in
 * emit.ts shows up as a clear failure here). Each factory takes the real
 * module and returns it with the one export replaced.
 */
import type * as Prettier from "prettier";
import type * as TsMorph from "ts-morph";
import { fastEmit } from "./flag.ts";

export function fastPrettier(real: typeof Prettier): typeof Prettier {
  const format = async (source: string, options?: Prettier.Options) => (fastEmit.on ? source : real.format(source, options));
  return { ...real, format, default: { ...(real as { default?: object }).default, format } } as typeof Prettier;
}

interface Param {
  name: string;
  type?: string;
  initializer?: string;
}
const docs = (d?: unknown[]) => (d?.length ? `/** ${d.map(String).join("\n")} */\n` : "");
const exp = (o: { isExported?: boolean }) => (o.isExported ? "export " : "");
const param = (p: Param) => `${p.name}${p.type ? `: ${p.type}` : ""}${p.initializer ? ` = ${p.initializer}` : ""}`;

class FastFile {
  private readonly parts: string[] = [];
  addVariableStatement(o: {
    isExported?: boolean;
    declarationKind?: string;
    docs?: unknown[];
    declarations: { name: string; initializer?: string; type?: string }[];
  }) {
    this.parts.push(`${docs(o.docs)}${exp(o)}${o.declarationKind ?? "let"} ${o.declarations.map(param).join(", ")};`);
  }
  addTypeAlias(o: { isExported?: boolean; name: string; type: string; docs?: unknown[] }) {
    this.parts.push(`${docs(o.docs)}${exp(o)}type ${o.name} = ${o.type};`);
  }
  addStatements(s: string | string[]) {
    this.parts.push(...(Array.isArray(s) ? s : [s]));
  }
  addFunction(o: {
    isExported?: boolean;
    name: string;
    docs?: unknown[];
    parameters?: Param[];
    returnType?: string;
    statements?: string[] | string;
  }) {
    const body = Array.isArray(o.statements) ? o.statements.join("\n") : (o.statements ?? "");
    const ret = o.returnType ? `: ${o.returnType}` : "";
    this.parts.push(`${docs(o.docs)}${exp(o)}function ${o.name}(${(o.parameters ?? []).map(param).join(", ")})${ret} {\n${body}\n}`);
  }
  getFullText() {
    return `${this.parts.join("\n\n")}\n`;
  }
}

const strict = <T extends object>(o: T, what: string): T =>
  new Proxy(o, {
    get(t, k, r) {
      if (typeof k === "string" && !(k in t))
        throw new Error(`test/fuzz/fast-emit/stubs.ts: ${what}.${k} is not stubbed; extend the stub (emit.ts changed)`);
      return Reflect.get(t, k, r);
    },
  });

export function fastTsMorph(real: typeof TsMorph): typeof TsMorph {
  class Project {
    constructor(opts?: TsMorph.ProjectOptions) {
      // A constructor may return another object: the real Project when fast emission is off.
      if (!fastEmit.on) return new real.Project(opts) as unknown as Project;
      return strict(this, "Project");
    }
    createSourceFile(_name: string) {
      return strict(new FastFile(), "SourceFile");
    }
  }
  return { ...real, Project } as unknown as typeof TsMorph;
}
