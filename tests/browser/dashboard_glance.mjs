// The dashboard a teacher reads at a glance, used with the keyboard only: sign in, pick
// the lesson of the day in the select and submit with Enter, open a student's copy from
// the lesson's cards, expand the package list; axe (every impact) on a desktop and a
// tablet (810 px) width; screenshots of both.
// Params: { base, secret, lesson, shots: { desktop, tablet } } → { lesson, copies, ... }.
import { launch, params, scenario } from './harness.mjs';
import { loopbackOnly, runAxe } from './a11y.mjs';

scenario(async () => {
  const { context, close } = await launch(loopbackOnly(params.base));
  try {
    const page = context.pages()[0] || await context.newPage();
    const base = params.base.replace(/\/$/, '');
    await page.goto(`${base}/admin`, { waitUntil: 'load' });
    await page.focus('#secret');
    await page.keyboard.type(params.secret);
    await Promise.all([page.waitForURL(`${base}/admin`), page.keyboard.press('Enter')]);
    await page.waitForSelector('#lesson-select');

    // Keyboard only: focus the select, choose the lesson, Tab to the button, Enter.
    await page.focus('#lesson-select');
    const options = await page.locator('#lesson-select option').evaluateAll(
      (els) => els.map((e) => e.value));
    const steps = options.indexOf(params.lesson) - options.indexOf(
      await page.locator('#lesson-select').inputValue());
    for (let i = 0; i < steps; i += 1) {
      await page.keyboard.press('ArrowDown');
    }
    await page.keyboard.press('Tab');
    const focusedButton = await page.evaluate(() => document.activeElement?.textContent);
    await Promise.all([page.waitForURL(/msg=lesson/), page.keyboard.press('Enter')]);
    await page.waitForSelector('#lesson-name');
    const lesson = await page.locator('#lesson-name').getAttribute('data-value');
    const status = await page.locator('[role=status]').innerText();
    const copies = await page.locator('#copies li a').evaluateAll(
      (els) => els.map((e) => ({ text: e.textContent, href: e.getAttribute('href') })));
    const links = {
      join: await page.locator('#join-link').getAttribute('href'),
      poster: await page.locator('#poster-link').getAttribute('href'),
    };
    const offLine = await page.locator('#sync-state').innerText();
    const versionRows = await page.locator('#versions tr').count();

    // Expand every package with the keyboard (details/summary).
    await page.focus('#all-packages summary');
    await page.keyboard.press('Enter');
    const packagesOpen = await page.locator('#all-packages').evaluate((d) => d.open);

    await page.screenshot({ path: params.shots.desktop, fullPage: true });
    const desktopAxe = await runAxe(page);

    await page.setViewportSize({ width: 810, height: 1080 });
    await page.waitForTimeout(100);
    const tablet = await page.evaluate(() => ({
      scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth,
      // The narrowest card: the lesson's copies must stay readable side by side.
      copyWidth: Math.min(...[...document.querySelectorAll('#copies li')].map(
        (li) => li.getBoundingClientRect().width)),
      copyRows: new Set([...document.querySelectorAll('#copies li')].map(
        (li) => Math.round(li.getBoundingClientRect().top))).size,
    }));
    await page.screenshot({ path: params.shots.tablet, fullPage: true });
    const tabletAxe = await runAxe(page);

    // Open the first copy from its card with the keyboard: the view-only page.
    await page.focus('#copies li a');
    await Promise.all([page.waitForURL(/\/s\//), page.keyboard.press('Enter')]);
    const opened = { url: page.url(), title: await page.title() };
    return {
      focusedButton, lesson, status, copies, links, offLine, versionRows, packagesOpen, tablet,
      opened,
      axe: { desktop: desktopAxe, tablet: tabletAxe },
    };
  } finally {
    await close();
  }
});
