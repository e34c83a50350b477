// Open the bundle's welcome notebook through a running kiosk on a non-secure origin,
// run every cell, and report the outputs, the images and every request (page, its
// workers, any service worker) with what went over the wire.
// params: { url, path, expect: [strings], timeoutMs }
import { launch, scenario, foreignRequests, params } from './harness.mjs';

const timeoutMs = params.timeoutMs || 240000;

scenario(async () => {
  const { context, requests, failures, consoleLines, close } = await launch({ hosts: ['kiosk.test'] });
  const transfers = [];
  context.on('requestfinished', async (r) => {
    try {
      const resp = await r.response();
      const sizes = await r.sizes();
      // Chromium reports a dedicated worker's requests (Pyodide, the wheels) with
      // the page's; a service worker's separately.
      const where = r.serviceWorker() ? 'service-worker' : 'page-or-worker';
      transfers.push({
        url: r.url(), status: resp ? resp.status() : 0, where,
        encoding: resp ? (await resp.headerValue('content-encoding')) || '' : '',
        bodyBytes: sizes.responseBodySize, headerBytes: sizes.responseHeadersSize,
      });
    } catch (err) {
      transfers.push({ url: r.url(), error: String(err) });
    }
  });
  try {
    const page = await context.newPage();
    const origin = new URL(params.url).origin;
    const started = Date.now();
    await page.goto(`${params.url}/lab/index.html?path=${encodeURIComponent(params.path)}`,
      { waitUntil: 'domcontentloaded' });
    await page.waitForFunction(() => window.jupyterapp && document.querySelector('.jp-Notebook'),
      null, { timeout: 120000 });
    const secure = await page.evaluate(() => window.isSecureContext);
    // Wait until the kernel is up, then run everything.
    await page.waitForFunction(() => {
      const w = window.jupyterapp.shell.currentWidget;
      const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
      return k && k.status === 'idle';
    }, null, { timeout: timeoutMs });
    const kernelReadyMs = Date.now() - started;
    await page.evaluate(() => window.jupyterapp.commands.execute('notebook:run-all-cells'));
    // Done when every code cell has an execution count and the kernel is idle again.
    await page.waitForFunction(() => {
      const w = window.jupyterapp.shell.currentWidget;
      const cells = w.content.widgets.filter((c) => c.model.type === 'code');
      const k = w.sessionContext.session.kernel;
      return cells.every((c) => c.model.executionCount) && k.status === 'idle';
    }, null, { timeout: timeoutMs, polling: 500 });
    const doneMs = Date.now() - started;
    const cells = await page.evaluate(() => {
      const w = window.jupyterapp.shell.currentWidget;
      return w.content.widgets.filter((c) => c.model.type === 'code').map((c) => {
        const outputs = [];
        for (let i = 0; i < c.model.outputs.length; i++) {
          const o = c.model.outputs.get(i).toJSON();
          outputs.push({
            type: o.output_type,
            text: o.text ? [].concat(o.text).join('') : (o.data && o.data['text/plain'] ? [].concat(o.data['text/plain']).join('') : ''),
            mimes: o.data ? Object.keys(o.data) : [],
            ename: o.ename || null, evalue: o.evalue || null,
          });
        }
        return { count: c.model.executionCount, outputs };
      });
    });
    const images = await page.evaluate(() =>
      [...document.querySelectorAll('.jp-OutputArea-output img')].map((i) => ({
        src: i.src.slice(0, 22), width: i.naturalWidth, height: i.naturalHeight })));
    await page.waitForTimeout(500);
    return {
      secure, kernelReadyMs, doneMs, cells, images,
      foreign: foreignRequests(requests, [origin]),
      failures, requests: requests.length, transfers,
      console: consoleLines.slice(-80),
    };
  } catch (err) {
    // Keep the evidence: what the page said and what it asked for.
    console.error(consoleLines.slice(-80).join('\n'));
    return { error: String(err && err.stack || err), console: consoleLines.slice(-80),
             foreign: foreignRequests(requests, [new URL(params.url).origin]), failures,
             transfers };
  } finally {
    await close();
  }
});
