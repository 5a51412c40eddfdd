const t0 = performance.now();
await import("./dist/cli.js");
console.log("cli import", (performance.now() - t0).toFixed(0), "ms");
