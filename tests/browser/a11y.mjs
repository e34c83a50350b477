// Accessibility check of kiosk pages with axe-core (WCAG 2.x A/AA rules).
// As a module: runAxe(page) → { violations: [{id, impact, help, nodes}] }.
// As a scenario: params { urls: [...] } → { pages: { url: {status, violations} } }.
// axe's source is evaluated through the DevTools protocol (page.evaluate), which the
// pages' CSP (script-src) does not apply to: nothing about the pages changes.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { launch, params, scenario } from './harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const AXE_SOURCE = fs.readFileSync(path.join(here, 'node_modules/axe-core/axe.min.js'), 'utf8');

export async function runAxe(page) {
  await page.evaluate(AXE_SOURCE);
  const result = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] },
    });
    return {
      version: r.testEngine.version,
      passes: r.passes.length,
      violations: r.violations.map((v) => ({
        id: v.id, impact: v.impact, help: v.help,
        nodes: v.nodes.slice(0, 5).map((n) => ({ target: n.target, summary: n.failureSummary })),
      })),
    };
  });
  return result;
}

// Let the browser reach only the kiosk's own IP literal (as join_qr.mjs does).
export function loopbackOnly(url) {
  const host = new URL(url).hostname;
  return { hosts: [], extraArgs: [`--host-resolver-rules=MAP ${host} ${host}, MAP * ~NOTFOUND`] };
}

export function serious(violations) {
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

export async function checkUrls(context, urls) {
  const pages = {};
  const page = context.pages()[0] || await context.newPage();
  for (const url of urls) {
    const response = await page.goto(url, { waitUntil: 'load', timeout: 30000 });
    const { violations, passes, version } = await runAxe(page);
    pages[url] = { status: response ? response.status() : null, violations, passes, version,
                   serious: serious(violations) };
  }
  return pages;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  scenario(async () => {
    const { context, close } = await launch(loopbackOnly(params.urls[0]));
    try {
      return { pages: await checkUrls(context, params.urls) };
    } finally {
      await close();
    }
  });
}
