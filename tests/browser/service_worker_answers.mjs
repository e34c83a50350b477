// The kiosk's service worker keeps the answers of one tab's kernels apart. In a lab page
// on localhost (a secure context, so JupyterLite registers /service-worker.js), this
// page plays the kernels and the page's answerer on BroadcastChannel('/sw-api.v1'):
// two file calls of one browsing context, the first answered only after an input() of
// the same context was asked and answered, the second at once. Each must get its own
// answer, and the second call must reach the page only after the first was answered.
// Params: { origin }
import { launch, params, scenario } from './harness.mjs';

scenario(async () => {
  const b = await launch({ hosts: [new URL(params.origin).hostname] });
  try {
    const page = await b.context.newPage();
    await page.goto(`${params.origin}/lab/index.html`, { waitUntil: 'load' });
    await page.waitForFunction(() => navigator.serviceWorker && navigator.serviceWorker.controller,
      null, { timeout: 120000 });
    return await page.evaluate(async () => {
      const out = { controller: navigator.serviceWorker.controller.scriptURL, posted: [] };
      const context = `test-${Math.random()}`;
      const channel = new BroadcastChannel('/sw-api.v1');
      // The slow call is answered only once input() was asked (and answered): both then
      // wait on the worker at the same time, whatever the machine's speed.
      let releaseSlow = null;
      channel.onmessage = (event) => {
        const m = event.data;
        if (!m || 'response' in m || m.browsingContextId !== context) return;
        const reply = (response) => channel.postMessage({ response, browsingContextId: context });
        if (m.pathname.includes('/api/stdin/')) {
          out.posted.push(`stdin ${m.data.header.msg_id}`);
          reply({ header: { msg_type: 'input_reply' }, parent_header: { msg_id: m.data.header.msg_id },
            content: { status: 'ok', value: 'Ada' } });
          if (releaseSlow) setTimeout(releaseSlow, 50);
          return;
        }
        out.posted.push(`drive ${m.data.path}`);
        const answer = () => { out.posted.push(`answered ${m.data.path}`); reply({ answerFor: m.data.path }); };
        if (m.data.path === 'slow') releaseSlow = answer; else answer();
      };
      const post = async (path, body) => {
        try {
          const r = await fetch(path, { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body),
            signal: AbortSignal.timeout(20000) });
          return { status: r.status, body: r.status === 200 ? await r.json() : await r.text() };
        } catch (err) {
          return { status: 0, body: String(err) };
        }
      };
      const pause = (ms) => new Promise((r) => setTimeout(r, ms));
      const slow = post('/api/drive', { data: { method: 'get', path: 'slow' }, browsingContextId: context });
      await pause(100);
      const fast = post('/api/drive', { data: { method: 'get', path: 'fast' }, browsingContextId: context });
      await pause(100);
      const asked = post('/api/stdin/kernel', { browsingContextId: context,
        data: { header: { msg_id: 'request-1', msg_type: 'input_request' }, content: { prompt: '?' } } });
      out.slow = await slow;
      out.fast = await fast;
      out.stdin = await asked;
      out.notJson = await post('/api/drive', 'not json');
      out.heartbeat = await (await fetch('/api/service-worker-heartbeat')).text();
      channel.close();
      return out;
    });
  } finally {
    await b.close();
  }
});
