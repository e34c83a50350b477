// The Share dialog's optional "Your name": a student shares a notebook, types a name in
// the dialog and closes it (the kiosk then gets the name with a PUT); the name is
// remembered in this browser and prefilled in the next Share dialog; the field has a
// label (axe on the open dialog).
// Params: { origin, name } → { first, second, axe }.
import { launch, params, scenario } from './harness.mjs';
import { runAxe } from './a11y.mjs';

const T = 120000;

async function share(page) {
  await page.evaluate(() => window.jupyterapp.commands.execute('notebook:create-new', { kernelName: 'python' }));
  const panel = page.locator('.jp-NotebookPanel:not(.lm-mod-hidden)').last();
  await panel.locator('.jp-Cell').first().waitFor({ timeout: T });
  await panel.locator('.kiosk-ShareButton').first().click();
  const dialog = page.locator('.jp-Dialog');
  await dialog.locator('[data-kiosk=share-dialog]').waitFor({ timeout: T });
  const field = dialog.locator('[data-kiosk=student-name]');
  const shown = await field.inputValue();
  const label = await dialog.locator('label[for=kiosk-student-name]').textContent();
  return { page, panel, dialog, field, shown, label };
}

scenario(async () => {
  const { context, close } = await launch();
  try {
    const page = context.pages()[0] || await context.newPage();
    await page.goto(`${params.origin}/lab/index.html`, { waitUntil: 'load', timeout: 60000 });
    await page.waitForSelector('#jp-main-dock-panel', { timeout: T });
    await page.waitForFunction(() => document.body && document.body.dataset.kioskExtension, null, { timeout: T });

    const one = await share(page);
    const axe = await runAxe(page);
    await one.field.fill(params.name);
    await one.field.press('Tab');  // "change" fires when the field loses focus
    const code = (await one.dialog.locator('[data-kiosk=code]').innerText()).trim();
    await page.locator('.jp-Dialog .jp-Dialog-button.jp-mod-accept').click();
    await page.locator('.jp-Dialog').waitFor({ state: 'detached', timeout: 10000 });
    // Wait until the PUT that carries the name has been answered.
    await page.waitForFunction(() => {
      const w = window.jupyterapp.shell.currentWidget;
      return w && w.node.dataset.kioskSaved;
    }, null, { timeout: T });
    const stored = await page.evaluate(() => localStorage.getItem('kiosk-share:student-name'));

    const two = await share(page);
    const code2 = (await two.dialog.locator('[data-kiosk=code]').innerText()).trim();
    await page.locator('.jp-Dialog .jp-Dialog-button.jp-mod-accept').click();
    return {
      first: { shown: one.shown, label: one.label, code, stored },
      second: { shown: two.shown, code: code2 },
      axe: { violations: axe.violations, passes: axe.passes },
    };
  } finally {
    await close();
  }
});
