// Render a kiosk page (/join, or the poster SVG) in headless Chromium and save a PNG
// screenshot for zbarimg. Params: { url, out, width?, height?, waitFor? }.
// The harness blocks every name and IP literal but the ones it maps to 127.0.0.1; here
// the page's own IP literal (loopback, or a test namespace's veth address) maps to
// itself, and everything else still fails. Chromium keeps the last of a repeated switch.
import { launch, params, scenario } from './harness.mjs';

scenario(async () => {
  const host = new URL(params.url).hostname;
  const rules = `--host-resolver-rules=MAP ${host} ${host}, MAP * ~NOTFOUND`;
  const { context, consoleLines, close } = await launch({ hosts: [], extraArgs: [rules] });
  try {
    const page = context.pages()[0] || await context.newPage();
    const badResponses = [];
    page.on('response', (r) => { if (r.status() >= 400) badResponses.push(`${r.status()} ${r.url()}`); });
    await page.setViewportSize({ width: params.width || 1280, height: params.height || 720 });
    const response = await page.goto(params.url, { waitUntil: 'load', timeout: 30000 });
    if (params.waitFor) await page.waitForSelector(params.waitFor, { timeout: 10000 });
    await page.screenshot({ path: params.out, fullPage: params.fullPage !== false });
    const info = await page.evaluate(() => ({
      title: document.title,
      dataUrl: document.body ? document.body.getAttribute('data-url') : null,
      text: document.body ? document.body.innerText : document.documentElement.textContent,
      scripts: Array.from(document.scripts).map((s) => s.src),
    }));
    return { status: response ? response.status() : null,
             contentType: response ? response.headers()['content-type'] : null,
             csp: response ? response.headers()['content-security-policy'] || null : null,
             ...info, console: consoleLines, badResponses };
  } finally {
    await close();
  }
});
