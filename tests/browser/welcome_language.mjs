// "Start coding" in the browser's language: open the kiosk's start page with a locale,
// press "Start coding", and report which lesson the lab opened and what it says.
// Params: { url, locale }  →  { landingLang, start, lesson, currentPath, heading, dir, foreign }
import { launch, scenario, foreignRequests, params } from './harness.mjs';

scenario(async () => {
  const { context, requests, close } = await launch({ hosts: ['kiosk.test'], locale: params.locale });
  try {
    const page = await context.newPage();
    await page.goto(`${params.url}/`, { waitUntil: 'load', timeout: 60000 });
    const landingLang = await page.evaluate(() => document.documentElement.lang);
    const start = page.locator('a.start');
    const startText = (await start.innerText()).trim();
    await start.click();
    await page.waitForFunction(() => document.body && document.body.dataset.kioskLesson, null, { timeout: 180000 });
    // The lesson's first heading, once its markdown is rendered.
    await page.waitForFunction(() => {
      const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
      return w && w.node.querySelector('.jp-RenderedMarkdown h1');
    }, null, { timeout: 60000 });
    const found = await page.evaluate(() => {
      const w = window.jupyterapp.shell.currentWidget;
      const h1 = w.node.querySelector('.jp-RenderedMarkdown h1');
      const rtl = h1.closest('[dir]');
      return {
        lesson: document.body.dataset.kioskLesson,
        currentPath: w.context ? w.context.path : null,
        heading: h1.textContent.replace(/¶$/, '').trim(),
        dir: rtl ? rtl.getAttribute('dir') : null,
        direction: window.getComputedStyle(h1).direction,
      };
    });
    return { landingLang, start: startText, ...found,
             foreign: foreignRequests(requests, [new URL(params.url).origin]) };
  } finally {
    await close();
  }
});
