import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { ARTIFACTS, CHROMIUM, HOW, launchChromium, signInTo } from './browser.js';

const shot = (page: Page, name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });

/** Knowledge-base notes from the UI: write, read, edit, search and delete them as a user does. */
(CHROMIUM ? describe : describe.skip)(`web UI: knowledge-base notes${CHROMIUM ? '' : ` (skipped: ${HOW})`}`, () => {
  let server: TestServer;
  let browser: Browser;
  const consoleErrors: string[] = [];
  const signIn = signInTo(
    () => browser,
    () => server.url,
    consoleErrors,
  );
  /** Each test has a user of its own, so none depends on what another left behind. */
  const keys = { alice: '', bob: '', carol: '' };
  const api = (key: string, method: string, path: string, body?: unknown) =>
    fetch(`${server.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
  const openKb = async (page: Page) => {
    await page.getByRole('link', { name: 'Knowledge base' }).click();
    await page.getByRole('heading', { name: 'Knowledge base', level: 1 }).waitFor();
  };

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    server = await startTestServer({ auth: 'keys' });
    for (const user of ['alice', 'bob', 'carol'] as const) keys[user] = await server.createKey({ userId: user });
    browser = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('writes a note, shows it with its title once, edits it, finds the edit and deletes the note', async () => {
    const page = await signIn(keys.alice);
    await openKb(page);
    await page.getByText('No notes yet.').waitFor();
    await page.getByRole('link', { name: 'New note' }).click();
    const editor = page.getByRole('form', { name: 'New note' });
    await editor.getByLabel('Title').fill('Garden plan');
    await editor.getByLabel('Category').fill('home');
    await editor.getByLabel('Tags').fill('plants, spring');
    await editor
      .getByLabel('Text (markdown)')
      .fill('# Garden plan\n\n## Roses\nPrune in March.\n\n## Tomatoes\nWater every *evening*.');
    await shot(page, 'kb-editor');
    await editor.getByRole('button', { name: 'Save note' }).click();

    // The note's page: saved, its title once (the body's own "# Garden plan" is not shown again).
    await page.getByRole('status').getByText('Note saved.').waitFor();
    await expect(page.getByRole('heading', { level: 1 }).allTextContents()).resolves.toEqual(['Garden plan']);
    expect(await page.getByText('Garden plan', { exact: true }).count()).toBe(1);
    const markdown = page.locator('.markdown');
    await markdown.getByRole('heading', { name: 'Roses' }).waitFor();
    await expect(markdown.locator('em').textContent()).resolves.toBe('evening');
    await expect(page.locator('.meta').first().textContent()).resolves.toContain('plants, spring');
    const listed = (await (await api(keys.alice, 'GET', '/v1/kb/notes')).json()) as {
      items: { path: string; title: string; category: string; tags: string[] }[];
    };
    expect(listed.items).toEqual([
      expect.objectContaining({ title: 'Garden plan', category: 'home', tags: ['plants', 'spring'] }),
    ]);
    const path = listed.items[0]?.path as string;
    await shot(page, 'kb-note-saved');

    // Edit: the form holds the note as it is; the change shows on the note and in search.
    await page.getByRole('link', { name: 'Edit' }).click();
    const edit = page.getByRole('form', { name: 'Edit “Garden plan”' });
    const text = edit.getByLabel('Text (markdown)');
    expect(await text.inputValue()).toContain('Prune in March.');
    await text.fill((await text.inputValue()).replace('Prune in March.', 'Prune in February, before the buds.'));
    await edit.getByRole('button', { name: 'Save note' }).click();
    await page.getByRole('status').getByText('Note saved.').waitFor();
    await markdown.getByText('Prune in February, before the buds.').waitFor();
    expect(await page.locator('body').textContent()).not.toContain('Prune in March');
    expect(page.url()).toContain(encodeURIComponent(path));

    await page.getByRole('link', { name: 'Knowledge base' }).first().click();
    await page.getByRole('region', { name: 'Topic home' }).getByRole('link', { name: 'Garden plan' }).waitFor();
    await page.getByRole('searchbox', { name: 'Search notes' }).fill('when should the roses be pruned');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    const first = page.getByRole('list', { name: 'Matching notes' }).locator('li').first();
    await expect(first.getByRole('link').textContent()).resolves.toBe('Garden plan › Roses');
    await expect(first.locator('.content').textContent()).resolves.toBe('Prune in February, before the buds.');
    await shot(page, 'kb-search');

    // Delete, after a confirmation: back on the list, which says so and no longer has it.
    await first.getByRole('link').click();
    let asked = '';
    page.once('dialog', (dialog) => {
      asked = dialog.message();
      void dialog.accept();
    });
    await page.getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('status').getByText('Deleted the note "Garden plan".').waitFor();
    expect(asked).toMatch(/^Delete the note "Garden plan"\?/);
    await page.getByText('No notes yet.').waitFor();
    expect((await api(keys.alice, 'GET', `/v1/kb/note?path=${encodeURIComponent(path)}`)).status).toBe(404);
    await page.close();
  });

  it("keeps what was typed and shows the server's reason when a note is refused; an untouched edit changes nothing", async () => {
    const page = await signIn(keys.bob);
    await openKb(page);
    await page.getByRole('link', { name: 'New note' }).click();
    const editor = page.getByRole('form', { name: 'New note' });
    await editor.getByLabel('Category').fill('../escape');
    await editor.getByLabel('Text (markdown)').fill('Bike: chain oiled in May.');
    await editor.getByRole('button', { name: 'Save note' }).click();
    await expect(editor.getByRole('alert').textContent()).resolves.toMatch(/^category: /);
    await expect(editor.getByLabel('Text (markdown)').inputValue()).resolves.toBe('Bike: chain oiled in May.');
    expect(((await (await api(keys.bob, 'GET', '/v1/kb/notes')).json()) as { items: unknown[] }).items).toEqual([]);

    // Corrected and saved without a title: the first line is the title, shown once.
    await editor.getByLabel('Category').fill('bike');
    await editor.getByRole('button', { name: 'Save note' }).click();
    await page.getByRole('status').getByText('Note saved.').waitFor();
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('Bike: chain oiled in May.');
    // The text is that one line: nothing is left to show under the title.
    expect(await page.locator('.markdown').count()).toBe(0);

    await page.getByRole('link', { name: 'Edit' }).click();
    await page
      .getByRole('form', { name: /^Edit / })
      .getByRole('button', { name: 'Save note' })
      .click();
    await page.getByRole('status').getByText('Nothing changed.').waitFor();
    await page.close();
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
    // The refused note above is a 400 the browser logs as a failed load; nothing else may be logged.
    expect(consoleErrors.filter((text) => !/status of 400/.test(text))).toEqual([]);
  });
});

(CHROMIUM ? describe : describe.skip)(
  `web UI: a server without a knowledge base${CHROMIUM ? '' : ` (skipped: ${HOW})`}`,
  () => {
    let server: TestServer;
    let browser: Browser;
    const consoleErrors: string[] = [];
    beforeAll(async () => {
      server = await startTestServer({ config: { kb: { enabled: false } } }); // local mode
      browser = await launchChromium();
    }, 60_000);
    afterAll(async () => {
      await browser?.close();
      await server?.close();
    });

    it('says the knowledge base is turned off and how to turn it on, on every knowledge-base page, without errors', async () => {
      const page = await signInTo(
        () => browser,
        () => server.url,
        consoleErrors,
      )('');
      await openKbOff(page);
      await shot(page, 'kb-off');
      for (const hash of ['#/kb/new', `#/kb/${encodeURIComponent('topics/home/2026-01-01-plan.md')}`]) {
        await page.goto(`${server.url}/${hash}`);
        await openKbOff(page, false);
      }
      await page.close();
      expect(consoleErrors).toEqual([]);
    });

    async function openKbOff(page: Page, click = true) {
      if (click) await page.getByRole('link', { name: 'Knowledge base' }).click();
      const note = page.getByRole('note');
      await expect(note.textContent()).resolves.toMatch(
        /no knowledge base: the knowledge base is turned off \(ENGRAM_KB_ENABLED=false\)\..*turns it on with ENGRAM_KB_ENABLED=true/,
      );
      expect(await page.getByRole('alert').count()).toBe(0);
      expect(await page.getByRole('link', { name: 'New note' }).count()).toBe(0);
      expect(await page.locator('main').getByRole('form').count()).toBe(0);
    }
  },
);
