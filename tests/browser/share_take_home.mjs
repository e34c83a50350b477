// Issue 7 end to end: the Share dialog shows the take-home link once the share is synced.
// Params: { origin: "http://kiosk.test:<port>" (a classroom kiosk syncing to a hub that is
//   away), hubUpUrl (a URL this script POSTs to, from Node, to bring the hub back), outDir }
//  A student shares a notebook: the dialog shows the classroom link and says a take-home
//  link will be sent when the kiosk is online. The hub comes back; without closing the
//  dialog, the take-home link and its QR code appear (screenshots saved for zbarimg).
//  The dialog is closed and opened again (Share once more): the link is shown at once.
import fs from 'node:fs';
import path from 'node:path';
import { foreignRequests, launch, params, scenario } from './harness.mjs';

const origin = params.origin;
const outDir = params.outDir;
const T = params.timeoutMs || 120000;
const started = Date.now();
let lastStep = 'start';
function step(name) {
  lastStep = name;
  process.stderr.write(`[share_take_home ${((Date.now() - started) / 1000).toFixed(1)}s] ${name}\n`);
}

const takeHome = (page) => page.locator('.jp-Dialog [data-kiosk=take-home]');

async function waitState(page, states, timeout = T) {
  await page.waitForFunction((wanted) => {
    const node = document.querySelector('.jp-Dialog [data-kiosk=take-home]');
    return node && wanted.includes(node.dataset.state);
  }, states, { timeout });
  return takeHome(page).getAttribute('data-state');
}

async function readSynced(page, shotName) {
  const dialog = page.locator('.jp-Dialog');
  const link = await dialog.locator('[data-kiosk=upstream-link]').inputValue();
  const localLink = await dialog.locator('[data-kiosk=link]').inputValue();
  // The whole dialog first (as the student sees it, unscrolled), then the take-home QR.
  const dialogShot = path.join(outDir, `${shotName}-dialog.png`);
  await dialog.locator('.jp-Dialog-content').screenshot({ path: dialogShot });
  const scrolled = await dialog.locator('.jp-Dialog-body').evaluate((b) => b.scrollHeight > b.clientHeight + 1);
  const qrShot = path.join(outDir, `${shotName}-qr.png`);
  await dialog.locator('[data-kiosk=upstream-qr]').screenshot({ path: qrShot });
  const text = await takeHome(page).innerText();
  const behind = await dialog.locator('[data-kiosk=upstream-behind]').count();
  return { link, localLink, qrShot, dialogShot, scrolled, text, behind };
}

async function closeDialog(page) {
  await page.locator('.jp-Dialog .jp-Dialog-button.jp-mod-accept').click();
  await page.locator('.jp-Dialog').waitFor({ state: 'detached', timeout: 10000 });
}

scenario(async () => {
  fs.mkdirSync(outDir, { recursive: true });
  const A = await launch();
  try {
    const page = A.context.pages()[0] || await A.context.newPage();
    step('open lab');
    await page.goto(`${origin}/lab/index.html`, { waitUntil: 'load', timeout: 60000 });
    await page.waitForSelector('#jp-main-dock-panel', { timeout: T });
    await page.waitForFunction(() => document.body && document.body.dataset.kioskExtension, null, { timeout: T });
    await page.evaluate(() => window.jupyterapp.commands.execute('notebook:create-new', { kernelName: 'python' }));
    const panel = page.locator('.jp-NotebookPanel:not(.lm-mod-hidden)').last();
    await panel.locator('.jp-Cell .cm-content').first().waitFor({ timeout: T });
    await panel.locator('.jp-Cell .cm-content').first().click();
    await page.keyboard.type('print("take me home")');

    step('share while the hub is away');
    await panel.locator('.kiosk-ShareButton').first().click();
    await page.locator('.jp-Dialog [data-kiosk=share-dialog]').waitFor({ timeout: T });
    const code = (await page.locator('.jp-Dialog [data-kiosk=code]').innerText()).trim();
    const pendingState = await waitState(page, ['pending', 'synced', 'off', 'unknown']);
    const pendingText = pendingState === 'pending'
      ? await page.locator('.jp-Dialog [data-kiosk=upstream-pending]').innerText() : null;
    const pendingShot = path.join(outDir, 'pending-dialog.png');
    await page.locator('.jp-Dialog .jp-Dialog-content').screenshot({ path: pendingShot });
    const pendingUpstreamQr = await page.locator('.jp-Dialog [data-kiosk=upstream-qr]').count();

    step('the hub comes back (dialog still open)');
    const t0 = Date.now();
    const answer = await fetch(params.hubUpUrl, { method: 'POST' });
    if (!answer.ok) throw new Error(`hubUpUrl answered ${answer.status}`);
    await waitState(page, ['synced'], 60000);
    const appearedAfterS = (Date.now() - t0) / 1000;
    const first = await readSynced(page, 'synced');
    await closeDialog(page);

    step('share again: the take-home link is there at once');
    await panel.locator('.kiosk-ShareButton').first().click();
    await page.locator('.jp-Dialog [data-kiosk=share-dialog]').waitFor({ timeout: T });
    await waitState(page, ['synced'], 30000);
    const again = await readSynced(page, 'again');
    const sharedId = await page.evaluate(() => window.jupyterapp.shell.currentWidget.model.getMetadata('sharedId'));
    await closeDialog(page);

    return {
      code, sharedId, pending: { state: pendingState, text: pendingText, shot: pendingShot, upstreamQr: pendingUpstreamQr },
      appearedAfterS, first, again,
      foreign: foreignRequests(A.requests, [new URL(origin).origin]),
      upstreamRequests: A.requests.filter((r) => r.url.includes('/upstream')).length,
    };
  } catch (err) {
    for (const [i, p] of A.context.pages().entries()) {
      await p.screenshot({ path: path.join(outDir, `failure-${i}.png`) }).catch(() => {});
    }
    throw new Error(`step "${lastStep}": ${err && err.stack || err}\nconsole:\n` +
      A.consoleLines.filter((l) => !l.startsWith('debug')).slice(-40).join('\n'));
  } finally {
    await A.close().catch(() => {});
  }
});
