// The whole student flow in one browser engine, driven by puppeteer-core (Chromium over
// CDP, Firefox ESR over WebDriver BiDi): open the lesson from "Start coding", run a cell,
// numpy/pandas/matplotlib with a plot, input(), a file written by Python shows in the file
// browser and one from the file browser is read by Python, time.sleep, Share, and the
// shared link in a fresh browser context.
// Params: { origin, browser: 'firefox'|'chrome', viewport: {width, height}, timeoutMs }
// On failure the error carries the page's last console lines; KIOSK_BROWSER_LOG=1 prints
// them all to stderr as they come.
import { firstCells, lastCells, runInPage } from './kernel_run.mjs';
import puppeteer from 'puppeteer-core';
import { params, scenario } from './harness.mjs';

const T = params.timeoutMs || 240000;
const started = Date.now();
function step(what) {
  process.stderr.write(`[student_flow ${params.browser} ${((Date.now() - started) / 1000).toFixed(1)}s] ${what}\n`);
}

async function launchBrowser() {
  const host = new URL(params.origin).hostname;
  if (params.browser === 'firefox') {
    return puppeteer.launch({
      browser: 'firefox',
      executablePath: process.env.FIREFOX || '/usr/bin/firefox-esr',
      headless: true,
      protocolTimeout: T,
      extraPrefsFirefox: {
        // The test name resolves to loopback; nothing else is reachable.
        'network.dns.localDomains': host,
        'network.proxy.type': 0,
        'browser.shell.checkDefaultBrowser': false,
      },
    });
  }
  return puppeteer.launch({
    browser: 'chrome',
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    protocolTimeout: T,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-dev-shm-usage',
      `--host-resolver-rules=MAP ${host} 127.0.0.1, MAP * ~NOTFOUND`],
  });
}

// Run code in the current notebook's kernel as a cell would (kernel_run.mjs).
async function run(page, code, answers = []) {
  return page.evaluate(runInPage, code, answers);
}

scenario(async () => {
  const browser = await launchBrowser();
  const out = { browser: params.browser, version: await browser.version() };
  const consoleLines = [];
  try {
    // A fresh tab: Firefox's first puppeteer tab never gets focus.
    const page = await browser.newPage();
    page.on('console', async (m) => {
      // An error object prints as "JSHandle@error": ask the page for its text.
      let line = m.text();
      if (line.includes('JSHandle@')) {
        const parts = await Promise.all(m.args().map((a) => a.evaluate(
          (v) => (v instanceof Error ? `${v.name}: ${v.message}\n${v.stack}` : String(v))).catch(() => '?')));
        line = parts.join(' ');
      }
      consoleLines.push(`${m.type()}: ${line}`);
      if (process.env.KIOSK_BROWSER_LOG) step(`console ${m.type()}: ${line}`);
    });
    page.on('pageerror', (e) => consoleLines.push(`pageerror: ${e.message}`));
    await page.setViewport(params.viewport);
    step('landing → Start coding');
    await page.goto(`${params.origin}/`, { waitUntil: 'load' });
    await Promise.all([
      page.waitForNavigation({ waitUntil: 'load', timeout: T }),
      page.click('a.start'),
    ]);
    await page.waitForFunction(() => document.body && document.body.dataset.kioskLesson, { timeout: T });
    out.secure = await page.evaluate(() => window.isSecureContext);
    out.lesson = await page.evaluate(() => document.body.dataset.kioskLesson);
    out.firstCellWidth = await page.evaluate(() => {
      const cell = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell');
      return cell ? cell.getBoundingClientRect().width : 0;
    });
    out.scrollWidth = await page.evaluate(() => document.documentElement.scrollWidth);

    step('a new notebook with a kernel');
    await page.evaluate(() => { void window.jupyterapp.commands.execute('notebook:create-new', { kernelName: 'python' }); });
    await page.waitForFunction(() => {
      const w = window.jupyterapp.shell.currentWidget;
      const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
      return k && k.status === 'idle';
    }, { timeout: T, polling: 250 });

    step('cells');
    const cell = (code, answers = []) => run(page, code, answers);
    await firstCells(cell, out);
    await page.waitForFunction(async () => {
      try {
        const m = await window.jupyterapp.serviceManager.contents.get('from_python.txt', { content: true });
        return m.content === 'made by Python';
      } catch { return false; }
    }, { timeout: 90000, polling: 500 });
    out.fileBrowserHasPythonFile = await page.evaluate(async () => {
      await window.jupyterapp.commands.execute('filebrowser:refresh').catch(() => {});
      const listing = await window.jupyterapp.serviceManager.contents.get('', { content: true });
      return listing.content.some((f) => f.name === 'from_python.txt');
    });
    await page.evaluate(() => window.jupyterapp.serviceManager.contents.save('from_browser.txt',
      { type: 'file', format: 'text', content: 'made in the file browser' }));
    await lastCells(cell, out);

    // A secure origin's page is controlled by the kiosk's service worker by now; the
    // relay's stand-in (plain HTTP) has no controller.
    out.serviceWorker = await page.evaluate(() => !!(navigator.serviceWorker && navigator.serviceWorker.controller));
    step('Share');
    await page.evaluate(() => { void window.jupyterapp.commands.execute('kiosk:share'); });
    await page.waitForSelector('.jp-Dialog [data-kiosk=link]', { timeout: T });
    out.link = await page.$eval('.jp-Dialog [data-kiosk=link]', (el) => el.value);
    out.code = await page.$eval('.jp-Dialog [data-kiosk=code]', (el) => el.textContent.trim());
    await page.click('.jp-Dialog .jp-Dialog-button.jp-mod-accept');

    step('the shared link in a fresh context');
    const fresh = await browser.createBrowserContext();
    const other = await fresh.newPage();
    await other.setViewport(params.viewport);
    await other.goto(out.link, { waitUntil: 'load' });
    await other.waitForFunction(() => document.body && document.body.dataset.kioskOpened, { timeout: T });
    await other.waitForSelector('[data-kiosk=view-only-banner]', { timeout: T });
    out.opened = await other.evaluate(() => document.body.dataset.kioskOpened);
    out.sharedOutputs = await other.evaluate(() => Array.from(document.querySelectorAll(
      '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output')).map((o) => o.textContent));
    await fresh.close();
    return out;
  } catch (err) {
    // Say how far the flow got and what the page logged: both are evidence.
    throw new Error(`${err && err.stack || err}\nso far: ${JSON.stringify(out)}\nconsole:\n${consoleLines.slice(-40).join('\n')}`);
  } finally {
    await browser.close();
  }
});
