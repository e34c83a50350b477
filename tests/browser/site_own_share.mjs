// A site that brings its own Share UI (as Jupyter Everywhere's does) shares through the
// kiosk: the page reads sharing_service_api_url from the jupyter-lite.json the kiosk
// answered, then calls the JE sharing API exactly as such a frontend does (issue a
// token, POST the notebook, read it back by its readable id), with no other origin.
// Params: { url }
import { launch, scenario, foreignRequests, params } from './harness.mjs';

scenario(async () => {
  const { context, requests, failures, close } = await launch({ hosts: ['kiosk.test'] });
  try {
    const page = await context.newPage();
    const origin = new URL(params.url).origin;
    await page.goto(`${params.url}/lab/index.html`, { waitUntil: 'load', timeout: 60000 });
    await page.waitForSelector('#jp-main-dock-panel', { timeout: 120000 });
    const result = await page.evaluate(async () => {
      const config = (await (await fetch('../jupyter-lite.json')).json())['jupyter-config-data'];
      const api = config.sharing_service_api_url;
      const json = { 'Content-Type': 'application/json' };
      const issued = await fetch(`${api}/auth/issue`, { method: 'POST', headers: json });
      const { token } = await issued.json();
      const auth = { ...json, Authorization: `Bearer ${token}` };
      const notebook = {
        nbformat: 4, nbformat_minor: 5, metadata: {},
        cells: [{ cell_type: 'code', id: 'c1', metadata: {}, execution_count: null,
                  outputs: [], source: 'print("shared by the site itself")' }],
      };
      const created = await fetch(`${api}/notebooks`, {
        method: 'POST', headers: auth, body: JSON.stringify({ notebook }) });
      const made = await created.json();
      const rid = made.notebook.readable_id;
      const read = await fetch(`${api}/notebooks/get-by-readable-id/${encodeURIComponent(rid)}`,
        { headers: auth });
      const back = await read.json();
      return { api, issued: issued.status, created: created.status, id: made.notebook.id,
               rid, read: read.status, source: back.content.cells[0].source };
    });
    return { ...result, foreign: foreignRequests(requests, [origin]), failures };
  } finally {
    await close();
  }
});
