// Drives Debian's Chromium (/usr/bin/chromium, through playwright-core) against
// the demo page: the browser test (test/examples/browser.test.ts) and the
// README's screenshot use these helpers.
//
//   npx tsx examples/browser/screenshot.ts     builds, trains 8 epochs in Chromium, writes docs/browser-demo.png
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import type { DemoState } from "./main.ts";

export const CHROMIUM = "/usr/bin/chromium";
/** The flags Chromium needs on this kind of machine (no GPU, no sandbox for root, nothing phoning home). */
export const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** Chromium with a fresh profile; close() also removes the profile. Throws, saying why, when it cannot start. */
export async function launchChromium({ viewport = { width: 1060, height: 800 } } = {}): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  if (!existsSync(CHROMIUM))
    throw new Error(`Chromium is not installed at ${CHROMIUM}: run \`apt-get update && apt-get install -y chromium\` (as root; .ci/run does this)`);
  const profile = mkdtempSync(join(tmpdir(), "gradc-chromium-"));
  try {
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_FLAGS,
      viewport,
      deviceScaleFactor: 1,
      timeout: 30_000,
    });
    return {
      context,
      close: async () => {
        await context.close();
        rmSync(profile, { recursive: true, force: true });
      },
    };
  } catch (err) {
    rmSync(profile, { recursive: true, force: true });
    throw new Error(`Chromium (${CHROMIUM}) did not start: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/**
 * Opens the demo at `url` with `?epochs=N` and waits until it has trained. Resolves to the page and its
 * window.gradcDemo state; rejects with the page's own error (or its console errors) when it fails.
 */
export async function trainInPage(
  context: BrowserContext,
  url: string,
  { epochs, timeout = 60_000, page: given }: { epochs: number; timeout?: number; page?: Page },
): Promise<{ page: Page; state: DemoState; problems: string[] }> {
  const page = given ?? context.pages()[0] ?? (await context.newPage());
  const problems: string[] = [];
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("console", (m) => m.type() === "error" && problems.push(`console error: ${m.text()}`));
  page.on("requestfailed", (r) => problems.push(`request failed: ${r.url()} (${r.failure()?.errorText})`));
  await page.goto(`${url}?epochs=${epochs}`);
  try {
    await page.waitForFunction(() => ["done", "stopped", "error"].includes(window.gradcDemo?.phase), null, { timeout, polling: 100 });
  } catch (err) {
    throw new Error(`the page did not finish training in ${timeout / 1000} s: ${err instanceof Error ? err.message : String(err)}${problems.length ? `\n${problems.join("\n")}` : ""}`);
  }
  const state = await page.evaluate(() => window.gradcDemo);
  if (state.phase !== "done") throw new Error(`the page ended '${state.phase}': ${state.error ?? ""}${problems.length ? `\n${problems.join("\n")}` : ""}`);
  return { page, state, problems };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { buildDemo } = await import("./build.ts");
  const { serveDemo } = await import("./serve.ts");
  await buildDemo({ quiet: true });
  const server = await serveDemo();
  const chrome = await launchChromium();
  try {
    const { page, state } = await trainInPage(chrome.context, server.url, { epochs: 8 });
    const out = join(dirname(fileURLToPath(import.meta.url)), "../../docs/browser-demo.png");
    writeFileSync(out, await page.screenshot({ fullPage: true }));
    console.log(`trained ${state.epochs} epochs in ${state.seconds.toFixed(1)} s, test accuracy ${state.shown}; wrote docs/browser-demo.png`);
  } finally {
    await chrome.close();
    await server.close();
  }
}
