/** Shared by the browser tests: Debian's Chromium through playwright-core, and signing in to the UI. */
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';

export const CHROMIUM = process.env.ENGRAM_TEST_CHROMIUM;
export const HOW = "needs Debian's chromium: run `scripts/services.sh start` (CI does) and set ENGRAM_TEST_CHROMIUM";
export const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/ui/', import.meta.url));

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM as string,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

export interface SignInOptions {
  viewport?: { width: number; height: number };
  colorScheme?: 'light' | 'dark';
}

/** A page in a context of its own (axe-core needs one), closed with the page. */
export async function newPage(browser: Browser, options: SignInOptions = {}): Promise<Page> {
  const context = await browser.newContext({
    viewport: options.viewport ?? { width: 1280, height: 900 },
    ...(options.colorScheme && { colorScheme: options.colorScheme }),
  });
  const page = await context.newPage();
  // After the browser itself closed (afterAll), the context is gone already: nothing to close.
  page.once('close', () => context.close().catch(() => undefined));
  return page;
}

/** A `signIn(key)` that opens a new page on the server's UI and signs in; console errors go to `errors`. */
export function signInTo(browser: () => Browser, url: () => string, errors: string[] = []) {
  return async (key: string, options: SignInOptions = {}): Promise<Page> => {
    const page = await newPage(browser(), options);
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text());
    });
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(url());
    await page.getByLabel('API key').fill(key);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Search' }).waitFor();
    return page;
  };
}
