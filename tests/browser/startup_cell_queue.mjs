// A site whose extension installs packages in every new kernel (Jupyter Everywhere sends
// "%pip install -y pyodide-http requests"), and a student who runs a cell while the kernel
// is still starting. Offline, JupyterLite drops the student's queued request if the site's
// cell fails; with the packages in the bundle both answer. The init script plays the
// site's extension. Params: { url, path, timeoutMs }
import { launch, scenario, foreignRequests, params } from './harness.mjs';

const timeoutMs = params.timeoutMs || 240000;

scenario(async () => {
  const { context, requests, close } = await launch({ hosts: ['kiosk.test'] });
  try {
    const page = await context.newPage();
    // As Jupyter Everywhere does: once the notebook's session is ready, its own kernel
    // connection gets the silent install cell (so a cell the student runs queues behind it).
    await page.addInitScript(() => {
      const timer = setInterval(() => {
        const widget = window.jupyterapp && window.jupyterapp.shell.currentWidget;
        const context = widget && widget.sessionContext;
        if (!context) return;
        clearInterval(timer);
        void context.ready.then(() => {
          const future = context.session.kernel.requestExecute({ silent: true,
            store_history: false, stop_on_error: false, allow_stdin: false,
            code: '%pip install -y pyodide-http requests\nimport pyodide_http\npyodide_http.patch_all()' });
          window.siteStartup = 'sent';
          future.done.then((reply) => { window.siteStartup = reply.content.status; });
        });
      }, 20);
    });
    const origin = new URL(params.url).origin;
    await page.goto(`${params.url}/lab/index.html?path=${encodeURIComponent(params.path)}`,
      { waitUntil: 'domcontentloaded' });
    await page.waitForSelector('.jp-Notebook .jp-Cell .cm-content', { timeout: 120000 });
    // Run the cell right away, as a student does: the kernel is still starting.
    await page.click('.jp-Notebook .jp-Cell .cm-content');
    await page.waitForFunction(() => window.siteStartup, null, { timeout: 120000, polling: 50 });
    const kernelAtRun = await page.evaluate(() => {
      const k = window.jupyterapp.shell.currentWidget.sessionContext.session?.kernel;
      return k ? k.status : 'none';
    });
    const siteAtRun = await page.evaluate(() => window.siteStartup || 'not sent');
    await page.keyboard.press('Shift+Enter');
    const started = Date.now();
    let outputs = [];
    try {
      await page.waitForFunction(() => document.querySelector('.jp-OutputArea-output'),
        null, { timeout: timeoutMs, polling: 500 });
      outputs = await page.evaluate(() => [...document.querySelectorAll('.jp-OutputArea-output')]
        .map((e) => e.textContent));
    } catch (err) {
      outputs = [`no output: ${String(err).slice(0, 80)}`];
    }
    return { kernelAtRun, siteAtRun, siteStartup: await page.evaluate(() => window.siteStartup),
             outputs, ms: Date.now() - started, foreign: foreignRequests(requests, [origin]) };
  } finally {
    await close();
  }
});
