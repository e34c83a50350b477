// The USB stick's kiosk seen from the laptop's own browser: http://localhost:<port>/.
// Run inside a network namespace with only `lo`. Checks that the landing page and
// JupyterLab's page load and are a secure context (localhost), so service workers,
// crypto.randomUUID and SharedArrayBuffer-era features are there.
import { launch, scenario, foreignRequests, params } from './harness.mjs';

scenario(async () => {
  const { context, requests, failures, consoleLines, close } = await launch({ hosts: ['localhost'] });
  const origin = `http://localhost:${params.port}`;
  try {
    const page = await context.newPage();
    const pages = {};
    for (const path of ['/', '/lab/index.html']) {
      const resp = await page.goto(origin + path, { waitUntil: 'load', timeout: 60000 });
      pages[path] = {
        status: resp.status(),
        title: await page.title(),
        secure: await page.evaluate(() => window.isSecureContext),
        randomUUID: await page.evaluate(() => typeof crypto.randomUUID === 'function'),
        serviceWorker: await page.evaluate(() => 'serviceWorker' in navigator),
      };
    }
    return { pages, foreign: foreignRequests(requests, [origin]).map((r) => r.url),
             failures, console: consoleLines.slice(0, 20) };
  } finally {
    await close();
  }
});
