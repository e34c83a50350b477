// On plain HTTP a page has no Clipboard API; the kiosk's bridge gives navigator.clipboard
// .writeText a fallback so that a site's own "Copy link" button works (Jupyter
// Everywhere's). A button calls writeText after an await, as that site does; the text is
// then pasted with Ctrl+V into a field. Params: { url }
import { launch, scenario, foreignRequests, params } from './harness.mjs';

scenario(async () => {
  const { context, requests, close } = await launch({ hosts: ['kiosk.test'] });
  try {
    const page = await context.newPage();
    const origin = new URL(params.url).origin;
    await page.goto(`${params.url}/lab/index.html`, { waitUntil: 'load', timeout: 60000 });
    const before = await page.evaluate(() => ({
      secure: window.isSecureContext, hasClipboard: 'clipboard' in navigator }));
    await page.evaluate(() => {
      const button = document.createElement('button');
      button.id = 'copy-test';
      button.textContent = 'Copy Link!';
      button.style.cssText = 'position:fixed;top:10px;left:10px;z-index:100000';
      button.onclick = async () => {
        await new Promise((r) => setTimeout(r, 50));
        try {
          await navigator.clipboard.writeText('http://kiosk.test/lab/index.html?notebook=happy-blue-otter-1');
          window.copyResult = 'copied';
        } catch (err) {
          window.copyResult = String(err);
        }
      };
      const field = document.createElement('textarea');
      field.id = 'paste-test';
      field.style.cssText = 'position:fixed;top:60px;left:10px;z-index:100000';
      document.body.append(button, field);
    });
    await page.click('#copy-test');
    await page.waitForFunction(() => window.copyResult !== undefined, null, { timeout: 10000 });
    await page.focus('#paste-test');
    await page.keyboard.press('Control+V');
    await page.waitForTimeout(300);
    const readText = await page.evaluate(() => navigator.clipboard.readText().then(
      () => 'read', (err) => err.name));
    return { ...before, copyResult: await page.evaluate(() => window.copyResult),
             pasted: await page.inputValue('#paste-test'), readText,
             foreign: foreignRequests(requests, [origin]) };
  } finally {
    await close();
  }
});
