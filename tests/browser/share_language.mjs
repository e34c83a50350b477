// Issues 23 and 24: the Share dialog in the browser's language, and a share the cloud
// service refused, said so in that language.
// Params: { origin: "http://kiosk.test:<port>" (a kiosk syncing to a JE stand-in that
//   refuses notebooks over its size limit), locale ("fr-FR", "ar"), outDir, shotName,
//   bigSource (a markdown cell larger than the stand-in's limit) }
//  → { badge, shareButton, first: {title, dir, texts, state}, refused: {state, text, dir},
//      shots: {...}, foreign }
import fs from 'node:fs';
import path from 'node:path';
import { foreignRequests, launch, params, scenario } from './harness.mjs';

const origin = params.origin;
const T = params.timeoutMs || 120000;
const started = Date.now();
function step(name) {
  process.stderr.write(`[share_language ${params.locale} ${((Date.now() - started) / 1000).toFixed(1)}s] ${name}\n`);
}

async function waitState(page, states, timeout = T) {
  await page.waitForFunction((wanted) => {
    const node = document.querySelector('.jp-Dialog [data-kiosk=take-home]');
    return node && wanted.includes(node.dataset.state);
  }, states, { timeout });
  return page.locator('.jp-Dialog [data-kiosk=take-home]').getAttribute('data-state');
}

async function closeDialog(page) {
  await page.locator('.jp-Dialog .jp-Dialog-button.jp-mod-accept').click();
  await page.locator('.jp-Dialog').waitFor({ state: 'detached', timeout: 10000 });
}

async function readDialog(page) {
  const dialog = page.locator('.jp-Dialog');
  return {
    title: (await dialog.locator('.jp-Dialog-header').innerText()).trim(),
    dir: await dialog.locator('[data-kiosk=share-dialog]').getAttribute('dir'),
    texts: await dialog.locator('[data-kiosk=share-dialog] p, [data-kiosk=share-dialog] .kiosk-ShareDialog-label, [data-kiosk=share-dialog] .kiosk-ShareDialog-hint, [data-kiosk=share-dialog] button')
      .allTextContents(),
    close: (await dialog.locator('.jp-Dialog-button.jp-mod-accept').innerText()).trim()
  };
}

scenario(async () => {
  fs.mkdirSync(params.outDir, { recursive: true });
  const { context, requests, close } = await launch({ locale: params.locale });
  try {
    const page = await context.newPage();
    step('open lab');
    await page.goto(`${origin}/lab/index.html`, { waitUntil: 'load', timeout: 60000 });
    await page.waitForSelector('#jp-main-dock-panel', { timeout: T });
    await page.waitForFunction(() => document.body && document.body.dataset.kioskExtension, null, { timeout: T });
    await page.waitForFunction(() => {
      const s = document.querySelector('[data-kiosk=badge-state]');
      return s && s.textContent;
    }, null, { timeout: T });
    const badge = (await page.locator('[data-kiosk=badge]').innerText()).trim();
    const menus = await page.$$eval('.lm-MenuBar-itemLabel', (els) => els.map((e) => e.textContent));

    step('a small notebook: the usual Share dialog');
    await page.evaluate(() => window.jupyterapp.commands.execute('notebook:create-new', { kernelName: 'python' }));
    const panel = page.locator('.jp-NotebookPanel:not(.lm-mod-hidden)').last();
    await panel.locator('.jp-Cell .cm-content').first().waitFor({ timeout: T });
    await panel.locator('.jp-Cell .cm-content').first().click();
    await page.keyboard.type('print("bonjour")');
    const shareButton = (await panel.locator('.kiosk-ShareButton').first().innerText()).trim();
    await panel.locator('.kiosk-ShareButton').first().click();
    await page.locator('.jp-Dialog [data-kiosk=share-dialog]').waitFor({ timeout: T });
    const state = await waitState(page, ['pending', 'synced', 'refused', 'off', 'none']);
    // Let the take-home part settle (a synced link and its QR code) before the picture.
    if (state === 'pending') {
      await waitState(page, ['synced', 'refused'], 30000).catch(() => null);
    }
    const first = { ...(await readDialog(page)), state: await page.locator('.jp-Dialog [data-kiosk=take-home]').getAttribute('data-state') };
    const dialogShot = path.join(params.outDir, `${params.shotName}.png`);
    await page.locator('.jp-Dialog .jp-Dialog-content').screenshot({ path: dialogShot });
    await closeDialog(page);

    step('a notebook over the cloud service\'s limit: refused, and said so');
    await page.evaluate(async (source) => {
      const content = {
        cells: [{ cell_type: 'markdown', metadata: {}, source }],
        metadata: { kernelspec: { name: 'python', display_name: 'Python (Pyodide)', language: 'python' } },
        nbformat: 4,
        nbformat_minor: 5
      };
      await window.jupyterapp.serviceManager.contents.save('big.ipynb', { type: 'notebook', format: 'json', content });
      await window.jupyterapp.commands.execute('docmanager:open', { path: 'big.ipynb' });
    }, params.bigSource);
    const big = page.locator('.jp-NotebookPanel:not(.lm-mod-hidden)').last();
    await big.locator('.kiosk-ShareButton').first().waitFor({ timeout: T });
    await page.waitForFunction(() => {
      const panels = document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden)');
      const p = panels[panels.length - 1];
      return p && p.querySelector('.jp-MarkdownCell');
    }, null, { timeout: T });
    // The kiosk sends it upstream in the background; the cloud service refuses it (413).
    // A Share while the dialog is open keeps asking the kiosk until it knows.
    await big.locator('.kiosk-ShareButton').first().click();
    await page.locator('.jp-Dialog [data-kiosk=share-dialog]').waitFor({ timeout: T });
    let refusedState = await waitState(page, ['refused', 'synced', 'off', 'none'], 60000).catch(() => 'timeout');
    if (refusedState !== 'refused') {
      // Asked before the refusal was known and the dialog stopped: open it again.
      await closeDialog(page);
      await page.waitForTimeout(3000);
      await big.locator('.kiosk-ShareButton').first().click();
      await page.locator('.jp-Dialog [data-kiosk=share-dialog]').waitFor({ timeout: T });
      refusedState = await waitState(page, ['refused', 'synced', 'off', 'none'], 60000).catch(() => 'timeout');
    }
    const refusedNode = page.locator('.jp-Dialog [data-kiosk=upstream-refused]');
    const refused = {
      state: refusedState,
      text: (await refusedNode.count()) ? (await refusedNode.innerText()).trim() : null,
      dir: await page.locator('.jp-Dialog [data-kiosk=share-dialog]').getAttribute('dir'),
      pendingShown: await page.locator('.jp-Dialog [data-kiosk=upstream-pending]').count()
    };
    const refusedShot = path.join(params.outDir, `${params.shotName}-refused.png`);
    await page.locator('.jp-Dialog .jp-Dialog-content').screenshot({ path: refusedShot });
    await closeDialog(page);
    return {
      badge,
      menus,
      shareButton,
      first,
      refused,
      shots: { dialog: dialogShot, refused: refusedShot },
      foreign: foreignRequests(requests, [origin])
    };
  } finally {
    await close();
  }
});
