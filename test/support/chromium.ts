// Real headless Chromium for browser tests: Debian's `chromium` package driven by playwright-core, never
// a browser that Playwright downloads. Pages may talk to loopback only; every other request is aborted.
// Each page records what would show a broken page to a user: Content-Security-Policy violations
// (seen by the page itself and in the console) and uncaught script errors.
import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Page } from 'playwright-core';

/** Debian's chromium; CHROMIUM_PATH overrides it on other machines. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * Starts Chromium. Playwright gives every launch a fresh temporary profile (user-data-dir) and deletes
 * it on close. A missing browser is an error, not a skip: the browser tests are part of the suite.
 */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `Chromium not found at ${CHROMIUM_PATH}: the dashboard tests need Debian's chromium package ` +
        `(apt-get install chromium; .ci/run installs it), or CHROMIUM_PATH pointing at a Chromium binary`,
    );
  }
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: ARGS, timeout: 30_000 });
}

export interface WatchedPage {
  page: Page;
  /** CSP violations and uncaught errors seen so far, one line each. */
  problems: string[];
}

/** A new context (own cookies and credentials) with one page, kept on loopback and watched. */
export async function openPage(browser: Browser, options: BrowserContextOptions = {}): Promise<{ context: BrowserContext } & WatchedPage> {
  const context = await browser.newContext({ ...options, serviceWorkers: 'block' });
  context.setDefaultTimeout(30_000);
  await context.route(
    (url) => !LOOPBACK.has(url.hostname),
    (route) => route.abort('blockedbyclient'),
  );
  // Reported by the page itself, so a violation counts even when it prints nothing to the console.
  // (A string: the tests compile without the DOM library.)
  await context.addInitScript({
    content: `window.__cspViolations = [];
      window.addEventListener('securitypolicyviolation', (event) => {
        window.__cspViolations.push(event.violatedDirective + ' blocked ' + (event.blockedURI || 'inline') + ' (' + event.sourceFile + ':' + event.lineNumber + ')');
      });`,
  });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('console', (message) => {
    if (/Content[- ]Security[- ]Policy/i.test(message.text())) problems.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  return { context, page, problems };
}

/** Problems so far, including the CSP violations the page recorded itself. */
export async function pageProblems({ page, problems }: WatchedPage): Promise<string[]> {
  const fromPage = page.isClosed() ? [] : await page.evaluate<string[]>('window.__cspViolations || []').catch(() => [] as string[]);
  return [...problems, ...fromPage.map((line) => `csp: ${line}`)];
}
