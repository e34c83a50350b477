// The student flow in WebKitGTK (Safari's engine), driven by selenium-webdriver's plain
// W3C client against Debian's WebKitWebDriver, which pytest starts (two of them: one
// driver serves one session, and the shared link must open in a fresh browser).
// MiniBrowser reaches the kiosk only through webkit_proxy.mjs (WebKit has no resolver
// override); any other request is refused there and reported as `foreign`.
// Same steps and result fields as student_flow.mjs; the differences are listed in
// tests/test_browser_matrix.py.
// Params: { origin, viewport: {width, height}, drivers: [url, url], timeoutMs }
import { firstCells, lastCells, runInPage } from './kernel_run.mjs';
import { WebDriver, By } from 'selenium-webdriver';
import { Executor, HttpClient } from 'selenium-webdriver/http/index.js';
import { params, scenario } from './harness.mjs';
import { startProxy } from './webkit_proxy.mjs';

const T = params.timeoutMs || 240000;
const MINIBROWSER = process.env.MINIBROWSER || '/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser';
const started = Date.now();
function step(what) {
  process.stderr.write(`[webkit_student_flow ${((Date.now() - started) / 1000).toFixed(1)}s] ${what}\n`);
}

// A session straight on the driver's URL: no Builder, so selenium never looks for
// (or downloads) a browser or driver of its own.
async function session(driverUrl, proxyPort) {
  const caps = {
    browserName: 'MiniBrowser',
    'webkitgtk:browserOptions': { binary: MINIBROWSER, args: ['--automation'] },
    proxy: { proxyType: 'manual', httpProxy: `127.0.0.1:${proxyPort}`, sslProxy: `127.0.0.1:${proxyPort}` },
    timeouts: { script: T, pageLoad: T, implicit: 0 },
  };
  const driver = await WebDriver.createSession(new Executor(new HttpClient(driverUrl)), caps);
  await driver.manage().window().setRect({ x: 0, y: 0, ...params.viewport });
  return driver;
}

// Poll a predicate in the page (it may be navigating: errors count as "not yet").
async function waitFor(driver, fn, what, timeout = T, ...args) {
  const deadline = Date.now() + timeout;
  let last;
  while (Date.now() < deadline) {
    try {
      if (await driver.executeScript(fn, ...args)) return;
    } catch (e) { last = e; }
    await new Promise((r) => setTimeout(r, 250));
  }
  const where = await driver.executeScript(() => ({
    url: location.href, title: document.title, secure: window.isSecureContext,
    body: document.body ? document.body.innerText.slice(0, 400) : null,
  })).catch((e) => String(e));
  throw new Error(`timed out after ${timeout} ms waiting for ${what}${last ? `: ${last}` : ''}; page: ${JSON.stringify(where)}`);
}

// Run code in the current notebook's kernel as a cell would (kernel_run.mjs).
async function run(driver, code, answers = []) {
  return driver.executeScript(runInPage, code, answers);
}

scenario(async () => {
  const proxy = await startProxy(params.origin);
  const drivers = [];
  const out = { browser: 'webkit' };
  try {
    const page = await session(params.drivers[0], proxy.port);
    drivers.push(page);
    const caps = await page.getCapabilities();
    out.version = `${caps.get('browserName')} ${caps.get('browserVersion')}`;
    step(`${out.version}: landing → Start coding`);
    await page.get(`${params.origin}/`);
    out.userAgent = await page.executeScript(() => navigator.userAgent);
    await page.findElement(By.css('a.start')).click();
    await waitFor(page, () => document.body && document.body.dataset.kioskLesson, 'the lesson');
    out.secure = await page.executeScript(() => window.isSecureContext);
    out.lesson = await page.executeScript(() => document.body.dataset.kioskLesson);
    out.innerWidth = await page.executeScript(() => window.innerWidth);
    out.firstCellWidth = await page.executeScript(() => {
      const cell = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell');
      return cell ? cell.getBoundingClientRect().width : 0;
    });
    out.scrollWidth = await page.executeScript(() => document.documentElement.scrollWidth);

    step('a new notebook with a kernel');
    await page.executeScript(() => { void window.jupyterapp.commands.execute('notebook:create-new', { kernelName: 'python' }); });
    await waitFor(page, () => {
      const w = window.jupyterapp.shell.currentWidget;
      const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
      return k && k.status === 'idle';
    }, 'an idle kernel');

    step('cells');
    const cell = (code, answers = []) => run(page, code, answers);
    await firstCells(cell, out);
    // Recorded, not thrown: the Share steps still run (pytest asserts on the whole result).
    out.fileFromPythonSeen = await waitFor(page, async () => {
      try {
        const m = await window.jupyterapp.serviceManager.contents.get('from_python.txt', { content: true });
        return m.content === 'made by Python';
      } catch { return false; }
    }, 'the file from Python', 15000).then(() => true, () => false);
    out.fileBrowserHasPythonFile = await page.executeScript(async () => {
      await window.jupyterapp.commands.execute('filebrowser:refresh').catch(() => {});
      const listing = await window.jupyterapp.serviceManager.contents.get('', { content: true });
      return listing.content.some((f) => f.name === 'from_python.txt');
    });
    await page.executeScript(async () => {
      await window.jupyterapp.serviceManager.contents.save('from_browser.txt',
        { type: 'file', format: 'text', content: 'made in the file browser' });
    });
    await lastCells(cell, out);

    out.serviceWorker = await page.executeScript(() => !!(navigator.serviceWorker && navigator.serviceWorker.controller));
    step('Share');
    await page.executeScript(() => { void window.jupyterapp.commands.execute('kiosk:share'); });
    await waitFor(page, () => document.querySelector('.jp-Dialog [data-kiosk=link]'), 'the Share dialog');
    out.link = await page.executeScript(() => document.querySelector('.jp-Dialog [data-kiosk=link]').value);
    out.code = await page.executeScript(() => document.querySelector('.jp-Dialog [data-kiosk=code]').textContent.trim());
    await page.findElement(By.css('.jp-Dialog .jp-Dialog-button.jp-mod-accept')).click();

    step('the shared link in a fresh browser (a second driver)');
    const other = await session(params.drivers[1], proxy.port);
    drivers.push(other);
    await other.get(out.link);
    await waitFor(other, () => document.body && document.body.dataset.kioskOpened
      && document.querySelector('[data-kiosk=view-only-banner]'), 'the shared notebook');
    out.opened = await other.executeScript(() => document.body.dataset.kioskOpened);
    out.sharedOutputs = await other.executeScript(() => Array.from(document.querySelectorAll(
      '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output')).map((o) => o.textContent));
    out.forwarded = proxy.forwarded();
    out.kernelPosts = proxy.kernelPosts;
    out.foreign = proxy.foreign;
    step('done');
    return out;
  } catch (err) {
    // Say how far the flow got: the steps before the failure are results too.
    throw new Error(`${err && err.stack || err}\nso far: ${JSON.stringify(out)}`);
  } finally {
    for (const d of drivers) await d.quit().catch(() => {});
    await proxy.close();
  }
});
