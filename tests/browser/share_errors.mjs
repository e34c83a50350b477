// Issue 5, the unhappy paths of Share, in words a 13-year-old understands.
// Params: { origin, outDir }. The kiosk is real; single answers are replaced with
// page.route() to make the kiosk say 413, be unreachable, or refuse a PUT (403: the
// browser was cleared, another session owns the notebook).
import fs from 'node:fs';
import { launch, params, scenario } from './harness.mjs';

const origin = params.origin;
const T = params.timeoutMs || 60000;

async function dialogText(page) {
  const dialog = page.locator('.jp-Dialog');
  await dialog.waitFor({ timeout: T });
  const text = await dialog.locator('.jp-Dialog-content').innerText();
  const link = await dialog.locator('[data-kiosk=link]').count()
    ? await dialog.locator('[data-kiosk=link]').inputValue() : null;
  const note = await dialog.locator('[data-kiosk=note]').count()
    ? await dialog.locator('[data-kiosk=note]').innerText() : null;
  await dialog.locator('.jp-Dialog-button.jp-mod-accept').click();
  await dialog.waitFor({ state: 'detached', timeout: 10000 });
  return { text, link, note };
}

scenario(async () => {
  fs.mkdirSync(params.outDir, { recursive: true });
  const A = await launch();
  try {
    const page = A.context.pages()[0] || await A.context.newPage();
    await page.goto(`${origin}/lab/index.html`, { waitUntil: 'load' });
    await page.waitForSelector('#jp-main-dock-panel', { timeout: T });
    await page.waitForFunction(() => document.body.dataset.kioskExtension, null, { timeout: T });
    await page.evaluate(() => window.jupyterapp.commands.execute('notebook:create-new', { kernelName: 'python' }));
    const share = page.locator('.jp-NotebookPanel:not(.lm-mod-hidden) .kiosk-ShareButton').last();
    await share.waitFor({ timeout: T });
    const out = {};

    // 413: too large.
    await page.route('**/api/v1/notebooks', (route) => route.fulfill({ status: 413, body: '{}' }));
    await share.click();
    out.tooLarge = await dialogText(page);
    await page.unroute('**/api/v1/notebooks');

    // The kiosk cannot be reached (connection refused / Wi-Fi gone).
    await page.route('**/api/v1/**', (route) => route.abort('connectionrefused'));
    await share.click();
    out.unreachable = await dialogText(page);
    await page.unroute('**/api/v1/**');

    // A 500: try again.
    await page.route('**/api/v1/notebooks', (route) => route.fulfill({ status: 500, body: '{}' }));
    await share.click();
    out.serverError = await dialogText(page);
    await page.unroute('**/api/v1/notebooks');

    // Works now: first share.
    await share.click();
    out.first = await dialogText(page);
    out.firstId = await page.evaluate(() => window.jupyterapp.shell.currentWidget.model.getMetadata('sharedId'));

    // A 401 once (token unknown, e.g. the kiosk's secrets were reset): new token, retry.
    let put401 = 0;
    await page.route('**/api/v1/notebooks/*', (route) => {
      if (route.request().method() === 'PUT' && put401 === 0) {
        put401 += 1;
        return route.fulfill({ status: 401, body: '{}' });
      }
      return route.continue();
    });
    await share.click();
    out.after401 = await dialogText(page);
    out.put401 = put401;
    await page.unroute('**/api/v1/notebooks/*');

    // Another browser session owns it (403 on PUT): shared anew, and said plainly.
    await page.evaluate(() => localStorage.removeItem('kiosk-share:token'));
    await page.route('**/api/v1/notebooks/*', (route) =>
      route.request().method() === 'PUT' ? route.fulfill({ status: 403, body: '{}' }) : route.continue());
    await share.click();
    out.forbidden = await dialogText(page);
    out.secondId = await page.evaluate(() => window.jupyterapp.shell.currentWidget.model.getMetadata('sharedId'));
    await page.unroute('**/api/v1/notebooks/*');

    // A share link with an unknown code.
    await page.goto(`${origin}/lab/index.html?notebook=no-such-code`, { waitUntil: 'load' });
    await page.waitForSelector('#jp-main-dock-panel', { timeout: T });
    out.notFound = await dialogText(page);

    // Badge without a status endpoint (404): just "Kiosk".
    await page.route('**/api/kiosk/status', (route) => route.fulfill({ status: 404, body: 'no' }));
    await page.reload({ waitUntil: 'load' });
    await page.waitForSelector('[data-kiosk=badge]', { timeout: T });
    await page.waitForTimeout(1500);
    out.badge404 = await page.locator('[data-kiosk=badge]').innerText();
    out.insecureNote = await page.locator('[data-kiosk=insecure-note]').count();
    // Without the kiosk's relay (its bridge script blocked), plain HTTP really cannot
    // give Python the files or input(): then, and only then, the badge says so.
    await page.route('**/_kiosk/bridge.js', (route) => route.fulfill({ status: 404, body: '' }));
    await page.reload({ waitUntil: 'load' });
    await page.waitForSelector('[data-kiosk=badge]', { timeout: T });
    out.insecureNoteNoRelay = await page.locator('[data-kiosk=insecure-note]').count();
    out.insecureText = out.insecureNoteNoRelay
      ? await page.locator('[data-kiosk=insecure-note]').textContent() : null;
    return out;
  } finally {
    await A.close();
  }
});
