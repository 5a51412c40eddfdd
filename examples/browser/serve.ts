// Serves examples/browser/build/ on 127.0.0.1 (node:http, no dependencies).
// Every response carries COOP/COEP, so the page is cross-origin isolated
// (SharedArrayBuffer: the trainer's worker threads); `isolate: false` leaves them
// out (the page then trains its chunks one after another on one thread).
//
//   npx tsx examples/browser/serve.ts [--build] [--port 8173]     (npm run demo:browser: --build)
import { readFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { dirname, extname, join, normalize, sep } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".map": "application/json",
  ".bin": "application/octet-stream",
  ".png": "image/png",
};

export interface DemoServer {
  readonly url: string;
  close(): Promise<void>;
}

/** Starts the server (port 0: a free one). Resolves to its URL and a close(). */
export function serveDemo({
  port = 0,
  root = join(here, "build"),
  isolate = true,
} = {}): Promise<DemoServer> {
  const server = createServer(async (req, res) => {
    const headers = {
      ...(isolate
        ? {
            "Cross-Origin-Opener-Policy": "same-origin",
            "Cross-Origin-Embedder-Policy": "require-corp",
          }
        : {}),
      "Cache-Control": "no-store",
    };
    let path: string;
    try {
      path = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
    } catch {
      res.writeHead(400, headers).end(); // a malformed %-escape
      return;
    }
    const file = normalize(
      join(root, path.endsWith("/") ? `${path}index.html` : path),
    );
    if (
      (req.method !== "GET" && req.method !== "HEAD") ||
      !(file + sep).startsWith(root + sep) ||
      file === root
    ) {
      res
        .writeHead(
          req.method === "GET" || req.method === "HEAD" ? 404 : 405,
          headers,
        )
        .end();
      return;
    }
    try {
      const body = await readFile(file);
      res.writeHead(200, {
        ...headers,
        "Content-Type": TYPES[extname(file)] ?? "application/octet-stream",
        "Content-Length": body.length,
      });
      res.end(req.method === "HEAD" ? undefined : body);
    } catch {
      res
        .writeHead(404, { ...headers, "Content-Type": "text/plain" })
        .end(`not found: ${path}\n`);
    }
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => {
      const { port: p } = server.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${p}/`,
        close: () =>
          new Promise<void>((r) => {
            server.close(() => r());
            server.closeAllConnections(); // a browser keeps its connections open
          }),
      });
    });
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const i = process.argv.indexOf("--port");
  const port =
    i >= 0 ? Number(process.argv[i + 1]) : Number(process.env.PORT ?? 8173);
  if (process.argv.includes("--build"))
    await (await import("./build.ts")).buildDemo();
  try {
    const { url } = await serveDemo({ port });
    console.log(`gradc browser demo: ${url}  (Ctrl-C stops)`);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    console.error(
      `error: cannot serve on 127.0.0.1:${port}: ${err.message}${err.code === "EADDRINUSE" ? " (try --port 0 for a free port)" : ""}`,
    );
    process.exit(1);
  }
}
