import { AxeBuilder } from '@axe-core/playwright';
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { CHROMIUM, HOW, launchChromium, newPage, signInTo } from './browser.js';

/**
 * docs/ui.md promises labelled controls and WCAG AA contrast in light and dark mode: axe-core
 * checks every page against WCAG 2.1 A and AA, in both colour schemes, with real content on it.
 */
(CHROMIUM ? describe : describe.skip)(`web UI accessibility (axe-core)${CHROMIUM ? '' : ` (skipped: ${HOW})`}`, () => {
  let server: TestServer;
  let browser: Browser;
  let aliceKey: string;
  let adminKey: string;
  let memoryId: string;
  let deletedId: string;
  const signIn = signInTo(
    () => browser,
    () => server.url,
  );
  const call = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${server.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${aliceKey}`, 'content-type': 'application/json' },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    expect(response.status, `${method} ${path}`).toBeLessThan(300);
    return (await response.json()) as { memory: { id: string } };
  };

  beforeAll(async () => {
    server = await startTestServer({ auth: 'keys' });
    aliceKey = await server.createKey({ userId: 'alice' });
    adminKey = await server.createKey({ admin: true });
    memoryId = (await call('POST', '/v1/memories', { content: 'Alice swims on Tuesdays', tags: ['sport'] })).memory.id;
    await call('PATCH', `/v1/memories/${memoryId}`, { content: 'Alice swims on Tuesdays and Fridays', pinned: true });
    deletedId = (await call('POST', '/v1/memories', { content: 'Alice used to run marathons', infer: false })).memory
      .id;
    await call('DELETE', `/v1/memories/${deletedId}`);
    await call('POST', '/v1/kb/notes', { title: 'Swim plan', category: 'sport', body: '# Tuesday\n\n*Easy* laps.' });
    await call('POST', '/v1/search', { query: 'swim' });
    browser = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  const pages: { name: string; key: () => string; open: (page: Page) => Promise<void> }[] = [
    {
      name: 'search with results',
      key: () => aliceKey,
      async open(page) {
        await page.getByLabel('Query').fill('swim');
        await page.getByRole('button', { name: 'Search', exact: true }).click();
        await page.locator('.results > li').first().waitFor();
      },
    },
    {
      name: 'memories',
      key: () => aliceKey,
      async open(page) {
        await page.goto(`${server.url}/#/memories`);
        await page.locator('.memories > li').first().waitFor();
      },
    },
    {
      name: 'a memory and its history',
      key: () => aliceKey,
      async open(page) {
        await page.goto(`${server.url}/#/memories/${memoryId}`);
        await page.getByRole('list', { name: 'History, oldest first' }).locator('li').nth(1).waitFor();
      },
    },
    {
      name: 'a deleted memory',
      key: () => aliceKey,
      async open(page) {
        await page.goto(`${server.url}/#/memories/${deletedId}`);
        await page.getByRole('heading', { name: 'Memory deleted' }).waitFor();
      },
    },
    {
      name: 'recently deleted',
      key: () => aliceKey,
      async open(page) {
        await page.goto(`${server.url}/#/deleted`);
        await page.getByRole('list', { name: 'Deleted memories' }).locator('li').first().waitFor();
      },
    },
    {
      name: 'knowledge base and a note',
      key: () => aliceKey,
      async open(page) {
        await page.getByRole('link', { name: 'Knowledge base' }).click();
        await page.getByRole('link', { name: 'Swim plan' }).click();
        await page.locator('.markdown').getByRole('heading', { name: 'Tuesday' }).waitFor();
      },
    },
    {
      name: 'knowledge base with search results',
      key: () => aliceKey,
      async open(page) {
        await page.getByRole('link', { name: 'Knowledge base' }).click();
        await page.getByRole('searchbox', { name: 'Search notes' }).fill('easy laps');
        await page.getByRole('button', { name: 'Search', exact: true }).click();
        await page.getByRole('list', { name: 'Matching notes' }).locator('li').first().waitFor();
      },
    },
    {
      name: 'a new note, refused',
      key: () => aliceKey,
      async open(page) {
        await page.goto(`${server.url}/#/kb/new`);
        const editor = page.getByRole('form', { name: 'New note' });
        await editor.getByLabel('Category').fill('../nowhere');
        await editor.getByLabel('Text (markdown)').fill('A note that is refused');
        await editor.getByRole('button', { name: 'Save note' }).click();
        await editor.getByRole('alert').waitFor();
      },
    },
    {
      name: 'editing a note',
      key: () => aliceKey,
      async open(page) {
        await page.getByRole('link', { name: 'Knowledge base' }).click();
        await page.getByRole('link', { name: 'Swim plan' }).click();
        await page.getByRole('link', { name: 'Edit' }).click();
        await page.getByRole('form', { name: 'Edit “Swim plan”' }).getByLabel('Text (markdown)').waitFor();
      },
    },
    {
      name: 'a memory added',
      key: () => aliceKey,
      async open(page) {
        await page.getByRole('link', { name: 'Memories' }).click();
        const form = page.getByRole('form', { name: 'Add a memory' });
        await form.getByLabel('Content').fill(`Alice added this from the UI at ${Date.now()}`);
        await form.getByRole('button', { name: 'Add memory' }).click();
        await form.getByRole('status').waitFor();
      },
    },
    {
      name: 'overview',
      key: () => aliceKey,
      async open(page) {
        await page.getByRole('link', { name: 'Overview' }).click();
        await page.getByRole('row', { name: /^hybrid/ }).waitFor();
      },
    },
    {
      name: 'an admin acting for another user, refused one',
      key: () => adminKey,
      async open(page) {
        const form = page.getByRole('form', { name: 'Act for a user' });
        await form.getByLabel('Act for').fill('alice');
        await form.getByRole('button', { name: 'Switch' }).click();
        await page.getByRole('button', { name: 'Stop acting for alice' }).waitFor();
        await form.getByLabel('Act for').fill('not valid!');
        await form.getByRole('button', { name: 'Switch' }).click();
        await form.getByRole('alert').waitFor();
      },
    },
    {
      name: 'admin',
      key: () => adminKey,
      async open(page) {
        await page.getByRole('link', { name: 'Admin' }).click();
        await page
          .getByRole('table', { name: 'Users' })
          .getByRole('row', { name: /^alice/ })
          .waitFor();
      },
    },
  ];

  const violations = async (page: Page) => {
    const result = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
    return result.violations.map(
      (violation) => `${violation.id}: ${violation.nodes.map((node) => node.target.join(' ')).join(', ')}`,
    );
  };

  it('works from the keyboard alone: sign in, search, open a result, pin it', async () => {
    const page = await newPage(browser);
    await page.goto(server.url);
    const tabTo = async (target: Locator) => {
      const focused = async () => (await target.and(page.locator(':focus')).count()) > 0;
      for (let presses = 0; presses < 40 && !(await focused()); presses++) await page.keyboard.press('Tab');
      if (await focused()) return;
      throw new Error(`Tab never reached ${target}`);
    };
    await tabTo(page.getByLabel('API key'));
    await page.keyboard.type(aliceKey);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Search' }).waitFor();
    await tabTo(page.getByLabel('Query'));
    await page.keyboard.type('swim');
    await page.keyboard.press('Enter');
    const details = page.locator('.results > li').first().getByRole('link', { name: 'details' });
    // Results arrive after the request: tabbing before they exist walks past where they will be.
    await details.waitFor();
    await tabTo(details);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Memory', exact: true }).waitFor();
    const pin = page.getByRole('button', { name: /^(Pin|Unpin)$/ });
    await pin.waitFor();
    const before = await pin.getAttribute('aria-pressed');
    await tabTo(pin);
    await page.keyboard.press('Enter');
    await expect.poll(() => pin.getAttribute('aria-pressed')).toBe(before === 'true' ? 'false' : 'true');
    await page.close();
  });

  it('the check itself finds an unlabelled field and faint text', async () => {
    const page = await signIn(aliceKey);
    // CSSOM styles are allowed by the CSP (inline style attributes are not).
    await page.evaluate(`(() => {
      const main = document.querySelector('main');
      main.append(document.createElement('input'));
      const faint = document.createElement('p');
      faint.textContent = 'barely readable';
      faint.style.color = '#dddddd';
      main.append(faint);
    })()`);
    const found = await violations(page);
    expect(found.map((line) => line.split(':')[0])).toEqual(expect.arrayContaining(['label', 'color-contrast']));
    await page.close();
  });

  for (const colorScheme of ['light', 'dark'] as const) {
    it(`sign-in page (${colorScheme}): no WCAG 2.1 A/AA violations`, async () => {
      const page = await newPage(browser, { colorScheme });
      await page.goto(server.url);
      await page.getByLabel('API key').waitFor();
      expect(await violations(page)).toEqual([]);
      await page.close();
    });
    for (const entry of pages) {
      it(`${entry.name} (${colorScheme}): no WCAG 2.1 A/AA violations`, async () => {
        const page = await signIn(entry.key(), { colorScheme });
        await entry.open(page);
        expect(await violations(page)).toEqual([]);
        await page.close();
      });
    }
  }
});

(CHROMIUM ? describe : describe.skip)(
  `web UI accessibility without a knowledge base${CHROMIUM ? '' : ` (skipped: ${HOW})`}`,
  () => {
    let server: TestServer;
    let browser: Browser;
    beforeAll(async () => {
      server = await startTestServer({ config: { kb: { enabled: false } } }); // local mode
      browser = await launchChromium();
    }, 60_000);
    afterAll(async () => {
      await browser?.close();
      await server?.close();
    });

    for (const colorScheme of ['light', 'dark'] as const) {
      it(`the page that says so (${colorScheme}): no WCAG 2.1 A/AA violations`, async () => {
        const page = await signInTo(
          () => browser,
          () => server.url,
        )('', { colorScheme });
        await page.getByRole('link', { name: 'Knowledge base' }).click();
        await page.getByRole('note').waitFor();
        const result = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
        expect(result.violations.map((violation) => violation.id)).toEqual([]);
        await page.close();
      });
    }
  },
);
