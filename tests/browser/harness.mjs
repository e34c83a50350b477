// Shared by every browser scenario: launch Debian's Chromium through playwright-core
// with no network but the kiosk, and log every request the pages, their workers and
// any service worker make. A scenario reads its parameters from argv[2] (JSON) and
// prints one JSON object as its last stdout line; pytest asserts on it.
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const params = JSON.parse(process.argv[2] || '{}');

// hosts: names that resolve to 127.0.0.1 (e.g. "kiosk.test"); everything else fails to
// resolve, which both simulates a classroom with no internet and exposes any attempt
// to leave it in the request log.
export async function launch({ hosts = ['kiosk.test'], extraArgs = [], ignoreHTTPSErrors = false, locale = undefined } = {}) {
  const rules = [...hosts.map((h) => `MAP ${h} 127.0.0.1`), 'MAP * ~NOTFOUND'].join(', ');
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kiosk-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    ignoreHTTPSErrors,
    viewport: { width: 1280, height: 900 },
    ...(locale ? { locale } : {}),
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--disable-dev-shm-usage', `--host-resolver-rules=${rules}`, ...extraArgs,
    ],
  });
  const requests = [];
  const failures = [];
  const consoleLines = [];
  const record = (r, where) => requests.push({ url: r.url(), method: r.method(), type: r.resourceType(), where });
  context.on('request', (r) => record(r, r.serviceWorker() ? 'service-worker' : 'page'));
  context.on('requestfailed', (r) => failures.push({ url: r.url(), error: r.failure()?.errorText }));
  const watchPage = (page) => {
    page.on('console', (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => consoleLines.push(`pageerror: ${e.message}`));
    page.on('worker', (w) => consoleLines.push(`worker: ${w.url()}`));
  };
  context.on('page', watchPage);
  for (const p of context.pages()) watchPage(p);
  const close = async () => {
    await context.close();
    fs.rmSync(userDataDir, { recursive: true, force: true });
  };
  return { context, requests, failures, consoleLines, close };
}

// Requests whose origin is not one of the allowed origins (data:, blob: are local).
export function foreignRequests(requests, allowedOrigins) {
  return requests.filter(({ url }) => {
    if (url.startsWith('data:') || url.startsWith('blob:')) return false;
    try { return !allowedOrigins.includes(new URL(url).origin); } catch { return true; }
  });
}

export function finish(result) {
  process.stdout.write('\n' + JSON.stringify(result) + '\n');
}

// Run a scenario body, always printing a JSON result (with the error, if any).
export async function scenario(body) {
  try {
    finish(await body());
  } catch (err) {
    finish({ error: String(err && err.stack || err) });
    process.exitCode = 1;
  }
}

// Open JupyterLab at `origin`, wait for the kiosk's extension, create a new notebook and
// wait until its kernel is idle (a student's first minute). Returns the page.
export async function openNewNotebook(context, origin, timeoutMs) {
  const page = context.pages()[0] || await context.newPage();
  await page.goto(`${origin}/lab/index.html`, { waitUntil: 'load' });
  await page.waitForFunction(() => window.jupyterapp && document.body && document.body.dataset.kioskExtension && document.querySelector('#jp-main-dock-panel'), null, { timeout: timeoutMs });
  await page.evaluate(() => { void window.jupyterapp.commands.execute('notebook:create-new', { kernelName: 'python' }); });
  await page.waitForFunction(() => {
    const w = window.jupyterapp.shell.currentWidget;
    const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
    return k && k.status === 'idle';
  }, null, { timeout: timeoutMs, polling: 250 });
  return page;
}
