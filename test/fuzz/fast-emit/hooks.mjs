// Node module hooks (registered by register.ts): compiler/emit/emit.ts's imports of prettier and ts-morph resolve to the stand-ins here.
export async function resolve(specifier, context, next) {
  if ((specifier === "prettier" || specifier === "ts-morph") && context.parentURL?.endsWith("/compiler/emit/emit.ts"))
    return next(new URL(`./${specifier}.ts`, import.meta.url).href, context);
  return next(specifier, context);
}
