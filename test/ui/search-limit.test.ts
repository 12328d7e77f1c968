import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { CHROMIUM, HOW, launchChromium, signInTo } from './browser.js';

/** The search page's Results control: how many results a search shows, remembered in the browser. */
(CHROMIUM ? describe : describe.skip)(`web UI: number of search results${CHROMIUM ? '' : ` (skipped: ${HOW})`}`, () => {
  let server: TestServer;
  let browser: Browser;
  let key: string;
  const signIn = signInTo(
    () => browser,
    () => server.url,
  );

  beforeAll(async () => {
    server = await startTestServer({ auth: 'keys' });
    key = await server.createKey({ userId: 'gardener' });
    const memories = Array.from({ length: 30 }, (_, n) => ({
      content: `Garden bed ${n + 1} gets compost in spring`,
      infer: false,
    }));
    const stored = await fetch(`${server.url}/v1/memories`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ memories }),
    });
    expect(stored.status).toBe(201);
    browser = await launchChromium();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('shows as many results as chosen, applies a new choice at once, and keeps it after a reload', async () => {
    const page = await signIn(key);
    const results = page.getByRole('combobox', { name: 'Results' });
    await expect(results.inputValue()).resolves.toBe('25');
    await results.selectOption({ label: 'up to 10' });
    await page.getByLabel('Query').fill('garden compost');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    const cards = page.locator('.results > li');
    await page.getByText(/limited to 10: raise Results for more/).waitFor();
    expect(await cards.count()).toBe(10);

    // A larger limit searches again straight away: all 30 now, and no hint that more are left.
    await results.selectOption({ label: 'up to 50' });
    await expect.poll(() => cards.count(), { timeout: 30_000 }).toBe(30);
    expect(await page.getByText(/limited to/).count()).toBe(0);
    const shown = await cards.locator('.content').allTextContents();
    expect(new Set(shown).size).toBe(30);

    await page.reload();
    await page.getByRole('heading', { name: 'Search' }).waitFor();
    await expect(page.getByRole('combobox', { name: 'Results' }).inputValue()).resolves.toBe('50');
    await page.close();
  });
});
