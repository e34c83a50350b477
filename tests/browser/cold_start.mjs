// Records a browser's cold start of a notebook through the kiosk: every request in
// order, the Accept-Encoding the browser really sent, and the bytes that came back.
// params: { url, path, timeoutMs }
import { launch, scenario, params } from './harness.mjs';

const timeoutMs = params.timeoutMs || 240000;

scenario(async () => {
  const b = await launch({ hosts: [new URL(params.url).hostname] });
  const order = [];
  b.context.on('request', (r) => order.push(r));
  try {
    const page = await b.context.newPage();
    await page.goto(`${params.url}/lab/index.html?path=${encodeURIComponent(params.path)}`,
      { waitUntil: 'domcontentloaded' });
    await page.waitForFunction(() => {
      const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
      const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
      return k && k.status === 'idle';
    }, null, { timeout: timeoutMs, polling: 500 });
    await page.evaluate(() => window.jupyterapp.commands.execute('notebook:run-all-cells'));
    await page.waitForFunction(() => {
      const w = window.jupyterapp.shell.currentWidget;
      const cells = w.content.widgets.filter((c) => c.model.type === 'code');
      return cells.every((c) => c.model.executionCount) &&
        w.sessionContext.session.kernel.status === 'idle';
    }, null, { timeout: timeoutMs, polling: 500 });
    await page.waitForTimeout(1000);
    const requests = [];
    for (const r of order) {
      const url = new URL(r.url());
      if (!url.protocol.startsWith('http')) continue;
      const headers = await r.allHeaders();
      const resp = await r.response();
      const sizes = resp ? await r.sizes() : { responseBodySize: 0 };
      requests.push({
        path: url.pathname + url.search, method: r.method(),
        accept_encoding: headers['accept-encoding'] || '',
        status: resp ? resp.status() : 0,
        encoding: resp ? (await resp.headerValue('content-encoding')) || '' : '',
        body_bytes: sizes.responseBodySize,
      });
    }
    return { requests };
  } finally {
    await b.close();
  }
});
