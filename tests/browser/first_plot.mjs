// A student's first plot in a fresh browser: open a new notebook, wait for the kernel,
// run one cell that imports matplotlib and draws, and report how long that cell took
// and everything it printed (a font-cache warning would be among the outputs).
// params: { origin, timeoutMs }
import { launch, openNewNotebook, params, scenario } from './harness.mjs';

const T = params.timeoutMs || 240000;
const PLOT = params.code ? [params.code] : [
  'import matplotlib.pyplot as plt',
  'plt.plot([1, 2, 3], [2, 4, 3])',
  'plt.show()',
].join('\n');

scenario(async () => {
  const b = await launch();
  try {
    const page = await openNewNotebook(b.context, params.origin, T);
    const result = await page.evaluate(async (code) => {
      const w = window.jupyterapp.shell.currentWidget;
      const kernel = w.sessionContext.session.kernel;
      const outputs = [];
      const t0 = performance.now();
      let firstOutputMs = null;
      const future = kernel.requestExecute({ code, store_history: true });
      future.onIOPub = (msg) => {
        const type = msg.header.msg_type;
        if (['stream', 'display_data', 'execute_result', 'error'].includes(type)) {
          if (firstOutputMs === null) firstOutputMs = performance.now() - t0;
          const c = msg.content;
          outputs.push({
            type,
            text: c.text || (c.data && c.data['text/plain']) || c.evalue || '',
            mimes: c.data ? Object.keys(c.data) : [],
          });
        }
      };
      const reply = await future.done;
      return { status: reply.content.status, cellMs: performance.now() - t0, firstOutputMs, outputs };
    }, PLOT);
    return result;
  } finally {
    await b.close();
  }
});
