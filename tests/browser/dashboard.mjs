// The teacher's dashboard in headless Chromium: sign in through the form with the
// admin secret, read the figures, check the cookie's flags, save a screenshot, and run
// axe-core on /admin and on the pages students see.
// Params: { base, secret, shareId, screenshot } → { figures, cookie, a11y, ... }.
import { launch, params, scenario } from './harness.mjs';
import { checkUrls, loopbackOnly, runAxe, serious } from './a11y.mjs';

scenario(async () => {
  const { context, consoleLines, close } = await launch(loopbackOnly(params.base));
  try {
    const page = context.pages()[0] || await context.newPage();
    const base = params.base.replace(/\/$/, '');

    // Signed out: the login form only.
    await page.goto(`${base}/admin`, { waitUntil: 'load' });
    const signedOut = {
      hasPassword: await page.locator('input[type=password]').count(),
      hasFigures: await page.locator('#shares-total').count(),
      axe: serious((await runAxe(page)).violations),
    };

    // A wrong secret first, then the right one.
    await page.fill('#secret', 'not-the-secret');
    await Promise.all([page.waitForLoadState('load'), page.click('button[type=submit]')]);
    const wrongText = await page.locator('[role=alert]').innerText();
    await page.fill('#secret', params.secret);
    await Promise.all([page.waitForURL(`${base}/admin`), page.click('button[type=submit]')]);
    await page.waitForSelector('#shares-total');

    const read = (id) => page.locator(`#${id}`).getAttribute('data-value');
    const figures = {
      sharesTotal: await read('shares-total'),
      sharesToday: await read('shares-today'),
      studentsSeen: await read('students-seen'),
      diskFree: await read('disk-free'),
      memory: await read('memory'),
      cpu: await read('cpu'),
      bundle: await read('bundle-name'),
      qr: await page.locator('.qr svg').count(),
      documentCookie: await page.evaluate(() => document.cookie),
    };
    const cookies = await context.cookies(`${base}/admin`);
    const cookie = cookies.find((c) => c.name === 'kiosk_admin') || null;
    await page.screenshot({ path: params.screenshot, fullPage: true });
    const adminAxe = await runAxe(page);
    const admin = adminAxe.violations;

    // The datasets page, reached by its link on the dashboard.
    await Promise.all([page.waitForURL(`${base}/admin/datasets`), page.click('#datasets-link')]);
    await page.waitForSelector('#h-add');
    const datasetsAxe = await runAxe(page);
    const datasetsForm = await page.locator('form[action="/admin/datasets/add"] input[name=csrf]').count();

    // Pages students see.
    const others = await checkUrls(context, [`${base}/`, `${base}/join`, `${base}/s/${params.shareId}`]);
    return {
      signedOut, wrongText, figures,
      cookie: cookie && { httpOnly: cookie.httpOnly, sameSite: cookie.sameSite, path: cookie.path },
      a11y: { [`${base}/admin`]: { status: 200, violations: admin, serious: serious(admin),
                                  passes: adminAxe.passes, version: adminAxe.version },
              [`${base}/admin/datasets`]: { status: 200, violations: datasetsAxe.violations,
                                            serious: serious(datasetsAxe.violations),
                                            passes: datasetsAxe.passes, version: datasetsAxe.version },
              ...others },
      datasetsForm,
      console: consoleLines,
    };
  } finally {
    await close();
  }
});
