import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { EngramError } from '../../src/core/errors.js';
import { type FakeEmbeddings, startFakeEmbeddings } from '../helpers/fake-embeddings.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * The web UI's API module (ui/src/api.ts, run here outside the browser against a real server)
 * rebuilds the server's errors as the HTTP client does: an `EngramError` with the body's code and
 * details, and the delay the server asked for — so a page can tell "not yours" from "slow down".
 */

/** What the test uses of ui/src/api.ts (imported by path: the UI is type-checked by its own tsconfig, with the DOM). */
interface UiApi {
  api: { me(): Promise<unknown>; get(id: string): Promise<unknown> };
  admin: { users(): Promise<unknown> };
  session: { signIn(key: string): void; signOut(): void };
  errorMessage(caught: unknown): string;
}
const UI_API = '../../ui/src/api.ts';

let fake: FakeEmbeddings;
let server: TestServer;
let ui: UiApi;

beforeAll(async () => {
  fake = await startFakeEmbeddings();
  server = await startTestServer({
    auth: 'keys',
    config: {
      embedder: 'openai',
      openai: { baseUrl: fake.baseUrl, model: 'ui-api', dimension: 32 },
      limits: { rateLimitPerMinute: 6 },
    },
  });
  const stored = new Map<string, string>();
  vi.stubGlobal('sessionStorage', {
    getItem: (name: string) => stored.get(name) ?? null,
    setItem: (name: string, value: string) => stored.set(name, value),
    removeItem: (name: string) => stored.delete(name),
  });
  // The UI calls its own origin with relative paths.
  const realFetch = globalThis.fetch;
  vi.stubGlobal('fetch', (path: string, init?: RequestInit) => realFetch(`${server.url}${path}`, init));
  ui = (await import(/* @vite-ignore */ UI_API)) as UiApi;
});
afterAll(async () => {
  vi.unstubAllGlobals();
  await server?.close();
  await fake?.close();
});

const failure = async (work: Promise<unknown>): Promise<EngramError> => {
  const error = await work.then(
    () => null,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(EngramError);
  return error as EngramError;
};

describe('the web UI’s API errors', () => {
  it('a user’s key on an admin page is forbidden, with the server’s message', async () => {
    ui.session.signIn(await server.createKey({ userId: 'alice' }));
    const error = await failure(ui.admin.users());
    expect(error.code).toBe('forbidden');
    expect(ui.errorMessage(error)).toBe(error.message);
    expect(error.message).not.toBe('');
  });

  it('a memory that is not there is not_found', async () => {
    ui.session.signIn(await server.createKey({ userId: 'alice' }));
    const error = await failure(ui.api.get('0190aaaa-0000-7000-8000-000000000000'));
    expect(error.code).toBe('not_found');
  });

  it('the rate limit is rate_limited with the delay the server asked for', async () => {
    ui.session.signIn(await server.createKey({ userId: 'bob' }));
    let error: unknown = null;
    for (let i = 0; i < 12 && error === null; i++) {
      error = await ui.api.me().then(
        () => null,
        (caught: unknown) => caught,
      );
    }
    expect(error).toBeInstanceOf(EngramError);
    expect((error as EngramError).code).toBe('rate_limited');
    expect((error as EngramError).details?.retryAfterSeconds).toBeGreaterThan(0);
  });
});
