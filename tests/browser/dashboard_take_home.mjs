// The dashboard's take-home links: sign in, then open the QR code of a synced share's
// upstream link (a <details>: no script) and screenshot it for zbarimg.
// Params: { base, secret, shareId (local readable id of a synced share), shot,
//           tableShot? (a screenshot of the shares table, QR code open) }
import { launch, params, scenario } from './harness.mjs';
import { loopbackOnly } from './a11y.mjs';

scenario(async () => {
  const { context, requests, close } = await launch(loopbackOnly(params.base));
  try {
    const page = context.pages()[0] || await context.newPage();
    const base = params.base.replace(/\/$/, '');
    await page.goto(`${base}/admin`, { waitUntil: 'load' });
    await page.fill('#secret', params.secret);
    await Promise.all([page.waitForURL(`${base}/admin`), page.click('button[type=submit]')]);
    await page.waitForSelector('#shares');
    const row = page.locator('#shares tbody tr', { has: page.locator(`a[href="/s/${params.shareId}"]`) });
    const link = await row.locator('a.take-home-link').getAttribute('href');
    const qr = row.locator('details.take-home svg');
    const visibleBefore = await qr.isVisible();
    await row.locator('details.take-home summary').click();
    await qr.waitFor({ state: 'visible', timeout: 5000 });
    await qr.screenshot({ path: params.shot });
    if (params.tableShot) {
      await page.locator('#shares').screenshot({ path: params.tableShot });
    }
    const scripts = await page.locator('script').count();
    const hub = new URL(link).origin;
    return {
      link, visibleBefore, scripts,
      hubRequests: requests.filter((r) => r.url.startsWith(hub)).length,
    };
  } finally {
    await close();
  }
});
