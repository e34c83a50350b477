// Issue 5 end to end: two students share a notebook through the kiosk's extension.
// Params: { origin: "http://kiosk.test:<port>", outDir, imagesDir?, timeoutMs? }
//  A (one browser) writes and runs two cells, presses Share, reads link and code from the
//  dialog (screenshot saved for zbarimg); B (a second, fresh browser) opens the link and
//  sees the same cells and outputs, read-only, with no kernel; B makes a copy, edits,
//  shares, and gets another link; A edits and saves (the kiosk gets the edit).
import fs from 'node:fs';
import path from 'node:path';
import { foreignRequests, launch, params, scenario } from './harness.mjs';

const origin = params.origin;
const outDir = params.outDir;
const imagesDir = params.imagesDir || null;
const T = params.timeoutMs || 120000;
const MARK_A = 'kiosk_share_a';
const started = Date.now();
let lastStep = 'start';
function step(name) {
  lastStep = name;
  process.stderr.write(`[share_flow ${((Date.now() - started) / 1000).toFixed(1)}s] ${name}\n`);
}

async function openLab(page, url) {
  await page.goto(url, { waitUntil: 'load', timeout: 60000 });
  await page.waitForSelector('#jp-main-dock-panel', { timeout: T });
  await page.waitForFunction(() => document.body && document.body.dataset.kioskExtension, null, { timeout: T });
  await page.waitForSelector('[data-kiosk=badge]', { timeout: T });
}

// The notebook panel that is the current widget, as a locator.
const currentPanel = (page) => page.locator('.jp-NotebookPanel:not(.lm-mod-hidden)').last();

async function typeInCell(page, cellLocator, text) {
  await cellLocator.locator('.cm-content').click();
  await page.keyboard.press('Control+A');
  await page.keyboard.type(text);
}

async function cellTexts(panel) {
  return panel.locator('.jp-Cell .cm-content').allInnerTexts();
}

async function outputTexts(panel) {
  return panel.locator('.jp-OutputArea-output').allInnerTexts();
}

async function readShareDialog(page, shotName) {
  const dialog = page.locator('.jp-Dialog');
  await dialog.locator('[data-kiosk=share-dialog]').waitFor({ timeout: T });
  const link = await dialog.locator('[data-kiosk=link]').inputValue();
  const codeBox = await dialog.locator('[data-kiosk=code]').boundingBox();
  const code = (await dialog.locator('[data-kiosk=code]').innerText()).trim();
  const note = await dialog.locator('[data-kiosk=note]').count()
    ? await dialog.locator('[data-kiosk=note]').innerText() : null;
  // The take-home part asks the kiosk whether the share went upstream; with sync off it
  // must settle on "off" and show nothing.
  await page.waitForFunction(() => {
    const node = document.querySelector('.jp-Dialog [data-kiosk=take-home]');
    return node && node.dataset.state !== 'loading';
  }, null, { timeout: T });
  const takeHome = {
    state: await dialog.locator('[data-kiosk=take-home]').getAttribute('data-state'),
    visible: await dialog.locator('[data-kiosk=take-home]').isVisible(),
  };
  const shot = path.join(outDir, `${shotName}.png`);
  await dialog.locator('.jp-Dialog-content').screenshot({ path: shot });
  // Copy: on plain HTTP there is no Clipboard API; the fallback must say what happened.
  await dialog.locator('[data-kiosk=copy]').click();
  const copyStatus = await dialog.locator('[data-kiosk=copy-status]').innerText();
  const copyOutcome = await dialog.locator('[data-kiosk=copy-status]').getAttribute('data-outcome');
  return { link, code, note, shot, copyStatus, copyOutcome, codeHeight: codeBox && codeBox.height, takeHome };
}

async function closeDialog(page) {
  await page.locator('.jp-Dialog .jp-Dialog-button.jp-mod-accept').click();
  await page.locator('.jp-Dialog').waitFor({ state: 'detached', timeout: 10000 });
}

async function runningKernels(page) {
  return page.evaluate(async () => {
    const app = window.jupyterapp;
    const kernels = app.serviceManager.kernels;
    await kernels.refreshRunning();
    return Array.from(kernels.running()).map((k) => k.name);
  });
}

scenario(async () => {
  fs.mkdirSync(outDir, { recursive: true });
  const timings = {};
  const t0 = Date.now();
  const A = await launch();
  const B = await launch();
  try {
    // ---------------- Student A: write, run, share ----------------
    const pageA = A.context.pages()[0] || await A.context.newPage();
    pageA.on('crash', () => step('PAGE A CRASHED'));
    pageA.on('framenavigated', (f) => { if (f === pageA.mainFrame()) step(`A navigated to ${f.url()}`); });
    step('A opens lab');
    await openLab(pageA, `${origin}/lab/index.html`);
    const secure = await pageA.evaluate(() => window.isSecureContext);
    const badge = await pageA.locator('[data-kiosk=badge]').innerText();
    await pageA.evaluate(() => window.jupyterapp.commands.execute('notebook:create-new', { kernelName: 'python' }));
    let panelA = currentPanel(pageA);
    await panelA.locator('.jp-Cell').first().waitFor({ timeout: T });
    await pageA.waitForFunction(() => {
      const w = window.jupyterapp.shell.currentWidget;
      return w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
    }, null, { timeout: T });
    timings.a_notebook_open_s = (Date.now() - t0) / 1000;
    step('A types cells');
    await typeInCell(pageA, panelA.locator('.jp-Cell').nth(0), `${MARK_A} = 6 * 7\nprint("first", ${MARK_A})`);
    await pageA.keyboard.press('Shift+Enter');
    await panelA.locator('.jp-Cell').nth(1).waitFor({ timeout: T });
    await typeInCell(pageA, panelA.locator('.jp-Cell').nth(1), `[${MARK_A} + i for i in range(3)]`);
    await pageA.keyboard.press('Shift+Enter');
    await pageA.waitForFunction(() => {
      const outs = Array.from(document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output'))
        .map((o) => o.textContent);
      return outs.some((t) => t.includes('first 42')) && outs.some((t) => t.includes('[42, 43, 44]'));
    }, null, { timeout: 240000 });
    timings.a_cells_ran_s = (Date.now() - t0) / 1000;
    const aCells = await cellTexts(panelA);
    const aOutputs = await outputTexts(panelA);

    step('A presses Share');
    await panelA.locator('.kiosk-ShareButton').first().click();
    const shareA = await readShareDialog(pageA, 'dialog-a');
    if (imagesDir) {
      await pageA.locator('.jp-Dialog-content').screenshot({ path: path.join(imagesDir, 'share-dialog.png') });
    }
    await closeDialog(pageA);
    const aPath = await pageA.evaluate(() => window.jupyterapp.shell.currentWidget.context.path);
    const aMeta = await pageA.evaluate(() => window.jupyterapp.shell.currentWidget.model.metadata);
    timings.a_shared_s = (Date.now() - t0) / 1000;

    // ---------------- Student B: open the link, view only ----------------
    step('B opens the link');
    const pageB = B.context.pages()[0] || await B.context.newPage();
    const bRequestsBefore = B.requests.length;
    await openLab(pageB, shareA.link);
    await pageB.waitForSelector('[data-kiosk=view-only-banner]', { timeout: T });
    await pageB.waitForFunction(() => document.body && document.body.dataset.kioskOpened, null, { timeout: T });
    const panelB = currentPanel(pageB);
    await panelB.locator('.jp-OutputArea-output').first().waitFor({ timeout: T });
    // Give a kernel every chance to start if something wanted one.
    await pageB.waitForTimeout(3000);
    step('B reads the view-only notebook');
    const bCells = await cellTexts(panelB);
    const bOutputs = await outputTexts(panelB);
    const bKernels = await runningKernels(pageB);
    const bView = await pageB.evaluate(() => {
      const w = window.jupyterapp.shell.currentWidget;
      const editors = Array.from(w.node.querySelectorAll('.jp-Cell .cm-content'));
      return {
        path: w.context.path,
        factory: w.context && window.jupyterapp.docRegistry.getWidgetFactory
          ? (w.context.sessionContext.kernelPreference || {}) : null,
        hasSession: !!(w.sessionContext && w.sessionContext.session),
        editable: editors.map((e) => e.getAttribute('contenteditable')),
        readOnlyModel: w.model.readOnly,
        meta: w.model.metadata,
      };
    });
    // A kernel would fetch the Pyodide runtime and wheels, and start a worker.
    const bKernelRequests = B.requests.slice(bRequestsBefore)
      .filter((r) => /\/static\/pyodide\/|\.whl|\.wasm|python_stdlib/.test(r.url)).map((r) => r.url);
    const bWorkers = B.consoleLines.filter((l) => l.startsWith('worker:'));
    // Typing into a view-only cell changes nothing.
    const firstEditor = panelB.locator('.jp-Cell .cm-content').first();
    const beforeTyping = await firstEditor.innerText();
    await firstEditor.click();
    await pageB.keyboard.type('zzz');
    await pageB.keyboard.press('Enter');
    const afterTyping = await firstEditor.innerText();
    const readOnlyCells = await panelB.locator('.jp-Cell.jp-mod-readOnly').count();
    if (imagesDir) {
      await pageB.screenshot({ path: path.join(imagesDir, 'share-view-only.png') });
    }
    // Share on a view-only notebook only shows its existing link.
    step('B presses Share (view-only)');
    await panelB.locator('.kiosk-ShareButton').first().click();
    const viewShare = await readShareDialog(pageB, 'dialog-b-view');
    await closeDialog(pageB);

    // B: make a copy, edit it, share it -> another link.
    step('B makes a copy');
    await pageB.locator('[data-kiosk=make-copy]').first().click();
    await pageB.waitForFunction(() => {
      const w = window.jupyterapp.shell.currentWidget;
      return w && w.context && w.context.path.startsWith('Copy of') && !w.model.getMetadata('isSharedNotebook');
    }, null, { timeout: T });
    const panelBc = currentPanel(pageB);
    await panelBc.locator('.jp-Cell').first().waitFor({ timeout: T });
    const copyPath = await pageB.evaluate(() => window.jupyterapp.shell.currentWidget.context.path);
    await typeInCell(pageB, panelBc.locator('.jp-Cell').nth(0), 'print("edited by B")');
    step('B shares the copy');
    await panelBc.locator('.kiosk-ShareButton').first().click();
    const shareB = await readShareDialog(pageB, 'dialog-b-copy');
    await closeDialog(pageB);
    timings.b_copy_shared_s = (Date.now() - t0) / 1000;

    // ---------------- A edits again and saves ----------------
    step('A edits and saves');
    await pageA.bringToFront();
    panelA = currentPanel(pageA);
    await typeInCell(pageA, panelA.locator('.jp-Cell').nth(1), `["A edited", ${MARK_A}]`);
    const savedBefore = await pageA.evaluate(() => window.jupyterapp.shell.currentWidget.node.dataset.kioskSaved || '');
    await pageA.keyboard.press('Control+s');
    // JupyterLab asks to rename an Untitled notebook on its first save: name it.
    const deadline = Date.now() + T;
    for (;;) {
      const saved = await pageA.evaluate(() => window.jupyterapp.shell.currentWidget.node.dataset.kioskSaved || '');
      if (saved && saved !== savedBefore) break;
      if (Date.now() > deadline) throw new Error('A\'s save never reached the kiosk');
      const rename = pageA.locator('.jp-Dialog input[type=text]');
      if (await rename.count()) {
        await rename.fill('my-share.ipynb');
        await pageA.locator('.jp-Dialog .jp-Dialog-button.jp-mod-accept').click();
      }
      await pageA.waitForTimeout(300);
    }
    timings.a_saved_s = (Date.now() - t0) / 1000;

    // My notebooks (A): lists what this browser shared.
    step('A opens My notebooks');
    await pageA.evaluate(() => { void window.jupyterapp.commands.execute('kiosk:my-notebooks'); });
    await pageA.locator('[data-kiosk=my-notebooks]').waitFor({ timeout: 10000 });
    const myNotebooks = await pageA.locator('[data-kiosk=my-notebooks]').innerText();
    await closeDialog(pageA);

    const allowed = [new URL(origin).origin];
    return {
      secure, badge, timings,
      a: { cells: aCells, outputs: aOutputs, path: aPath, meta: aMeta, share: shareA, myNotebooks },
      b: { cells: bCells, outputs: bOutputs, kernels: bKernels, view: bView, kernelRequests: bKernelRequests,
           workers: bWorkers, typingChanged: beforeTyping !== afterTyping, readOnlyCells,
           viewShare, copyPath, share: shareB },
      foreign: [...foreignRequests(A.requests, allowed), ...foreignRequests(B.requests, allowed)],
      failures: [...A.failures, ...B.failures].filter((f) => !f.url.startsWith(origin)),
      requestCounts: { a: A.requests.length, b: B.requests.length },
      console: [...A.consoleLines, ...B.consoleLines].filter((l) => /error|kiosk/i.test(l)).slice(0, 60),
    };
  } catch (err) {
    for (const [who, br] of [['a', A], ['b', B]]) {
      for (const [i, p] of br.context.pages().entries()) {
        await p.screenshot({ path: path.join(outDir, `failure-${who}${i}.png`) }).catch(() => {});
      }
    }
    throw new Error(`step "${lastStep}": ${err && err.stack || err}\nconsole:\n` +
      [...A.consoleLines, ...B.consoleLines].filter((l) => !l.startsWith('debug')).slice(-40).join('\n'));
  } finally {
    await A.close().catch(() => {});
    await B.close().catch(() => {});
  }
});
