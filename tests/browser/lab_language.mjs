// JupyterLab's own menus in the browser's language, on a non-secure LAN name.
// Params: { url, locale }  →  { menus: [menu bar labels], lang: <html lang> }
import { launch, scenario, foreignRequests, params } from './harness.mjs';

scenario(async () => {
  const { context, requests, close } = await launch({ hosts: ['kiosk.test'], locale: params.locale });
  try {
    const page = await context.newPage();
    await page.goto(`${params.url}/lab/index.html`, { waitUntil: 'load', timeout: 60000 });
    await page.waitForSelector('#jp-main-dock-panel', { timeout: 120000 });
    await page.waitForFunction(() => document.querySelectorAll('.lm-MenuBar-itemLabel').length > 3,
      null, { timeout: 60000 });
    await page.waitForTimeout(1500);
    const menus = await page.$$eval('.lm-MenuBar-itemLabel', (els) => els.map((e) => e.textContent));
    return { menus, foreign: foreignRequests(requests, [new URL(params.url).origin]) };
  } finally {
    await close();
  }
});
