// The kiosk's pages in the students' language, in headless Chromium at phone width: for
// each language, a browser whose Accept-Language asks for it opens /, /join and /s/<id>;
// reads the page's lang and dir, takes a screenshot, runs axe-core.
// Params: { base, shareId, languages: ["fr", "ar"], outDir } →
//   { pages: { "<lang> <path>": { status, lang, dir, heading, serious, passes } } }.
import path from 'node:path';
import { launch, params, scenario } from './harness.mjs';
import { loopbackOnly, runAxe, serious } from './a11y.mjs';

const SHOTS = { '/': 'landing', [`/s/${params.shareId}`]: 'share' };

scenario(async () => {
  const { context, consoleLines, close } = await launch(loopbackOnly(params.base));
  try {
    const base = params.base.replace(/\/$/, '');
    const pages = {};
    for (const language of params.languages) {
      await context.setExtraHTTPHeaders({ 'Accept-Language': `${language},en;q=0.5` });
      const page = await context.newPage();
      await page.setViewportSize({ width: 390, height: 844 });
      for (const p of ['/', '/join', `/s/${params.shareId}`, '/s/calm-blue-oter-42']) {
        const response = await page.goto(`${base}${p}`, { waitUntil: 'load', timeout: 30000 });
        const info = await page.evaluate(() => ({
          lang: document.documentElement.lang,
          dir: document.documentElement.dir,
          heading: (document.querySelector('h1') || {}).textContent || null,
          overflowX: document.documentElement.scrollWidth > window.innerWidth,
        }));
        const axe = await runAxe(page);
        if (SHOTS[p] && params.outDir) {
          await page.screenshot({ path: path.join(params.outDir, `${SHOTS[p]}-${language}.png`),
                                  fullPage: true });
        }
        pages[`${language} ${p}`] = { status: response ? response.status() : null, ...info,
                                      serious: serious(axe.violations), passes: axe.passes };
      }
      await page.close();
    }
    return { pages, console: consoleLines };
  } finally {
    await close();
  }
});
