/** A thrown value's text without trusting it: its message or toString may be a getter that throws. */
export function describeThrown(e: unknown): { message: string; stack?: string } {
  const read = (f: () => unknown): string | undefined => {
    try {
      const v = f();
      return typeof v === "string" ? v : v === undefined ? undefined : String(v);
    } catch {
      return undefined;
    }
  };
  if (e instanceof Error || (typeof e === "object" && e !== null)) {
    const message = read(() => (e as Error).message) ?? read(() => String(e)) ?? "(a thrown value whose message cannot be read)";
    return { message, stack: read(() => (e as Error).stack) };
  }
  return { message: read(() => String(e)) ?? "(a thrown value that cannot be printed)" };
}
