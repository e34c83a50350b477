// Files, input() and downloads for a kernel on a non-secure origin, through the kiosk.
// params: { url, cells: [python sources], timeoutMs, answers }; types each of `answers`
// (default ['Ada']) into the notebook's input box, in order, as input()/getpass() ask.
import { launch, scenario, foreignRequests, params } from './harness.mjs';

const timeoutMs = params.timeoutMs || 240000;
const CELLS = params.cells;
const ANSWERS = params.answers || ['Ada'];

scenario(async () => {
  const b = await launch({ hosts: ['kiosk.test', 'localhost'], ignoreHTTPSErrors: !!params.trustTestCertificate });
  try {
    const page = await b.context.newPage();
    const origin = new URL(params.url).origin;
    await page.goto(`${params.url}/lab/index.html`, { waitUntil: 'domcontentloaded' });
    await page.waitForFunction(() => window.jupyterapp && window.jupyterapp.serviceManager,
      null, { timeout: 120000 });
    await page.waitForSelector('.jp-FileBrowser', { timeout: 120000 });
    const relay = await page.evaluate(() => !!(navigator.serviceWorker && navigator.serviceWorker.kioskRelay));
    // Upload through the file browser's Upload button.
    const chooser = page.waitForEvent('filechooser', { timeout: 30000 });
    await page.click('.jp-FileBrowser [data-command="filebrowser:upload"], .jp-FileBrowser .jp-id-upload');
    await (await chooser).setFiles({ name: 'mydata.csv', mimeType: 'text/csv',
      buffer: Buffer.from('a,b\n1,2\n3,4\n') });
    await page.waitForSelector('.jp-DirListing-item[title*="mydata.csv"], .jp-DirListing-itemText:has-text("mydata.csv")',
      { timeout: 30000 });
    const nb = { cells: CELLS.map((src) => ({ cell_type: 'code', source: src, metadata: {}, outputs: [], execution_count: null })),
      metadata: { kernelspec: { name: 'python', display_name: 'Python (Pyodide)' } }, nbformat: 4, nbformat_minor: 5 };
    await page.evaluate(async (content) => {
      await window.jupyterapp.serviceManager.contents.save('relay.ipynb', { type: 'notebook', format: 'json', content });
      await window.jupyterapp.commands.execute('docmanager:open', { path: 'relay.ipynb' });
    }, nb);
    await page.waitForFunction(() => {
      const w = window.jupyterapp.shell.currentWidget;
      const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
      return k && k.status === 'idle';
    }, null, { timeout: timeoutMs, polling: 500 });
    await page.waitForTimeout(1500); // the extension's silent kernel set-up runs first
    page.on('crash', () => process.stderr.write('PAGE CRASHED\n'));
    page.on('close', () => process.stderr.write('PAGE CLOSED\n'));
    await page.evaluate(() => { void window.jupyterapp.commands.execute('notebook:run-all-cells'); });
    const stdinTypes = [];
    for (const answer of ANSWERS) {
      const stdin = await page.waitForSelector('.jp-Stdin-input', { timeout: timeoutMs });
      stdinTypes.push(await stdin.evaluate((el) => el.type));  // 'password' for getpass()
      await stdin.fill(answer);
      await stdin.press('Enter');
      // The answered box is replaced by its text; the next prompt gets a new one.
      await page.waitForFunction((el) => !el.isConnected, stdin, { timeout: 30000, polling: 100 });
    }
    await page.waitForFunction(() => {
      const w = window.jupyterapp.shell.currentWidget;
      const cells = w.content.widgets.filter((c) => c.model.type === 'code');
      return cells.every((c) => c.model.executionCount) && w.sessionContext.session.kernel.status === 'idle';
    }, null, { timeout: timeoutMs, polling: 500 });
    const outputs = await page.evaluate(() => {
      const w = window.jupyterapp.shell.currentWidget;
      return w.content.widgets.map((c) => {
        const out = [];
        for (let i = 0; i < c.model.outputs.length; i++) {
          const o = c.model.outputs.get(i).toJSON();
          out.push(o.text ? [].concat(o.text).join('') : (o.ename ? `${o.ename}: ${o.evalue}` : JSON.stringify(o.data || {})));
        }
        return out.join('');
      });
    });
    const written = await page.evaluate(async () => {
      try {
        const m = await window.jupyterapp.serviceManager.contents.get('out.csv', { content: true });
        return { content: m.content, format: m.format };
      } catch (e) { return null; }
    });
    await page.evaluate(() => window.jupyterapp.commands.execute('filebrowser:refresh'));
    await page.waitForTimeout(500);
    const listed = await page.evaluate(() => [...document.querySelectorAll('.jp-DirListing-itemText')].map((e) => e.textContent));
    return { secure: await page.evaluate(() => window.isSecureContext), relay,
      fallback: await page.evaluate(() => !!window.kioskRelayFallback), outputs, written, stdinTypes,
      listed, foreign: foreignRequests(b.requests, [origin]), console: b.consoleLines.slice(-40) };
  } finally {
    await b.close();
  }
});
