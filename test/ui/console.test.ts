import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { CHROMIUM, HOW, launchChromium, newPage } from './browser.js';

/**
 * What a user with the browser's developer tools open would see: every page of a session logs
 * no error at all (no missing icon, no CSP violation, no failed request), and the tab shows the
 * server's own icon.
 */
(CHROMIUM ? describe : describe.skip)(`web UI console${CHROMIUM ? '' : ` (skipped: ${HOW})`}`, () => {
  let server: TestServer;
  let browser: Browser;
  let adminKey: string;
  let memoryId: string;

  beforeAll(async () => {
    server = await startTestServer({ auth: 'keys' });
    adminKey = await server.createKey({ admin: true });
    const call = async (path: string, body: unknown) => {
      const response = await fetch(`${server.url}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      expect(response.status, path).toBe(201);
      return response.json() as Promise<{ memory: { id: string } }>;
    };
    memoryId = (await call('/v1/memories', { content: 'The spare key is under the blue flower pot', infer: false }))
      .memory.id;
    await call('/v1/kb/notes', { title: 'House', category: 'home', body: '## Keys\n\nUnder the blue flower pot.' });
    browser = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  /** A page that records console errors, uncaught exceptions and every answer of 400 or more. */
  const watched = async (): Promise<{ page: Page; problems: string[] }> => {
    const page = await newPage(browser);
    const problems: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console: ${message.text()} (${message.location().url})`);
    });
    page.on('pageerror', (error) => problems.push(`exception: ${error.message}`));
    page.on('response', (response) => {
      if (response.status() >= 400) problems.push(`${response.status()} ${response.url()}`);
    });
    page.on('requestfailed', (request) => problems.push(`failed: ${request.url()}`));
    return { page, problems };
  };

  // First in this file's browser: Chromium asks for a page's icon once per browser, and remembers a missing one.
  it("shows the server's own icon, allowed by the UI's Content-Security-Policy", async () => {
    const { page, problems } = await watched();
    const icon = page
      .waitForResponse((response) => new URL(response.url()).pathname === '/ui/favicon.svg', { timeout: 20_000 })
      .catch(() => null);
    await page.goto(server.url);
    const answer = await icon;
    // Without an icon of its own, the browser asks for /favicon.ico and logs the 404 as an error.
    expect(problems).toEqual([]);
    if (!answer) throw new Error('the browser never loaded /ui/favicon.svg');
    expect(answer.status()).toBe(200);
    expect(answer.headers()['content-type']).toMatch(/^image\/svg\+xml/);
    expect(await answer.text()).toMatch(/^<svg /);
    await expect(page.locator('link[rel="icon"]').getAttribute('href')).resolves.toBe('/ui/favicon.svg');
    const csp = (await fetch(server.url)).headers.get('content-security-policy') ?? '';
    expect(csp).toContain("img-src 'self'");
    await page.getByLabel('API key').waitFor();
    expect(problems).toEqual([]);
    await page.close();
  });

  it('logs no error on any page of a session: sign-in, search, memories, a memory, knowledge base, overview, admin', async () => {
    const { page, problems } = await watched();
    await page.goto(server.url);
    await page.getByLabel('API key').fill(adminKey);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Search' }).waitFor();
    await page.getByLabel('Query').fill('spare key');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await page.locator('.results > li').first().waitFor();
    await page.getByRole('link', { name: 'Memories' }).click();
    await page.locator('.memories > li').first().waitFor();
    await page.goto(`${server.url}/#/memories/${memoryId}`);
    await page.getByRole('list', { name: 'History, oldest first' }).locator('li').first().waitFor();
    await page.getByRole('link', { name: 'Knowledge base' }).click();
    await page.getByRole('link', { name: 'House' }).click();
    await page.locator('.markdown').getByRole('heading', { name: 'Keys' }).waitFor();
    await page.getByRole('link', { name: 'Overview' }).click();
    await page.getByRole('row', { name: /^hybrid/ }).waitFor();
    await page.getByRole('link', { name: 'Admin' }).click();
    await page.getByRole('table', { name: 'API keys' }).getByRole('row').nth(1).waitFor();
    // A reload asks for everything again, the icon included.
    await page.reload();
    await page.getByRole('table', { name: 'API keys' }).getByRole('row').nth(1).waitFor();
    expect(problems).toEqual([]);
    await page.close();
  });
});
