import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { CHROMIUM, HOW, launchChromium, signInTo } from './browser.js';

/** Knowledge-base notes in the UI, as a user sees them. */
(CHROMIUM ? describe : describe.skip)(`web UI: knowledge-base notes${CHROMIUM ? '' : ` (skipped: ${HOW})`}`, () => {
  let server: TestServer;
  let browser: Browser;
  /** Each test has a user of its own, so none depends on what another left behind. */
  const keys = { carol: '' };
  const consoleErrors: string[] = [];
  const signIn = signInTo(
    () => browser,
    () => server.url,
    consoleErrors,
  );
  const api = (key: string, method: string, path: string, body?: unknown) =>
    fetch(`${server.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });

  beforeAll(async () => {
    server = await startTestServer({ auth: 'keys' });
    for (const user of ['carol'] as const) keys[user] = await server.createKey({ userId: user });
    browser = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('shows the title of a note written elsewhere once, whether it came from a heading or a first line', async () => {
    for (const [note, title, rest] of [
      [{ body: '# Boiler\n\nThe plumber comes on Tuesday.' }, 'Boiler', 'The plumber comes on Tuesday.'],
      [
        { body: 'Call the electrician\n\nThe hall light flickers.' },
        'Call the electrician',
        'The hall light flickers.',
      ],
      [
        { title: 'Windows', body: 'Clean the windows\nbefore the party.' },
        'Windows',
        'Clean the windows\nbefore the party.',
      ],
    ] as const) {
      const created = (await (await api(keys.carol, 'POST', '/v1/kb/notes', note)).json()) as {
        note: { path: string };
      };
      const page = await signIn(keys.carol);
      await page.goto(`${server.url}/#/kb/${encodeURIComponent(created.note.path)}`);
      await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe(title);
      expect((await page.locator('.markdown').textContent())?.trim()).toBe(rest);
      expect(await page.getByText(title, { exact: true }).count()).toBe(1);
      await page.close();
    }
    expect(consoleErrors).toEqual([]);
  });
});
