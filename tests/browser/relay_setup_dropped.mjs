// A site's own start-up cell fails in a new kernel (as Jupyter Everywhere's did offline)
// while the kiosk's silent kernel set-up (the extension's) waits behind it. JupyterLite (0.6+) drops every
// request queued behind a failed one, with no reply: the set-up must still run.
// Params: { url, timeoutMs }
import { launch, scenario, foreignRequests, params } from './harness.mjs';

const timeoutMs = params.timeoutMs || 240000;

scenario(async () => {
  const { context, requests, consoleLines, close } = await launch({ hosts: ['kiosk.test'] });
  try {
    const page = await context.newPage();
    // Plays the site's extension: the first kernel gets a silent cell that fails, sent
    // before the kiosk's set-up (JupyterLite sets window.jupyterapp before the app starts,
    // so this handler is connected before the kiosk extension's plugin activates).
    await page.addInitScript(() => {
      let app;
      Object.defineProperty(window, 'jupyterapp', {
        configurable: true,
        get() { return app; },
        set(value) {
          app = value;
          const kernels = value.serviceManager.kernels;
          const sent = new Set();
          const fail = () => {
            for (const model of kernels.running()) {
              if (sent.has(model.id)) continue;
              sent.add(model.id);
              const connection = kernels.connectTo({ model, handleComms: false });
              const future = connection.requestExecute({ silent: true, store_history: false,
                stop_on_error: false, code: "raise RuntimeError('a start-up cell that fails offline')" });
              window.siteStartup = 'sent';
              future.done.then((reply) => { window.siteStartup = reply.content.status; });
            }
          };
          kernels.runningChanged.connect(fail);
          fail();
        },
      });
    });
    const origin = new URL(params.url).origin;
    await page.goto(`${params.url}/lab/index.html`, { waitUntil: 'domcontentloaded' });
    await page.waitForFunction(() => window.jupyterapp && window.jupyterapp.serviceManager,
      null, { timeout: 120000 });
    await page.waitForSelector('.jp-FileBrowser', { timeout: 120000 });
    await page.evaluate(async () => {
      const content = { cells: [], metadata: { kernelspec: { name: 'python', display_name: 'Python (Pyodide)' } },
        nbformat: 4, nbformat_minor: 5 };
      await window.jupyterapp.serviceManager.contents.save('startup.ipynb', { type: 'notebook', format: 'json', content });
      await window.jupyterapp.commands.execute('docmanager:open', { path: 'startup.ipynb' });
    });
    await page.waitForFunction(() => window.siteStartup === 'error', null,
      { timeout: timeoutMs, polling: 500 });
    // Ask the kernel, through the notebook's own connection, what time.sleep is now.
    const probe = await page.evaluate(async () => {
      const deadline = Date.now() + 30000;
      let text = '';
      while (Date.now() < deadline) {
        const w = window.jupyterapp.shell.currentWidget;
        const kernel = w.sessionContext.session.kernel;
        const out = [];
        const future = kernel.requestExecute({ code: 'import time\nprint(time.sleep.__qualname__)', store_history: false });
        future.onIOPub = (msg) => { if (msg.header.msg_type === 'stream') out.push(msg.content.text); };
        await future.done;
        text = out.join('').trim();
        if (text !== 'sleep') break;  // the kiosk's set-up ran
        await new Promise((r) => setTimeout(r, 1000));
      }
      return text;
    });
    return { siteStartup: await page.evaluate(() => window.siteStartup), sleep: probe,
             foreign: foreignRequests(requests, [origin]),
             errors: consoleLines.filter((l) => /^pageerror/.test(l)).slice(0, 5) };
  } finally {
    await close();
  }
});
