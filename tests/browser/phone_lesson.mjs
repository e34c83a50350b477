// Issue 18, phone first: at one viewport, a student presses "Start coding" on the kiosk's
// start page and gets the lesson, full width; the kiosk's controls are on screen (on a
// phone, in the compact menu); Share gives a link; the link, opened in a fresh browser
// at the same viewport, shows the notebook full width too.
// Params: { origin, viewport: {width, height}, name, outDir, imagesDir?, timeoutMs? }
// Result: { landing, lesson, share, shared } with the measures pytest asserts on.
import fs from 'node:fs';
import path from 'node:path';
import { launch, params, scenario } from './harness.mjs';

const { origin, viewport, name, outDir } = params;
const imagesDir = params.imagesDir || null;
const T = params.timeoutMs || 120000;
const started = Date.now();
function step(what) {
  process.stderr.write(`[phone_lesson ${name} ${((Date.now() - started) / 1000).toFixed(1)}s] ${what}\n`);
}

async function shoot(page, what) {
  const file = path.join(outDir, `${name}-${what}.png`);
  await page.screenshot({ path: file });
  if (imagesDir) fs.copyFileSync(file, path.join(imagesDir, `phone-${name}-${what}.png`));
  return file;
}

// How the current document sits on the screen: its first cell's width, whether the
// page scrolls sideways, and each kiosk control's box against the viewport.
async function measure(page) {
  return page.evaluate(() => {
    const vw = window.innerWidth;
    const vh = window.innerHeight;
    const box = (el) => {
      if (!el) return null;
      const r = el.getBoundingClientRect();
      const style = window.getComputedStyle(el);
      const shown = r.width > 0 && r.height > 0 && style.visibility !== 'hidden';
      return {
        left: r.left, top: r.top, right: r.right, bottom: r.bottom, width: r.width, height: r.height,
        shown, onScreen: shown && r.left >= 0 && r.top >= 0 && r.right <= vw + 0.5 && r.bottom <= vh + 0.5,
      };
    };
    const panel = Array.from(document.querySelectorAll('.jp-NotebookPanel'))
      .find((p) => !p.classList.contains('lm-mod-hidden') && p.getBoundingClientRect().width > 0);
    const firstCell = panel ? panel.querySelector('.jp-Cell') : null;
    const current = window.jupyterapp && window.jupyterapp.shell.currentWidget;
    const mainWidgets = window.jupyterapp ? Array.from(window.jupyterapp.shell.widgets('main')) : [];
    return {
      viewport: { width: vw, height: vh },
      scrollWidth: document.documentElement.scrollWidth,
      bodyScrollWidth: document.body.scrollWidth,
      firstCell: box(firstCell),
      panel: box(panel),
      currentPath: current && current.context ? current.context.path : null,
      launchers: mainWidgets.filter((w) => w.id.startsWith('launcher') || w.node.querySelector('.jp-Launcher')).length,
      leftCollapsed: window.jupyterapp ? window.jupyterapp.shell.leftCollapsed : null,
      rightCollapsed: window.jupyterapp ? window.jupyterapp.shell.rightCollapsed : null,
      mode: window.jupyterapp ? window.jupyterapp.shell.mode : null,
      layout: document.body.dataset.kioskLayout || null,
      badge: box(document.querySelector('[data-kiosk=badge]')),
      menuButton: box(document.querySelector('[data-kiosk=badge-menu]')),
      badgeText: (document.querySelector('[data-kiosk=badge]') || {}).innerText || '',
      insecureNote: document.querySelectorAll('[data-kiosk=insecure-note]').length,
    };
  });
}

// The kiosk controls a student needs: visible in the bar (laptop) or in the menu (phone).
const CONTROLS = ['badge-share', 'badge-open-code', 'badge-my-notebooks', 'badge-menu-state'];

async function controls(page) {
  const menu = page.locator('[data-kiosk=badge-menu]');
  const compact = await menu.isVisible();
  if (compact) {
    await menu.click();
    await page.waitForSelector('.kiosk-mod-menuOpen [data-kiosk=badge-actions]', { timeout: 5000 });
  }
  const found = await page.evaluate((ids) => {
    const vw = window.innerWidth;
    const vh = window.innerHeight;
    const out = {};
    for (const id of ids) {
      const el = document.querySelector(`[data-kiosk=${id}]`);
      if (!el) { out[id] = null; continue; }
      const r = el.getBoundingClientRect();
      out[id] = {
        shown: r.width > 0 && r.height > 0,
        onScreen: r.width > 0 && r.height > 0 && r.left >= 0 && r.top >= 0 && r.right <= vw + 0.5 && r.bottom <= vh + 0.5,
        text: el.textContent,
      };
    }
    // On wide screens Share lives in the notebook's toolbar instead of the badge.
    const share = Array.from(document.querySelectorAll('.kiosk-ShareButton'))
      .find((b) => b.getBoundingClientRect().width > 0);
    if (share) {
      const r = share.getBoundingClientRect();
      out.toolbarShare = { shown: true, onScreen: r.left >= 0 && r.right <= vw + 0.5 && r.top >= 0 && r.bottom <= vh + 0.5 };
    } else {
      out.toolbarShare = null;
    }
    return out;
  }, CONTROLS);
  return { compact, found };
}

scenario(async () => {
  fs.mkdirSync(outDir, { recursive: true });
  const A = await launch();
  const B = await launch();
  try {
    const page = A.context.pages()[0] || await A.context.newPage();
    await page.setViewportSize(viewport);
    step('landing');
    await page.goto(`${origin}/`, { waitUntil: 'load' });
    const landing = {
      scrollWidth: await page.evaluate(() => document.documentElement.scrollWidth),
      shot: await shoot(page, 'landing'),
    };
    step('Start coding');
    await page.getByRole('link', { name: 'Start coding' }).click();
    await page.waitForFunction(() => document.body && document.body.dataset.kioskLesson, null, { timeout: T });
    await page.waitForSelector('.jp-NotebookPanel .jp-Cell', { timeout: T });
    await page.waitForTimeout(1000); // the launcher may come and go; let the layout settle
    const lesson = await measure(page);
    lesson.lessonFlag = await page.evaluate(() => document.body.dataset.kioskLesson);
    lesson.url = page.url();
    lesson.shot = await shoot(page, 'lesson');
    lesson.controls = await controls(page);
    if (lesson.controls.compact) {
      lesson.menuShot = await shoot(page, 'menu');
    }

    step('Share');
    if (lesson.controls.compact) {
      await page.locator('[data-kiosk=badge-share]').click();
    } else {
      await page.locator('.kiosk-ShareButton').first().click();
    }
    const dialog = page.locator('.jp-Dialog');
    await dialog.locator('[data-kiosk=share-dialog]').waitFor({ timeout: T });
    await page.waitForFunction(() => {
      const node = document.querySelector('.jp-Dialog [data-kiosk=take-home]');
      return node && node.dataset.state !== 'loading';
    }, null, { timeout: T });
    const share = {
      link: await dialog.locator('[data-kiosk=link]').inputValue(),
      code: (await dialog.locator('[data-kiosk=code]').innerText()).trim(),
      dialog: await dialog.locator('.jp-Dialog-content').evaluate((el) => {
        const r = el.getBoundingClientRect();
        return { left: r.left, right: r.right, width: r.width, vw: window.innerWidth };
      }),
      text: await dialog.locator('[data-kiosk=share-dialog]').innerText(),
      shot: await shoot(page, 'share'),
    };
    await page.locator('.jp-Dialog .jp-Dialog-button.jp-mod-accept').click();

    step('shared link in a fresh browser');
    const pageB = B.context.pages()[0] || await B.context.newPage();
    await pageB.setViewportSize(viewport);
    await pageB.goto(share.link, { waitUntil: 'load' });
    await pageB.waitForFunction(() => document.body && document.body.dataset.kioskOpened, null, { timeout: T });
    await pageB.waitForSelector('[data-kiosk=view-only-banner]', { timeout: T });
    await pageB.waitForTimeout(1000);
    const shared = await measure(pageB);
    shared.opened = await pageB.evaluate(() => document.body.dataset.kioskOpened);
    shared.shot = await shoot(pageB, 'shared');
    shared.controls = await controls(pageB);
    return { landing, lesson, share, shared };
  } finally {
    await A.close();
    await B.close();
  }
});
