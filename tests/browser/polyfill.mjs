// Opens a bundle page on a non-secure origin and reports whether crypto.randomUUID works
// there and whether the page's CSP refused anything.
import { launch, scenario, foreignRequests, params } from './harness.mjs';

await scenario(async () => {
  const { url, origin } = params;
  const b = await launch();
  try {
    const page = await b.context.newPage();
    await page.addInitScript(() => {
      window.__violations = [];
      document.addEventListener('securitypolicyviolation', (e) => {
        window.__violations.push(`${e.violatedDirective} ${e.blockedURI}`);
      });
    });
    const response = await page.goto(url, { waitUntil: 'load' });
    await page.waitForFunction(() => window.__uuid !== undefined, null, { timeout: 10000 });
    const result = await page.evaluate(() => ({
      secure: window.isSecureContext,
      uuidFromPageScript: window.__uuid,
      uuidNow: crypto.randomUUID(),
      inlineRan: window.__inlineRan || 0,
      violations: window.__violations,
    }));
    return {
      ...result,
      status: response.status(),
      csp: response.headers()['content-security-policy'] || null,
      foreign: foreignRequests(b.requests, [origin]),
      console: b.consoleLines,
    };
  } finally {
    await b.close();
  }
});
