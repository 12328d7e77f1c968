import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { CHROMIUM, HOW, launchChromium, signInTo } from './browser.js';

/** Adding a memory from the Memories page, as a user would: what they see, and what the server stored. */
(CHROMIUM ? describe : describe.skip)(`web UI: adding a memory${CHROMIUM ? '' : ` (skipped: ${HOW})`}`, () => {
  let server: TestServer;
  let browser: Browser;
  let aliceKey: string;
  const consoleErrors: string[] = [];
  const signIn = signInTo(
    () => browser,
    () => server.url,
    consoleErrors,
  );
  const aliceMemories = async () => {
    const response = await fetch(`${server.url}/v1/memories`, { headers: { authorization: `Bearer ${aliceKey}` } });
    return ((await response.json()) as { items: { content: string; category: string; tags: string[] }[] }).items;
  };

  beforeAll(async () => {
    server = await startTestServer({ auth: 'keys' });
    aliceKey = await server.createKey({ userId: 'alice' });
    browser = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('adds a memory with a category and tags, says so, lists it first and finds it in search', async () => {
    const page = await signIn(aliceKey);
    await page.getByRole('link', { name: 'Memories' }).click();
    const form = page.getByRole('form', { name: 'Add a memory' });
    await form.getByLabel('Content').fill('Alice renews her passport in March 2031');
    await form.getByLabel('Category').fill('travel');
    await form.getByLabel('Tags').fill('documents, passport');
    await form.getByRole('button', { name: 'Add memory' }).click();
    await expect(form.getByRole('status').textContent()).resolves.toMatch(/^Added\. Open the memory$/);
    // The form is empty for the next one, and the list shows the new memory first.
    await expect(form.getByLabel('Content').inputValue()).resolves.toBe('');
    const first = page.locator('.memories > li').first();
    await first.getByText('Alice renews her passport in March 2031').waitFor();
    await expect(first.locator('.meta').textContent()).resolves.toMatch(/^travel · documents, passport · /);
    expect(await aliceMemories()).toEqual([
      expect.objectContaining({
        content: 'Alice renews her passport in March 2031',
        category: 'travel',
        tags: ['documents', 'passport'],
      }),
    ]);

    await form.getByRole('link', { name: 'Open the memory' }).click();
    await page.getByRole('heading', { name: 'Memory' }).waitFor();
    await expect(page.getByLabel('Content').inputValue()).resolves.toBe('Alice renews her passport in March 2031');

    await page.getByRole('link', { name: 'Search' }).click();
    await page.getByLabel('Query').fill('passport');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await expect(page.locator('.results > li').first().locator('.content').textContent()).resolves.toBe(
      'Alice renews her passport in March 2031',
    );
    await page.close();
  });

  it('says when the memory is already there, and adds nothing', async () => {
    const page = await signIn(aliceKey);
    await page.getByRole('link', { name: 'Memories' }).click();
    const form = page.getByRole('form', { name: 'Add a memory' });
    await form.getByLabel('Content').fill('Alice renews her passport in March 2031');
    await form.getByRole('button', { name: 'Add memory' }).click();
    await form.getByRole('status').getByText('Already remembered: nothing was added.').waitFor();
    expect(await aliceMemories()).toHaveLength(1);
    await page.close();
  });

  it("shows the server's reason when it refuses, and keeps what was typed", async () => {
    const page = await signIn(aliceKey);
    await page.getByRole('link', { name: 'Memories' }).click();
    const form = page.getByRole('form', { name: 'Add a memory' });
    await form.getByLabel('Content').fill('Alice likes figs');
    await form.getByLabel('Category').fill('#fruit!');
    await form.getByRole('button', { name: 'Add memory' }).click();
    await expect(form.getByRole('alert').textContent()).resolves.toBe(
      'category: categories are 1-64 letters, digits, spaces or _ . - /',
    );
    expect(await form.getByRole('status').count()).toBe(0);
    await expect(form.getByLabel('Content').inputValue()).resolves.toBe('Alice likes figs');
    await expect(form.getByLabel('Category').inputValue()).resolves.toBe('#fruit!');
    expect((await aliceMemories()).map((memory) => memory.content)).not.toContain('Alice likes figs');

    // Corrected, the same form adds it.
    await form.getByLabel('Category').fill('food');
    await form.getByRole('button', { name: 'Add memory' }).click();
    await form.getByRole('status').getByText('Added.').waitFor();
    expect(await form.getByRole('alert').count()).toBe(0);
    await page.locator('.memories > li').first().getByText('Alice likes figs').waitFor();
    await page.close();
    // The refusal is a 400 the browser logs as a failed load; nothing else may be logged.
    expect(consoleErrors.filter((text) => !/status of 400/.test(text))).toEqual([]);
  });
});
