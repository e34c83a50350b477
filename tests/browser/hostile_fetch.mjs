// Issue 17 (1): a stranger's file fetched through /api/fetch must never run as the kiosk.
// Params: { origin, targets: [urls of hostile files on the "internet"], scriptUrl }.
// Each target is opened through the kiosk's /api/fetch as a student's link would; then a
// kiosk page tries to load the hostile script through /api/fetch as a <script>. The
// hostile code marks localStorage of the kiosk's origin; the result reports the mark.
import { launch, params, scenario } from './harness.mjs';

scenario(async () => {
  const host = new URL(params.origin).hostname;
  const rules = `--host-resolver-rules=MAP ${host} ${host}, MAP * ~NOTFOUND`;
  const { context, close } = await launch({ hosts: [], extraArgs: [rules] });
  try {
    const page = context.pages()[0] || await context.newPage();
    const opened = [];
    for (const target of params.targets) {
      const url = `${params.origin}/api/fetch?url=${encodeURIComponent(target)}`;
      let how;
      try {
        const resp = await page.goto(url, { waitUntil: 'load', timeout: 20000 });
        how = `document ${resp && resp.status()}`;
      } catch (err) {
        how = String(err.message || err).includes('Download is starting') ? 'download' : `error ${err}`;
      }
      await page.waitForTimeout(1500);
      opened.push({ target, how });
    }
    await page.goto(`${params.origin}/join`, { waitUntil: 'load' });
    const scriptUrl = `/api/fetch?url=${encodeURIComponent(params.scriptUrl)}`;
    const injected = await page.evaluate((src) => new Promise((resolve) => {
      const s = document.createElement('script');
      s.src = src;
      s.onload = () => resolve('loaded');
      s.onerror = () => resolve('blocked');
      document.head.appendChild(s);
      setTimeout(() => resolve('timeout'), 5000);
    }), scriptUrl);
    await page.waitForTimeout(500);
    const mark = await page.evaluate(() => localStorage.getItem('pwned'));
    const cookies = await context.cookies(params.origin);
    return { opened, injected, mark, documentCookie: await page.evaluate(() => document.cookie),
             cookies: cookies.map((c) => ({ name: c.name, httpOnly: c.httpOnly })) };
  } finally {
    await close();
  }
});
