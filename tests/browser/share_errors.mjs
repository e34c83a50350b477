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
    await page.waitForFunction(() => document.body && document.body.dataset.kioskExtension, null, { timeout: T });
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

    // A damaged share (cut-off JSON; a "notebook" whose cells are not cells) and an
    // oversized one: one plain sentence, nothing stored in this browser, nothing opened
    // (so no save prompt), no other dialog.
    const sharedFiles = () => page.evaluate(async () => {
      const listing = await window.jupyterapp.serviceManager.contents.get('', { content: true });
      return listing.content.map((f) => f.name).filter((n) => n.startsWith('Shared '));
    });
    const badShare = async (code, body) => {
      await page.route(`**/api/v1/notebooks/get-by-readable-id/${code}`, (route) =>
        route.fulfill({ status: 200, contentType: 'application/json', body }));
      await page.goto(`${origin}/lab/index.html?notebook=${code}`, { waitUntil: 'load' });
      await page.waitForSelector('#jp-main-dock-panel', { timeout: T });
      const shown = await dialogText(page);
      await page.waitForFunction(() => document.body && document.body.dataset.kioskOpened, null, { timeout: T });
      await page.waitForTimeout(500);
      return {
        text: shown.text,
        opened: await page.evaluate(() => document.body.dataset.kioskOpened),
        dialogsAfter: await page.locator('.jp-Dialog').count(),
        files: await sharedFiles(),
        dirty: await page.evaluate(() => Array.from(window.jupyterapp.shell.widgets('main'))
          .filter((w) => w.context && w.context.model.dirty).length),
      };
    };
    const id = '0b7d2f4e-5c1a-4f7e-9a66-1c2d3e4f5a6b';
    out.damagedCut = await badShare('cut-off-code', `{"id": "${id}", "content": {"cells": [`);
    out.damagedCells = await badShare('bad-cells-code', JSON.stringify({
      id, readable_id: 'bad-cells-code', domain_id: '', content: { cells: [{ cell_type: 'picture', source: 7 }] },
    }));
    out.oversized = await badShare('huge-code', JSON.stringify({
      id, readable_id: 'huge-code', domain_id: '',
      content: { nbformat: 4, nbformat_minor: 5, metadata: {}, cells: [
        { cell_type: 'markdown', metadata: {}, source: 'x'.repeat(25 * 1024 * 1024) }] },
    }));
    await page.unroute('**/api/v1/notebooks/get-by-readable-id/*');

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
