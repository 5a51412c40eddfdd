// Moved to test/helpers.ts (shared by every test directory); this re-export keeps old imports working.
export * from "../helpers.ts";
