// The science kernel's lighter start (issue 20, "send less"): open a new notebook on a
// plain-HTTP origin, wait for the kernel, then ask it, in order: a first cell, two
// completions (an attribute of a variable; a name only jedi knows, from a module the
// code imports but the kernel has not), `import sqlite3` and `import ssl` in cells, and
// a matplotlib figure saved as PDF (the only use of fontTools); `%history` (IPython's
// history, which imported a stand-in sqlite3) after the first cell.
// Reports each answer and every wheel the page or its workers fetched, marked with the
// step it was fetched before.
// params: { origin, timeoutMs } (plain HTTP, or localhost: a secure context with
// JupyterLite's service worker)
import { launch, openNewNotebook, params, scenario } from './harness.mjs';

const T = params.timeoutMs || 240000;

scenario(async () => {
  const b = await launch({ hosts: ['kiosk.test', 'localhost'] });
  try {
    const wheels = [];
    let step = 'start';
    b.context.on('request', (r) => {
      const name = new URL(r.url()).pathname.split('/').pop();
      if (/\.(whl|zip)$/.test(name)) wheels.push({ name, before: step });
    });
    const page = await openNewNotebook(b.context, params.origin, T);

    const run = (code) => page.evaluate(async (src) => {
      const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
      const texts = [];
      const future = kernel.requestExecute({ code: src, store_history: true });
      future.onIOPub = (msg) => {
        const c = msg.content;
        if (msg.header.msg_type === 'stream') texts.push(c.text);
        if (msg.header.msg_type === 'error') texts.push(`${c.ename}: ${c.evalue}`);
        if (msg.header.msg_type === 'execute_result') texts.push(c.data['text/plain']);
      };
      const reply = await future.done;
      return { status: reply.content.status, text: texts.join('') };
    }, code);
    const complete = (code) => page.evaluate(async (src) => {
      const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
      const t0 = performance.now();
      const reply = await kernel.requestComplete({ code: src, cursor_pos: src.length });
      return { status: reply.content.status, matches: reply.content.matches, ms: performance.now() - t0 };
    }, code);

    step = 'first cell';
    const first = await run('word = "kiosk"\nprint(len(word))');
    step = 'history cell';
    const history = await run('%history');
    step = 'first completion';
    const attribute = await complete('word.upp');
    step = 'second completion';
    const jediOnly = await complete('import colorsys\ncolorsys.rgb_to_h');
    step = 'sqlite3 cell';
    const sqlite = await run('import sqlite3\ncon = sqlite3.connect(":memory:")\nprint(con.execute("select 41 + 1").fetchone()[0])');
    step = 'ssl cell';
    const ssl = await run('import ssl\nprint(ssl.OPENSSL_VERSION.split()[0])');
    step = 'pdf cell';
    const pdf = await run('import matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.savefig("plot.pdf")\nplt.close()\nprint(open("plot.pdf", "rb").read(5))');
    step = 'end';
    const secure = await page.evaluate(() => window.isSecureContext);
    return { secure, first, history, attribute, jediOnly, sqlite, ssl, pdf, wheels, failures: b.failures };
  } finally {
    await b.close();
  }
});
