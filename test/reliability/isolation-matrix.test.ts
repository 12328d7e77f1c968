/**
 * Tenant isolation, route by route and tool by tool (issue 10, item 4). Bob holds a key bound to
 * "bob"; Alice has memories (live, updated, deleted), background jobs (an async add and an async
 * extraction), knowledge-base notes and an open MCP session. Every REST route of the OpenAPI
 * document, every other route the app serves, and every MCP tool the server lists has a case here
 * in which Bob aims at Alice's ids and data; the first tests fail when a route or tool exists that
 * no case covers, so a new one cannot ship without its isolation case.
 *
 * What "no leak" means: none of the strings only Alice's data contains (contents, categories,
 * tags, metadata, session, ids, note paths, job ids, her key id) appears in anything Bob gets
 * back — bodies, headers, tool results, and the prompts the LLM receives while serving him; Bob's
 * 404 for one of Alice's ids equals the 404 for a random id with the id swapped (no existence
 * oracle); and Alice's export, notes and jobs are byte-identical after the whole matrix.
 *
 * Runs on sqlite and json, and on postgres (row-level security) with ENGRAM_TEST_POSTGRES_URL.
 */
import { randomBytes } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../src/core/ids.js';
import { type FakeLlm, type ScriptedReply, startFakeLlm } from '../helpers/fake-llm.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const postgresUrl = process.env.ENGRAM_TEST_POSTGRES_URL;
const PG_HOW = 'set ENGRAM_TEST_POSTGRES_URL (scripts/services.sh start) to run it';

interface Reply {
  status: number;
  headers: Headers;
  text: string;
}

interface AliceData {
  live: string;
  updated: string;
  deleted: string;
  addJob: string;
  extractJob: string;
  notePath: string;
  raceNote: { path: string; body: string; owner: string };
  bobRacePath: string;
  cursor: string;
  keyId: string;
}

interface World {
  server: TestServer;
  llm: FakeLlm;
  keys: { alice: string; bob: string; admin: string };
  alice: AliceData;
  /** Strings only Alice's data contains. */
  markers: string[];
  /** Alice's export, notes and jobs before the matrix ran. */
  before: string;
}

const facts = (...contents: string[]): ScriptedReply => ({
  toolCalls: [{ name: 'record_facts', arguments: { facts: contents.map((content) => ({ content })) } }],
});

/** The LLM's replies for an extraction of one fact: the fact, then (if asked) "add it". */
const extraction = (content: string): ScriptedReply[] => [
  facts(content),
  { toolCalls: [{ name: 'decide', arguments: { decisions: [{ fact: 'f1', action: 'add', reason: 'new' }] } }] },
];

async function rest(
  w: Pick<World, 'server'>,
  key: string | null,
  method: string,
  path: string,
  options: { body?: unknown; ndjson?: string; headers?: Record<string, string> } = {},
): Promise<Reply> {
  const headers = new Headers(options.headers);
  if (key) headers.set('authorization', `Bearer ${key}`);
  let body: string | undefined;
  if (options.ndjson !== undefined) {
    headers.set('content-type', 'application/x-ndjson');
    body = options.ndjson;
  } else if (options.body !== undefined) {
    headers.set('content-type', 'application/json');
    body = JSON.stringify(options.body);
  }
  const response = await fetch(new URL(path, w.server.url), { method, headers, ...(body !== undefined && { body }) });
  return { status: response.status, headers: response.headers, text: await response.text() };
}

const json = <T>(reply: Reply): T => JSON.parse(reply.text) as T;

const headerText = (headers: Headers) => [...headers].map(([name, value]) => `${name}: ${value}`).join('\n');

/** None of Alice's strings (but those in `allowed`, which Bob sent himself) in `text`. */
function expectNoLeak(w: World, text: string, allowed: string[] = []): void {
  for (const marker of w.markers) {
    if (!allowed.includes(marker)) expect(text, `leaks ${JSON.stringify(marker)}`).not.toContain(marker);
  }
}

const expectReplyNoLeak = (w: World, reply: Reply, allowed: string[] = []) =>
  expectNoLeak(w, `${headerText(reply.headers)}\n${reply.text}`, allowed);

/** What a client can observe of a reply, with `id` replaced by a placeholder. */
function shape(reply: Reply, id: string) {
  return {
    status: reply.status,
    contentType: reply.headers.get('content-type'),
    headers: [...reply.headers.keys()].filter((name) => name !== 'date' && name !== 'content-length').sort(),
    body: reply.text.replaceAll(id, '<id>'),
  };
}

/** Bob's reply for Alice's id is a 404 identical to the one for an id that does not exist. */
async function expectSameAsMissing(
  w: World,
  request: (id: string) => Promise<Reply>,
  theirs: string,
  missing: string,
  allowed: string[] = [],
): Promise<void> {
  const [forTheirs, forMissing] = [await request(theirs), await request(missing)];
  expect(forTheirs.status, forTheirs.text).toBe(404);
  expect(shape(forTheirs, theirs)).toEqual(shape(forMissing, missing));
  expectReplyNoLeak(w, forTheirs, [theirs, ...allowed]);
}

/** A path of the same form as `path` that names no note. */
const missingNote = (path: string) => path.replace(/[^/]+\.md$/, `${'x'.repeat(8)}-nothing-here.md`);

async function waitForJob(
  w: Pick<World, 'server'>,
  key: string,
  id: string,
): Promise<{ status: string; result?: unknown }> {
  for (let i = 0; i < 400; i++) {
    const job = json<{ status: string }>(await rest(w, key, 'GET', `/v1/jobs/${id}`));
    if (job.status === 'succeeded' || job.status === 'failed') return job;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`job ${id} did not finish`);
}

/** Everything of Alice's that Bob must not change: her export, her notes (listed and read) and her jobs. */
async function aliceState(w: Pick<World, 'server' | 'keys'> & { alice: AliceData }): Promise<string> {
  const key = w.keys.alice;
  const parts = [(await rest(w, key, 'GET', '/v1/export')).text];
  const notes = await rest(w, key, 'GET', '/v1/kb/notes');
  parts.push(notes.text);
  for (const note of json<{ items: { path: string }[] }>(notes).items) {
    parts.push((await rest(w, key, 'GET', `/v1/kb/note?path=${encodeURIComponent(note.path)}`)).text);
  }
  for (const job of [w.alice.addJob, w.alice.extractJob])
    parts.push((await rest(w, key, 'GET', `/v1/jobs/${job}`)).text);
  return parts.join('\n---\n');
}

// ------------------------------------------------------------------ the REST matrix

interface Case {
  /** The route as the OpenAPI document names it (`GET /v1/memories/{id}`), or as the app serves it. */
  route: string;
  name: string;
  run(w: World): Promise<void>;
}

const bobRest = (w: World, method: string, path: string, options?: Parameters<typeof rest>[4]) =>
  rest(w, w.keys.bob, method, path, options);

const AS_ALICE = '?userId=alice&user_id=alice';

/** Phase 1: Bob reads, probes and writes his own data; nothing of Alice's content enters his data. */
const REST_CASES: Case[] = [
  {
    route: 'POST /v1/memories',
    name: 'stores for Bob whatever user the body or query names; alice in the body is refused',
    async run(w) {
      for (const field of ['userId', 'user_id']) {
        const refused = await bobRest(w, 'POST', '/v1/memories', { body: { content: 'Bob note', [field]: 'alice' } });
        expect(refused.status).toBe(400);
        expectReplyNoLeak(w, refused);
      }
      const added = await bobRest(w, 'POST', `/v1/memories${AS_ALICE}`, {
        body: { content: 'Bob keeps his bicycle in the hallway', infer: false },
      });
      expect(added.status).toBe(201);
      const { id } = json<{ memory: { id: string } }>(added).memory;
      expect((await bobRest(w, 'GET', `/v1/memories/${id}`)).status).toBe(200);
      expect((await rest(w, w.keys.alice, 'GET', `/v1/memories/${id}`)).status).toBe(404);

      const accepted = await bobRest(w, 'POST', `/v1/memories?async=true&userId=alice`, {
        body: { content: 'Bob waters the cactus on Mondays', infer: false },
      });
      expect(accepted.status).toBe(202);
      const job = json<{ job: { id: string } }>(accepted).job;
      const done = (await waitForJob(w, w.keys.bob, job.id)) as { status: string; result: { memory: { id: string } } };
      expect(done.status).toBe('succeeded');
      expect((await rest(w, w.keys.alice, 'GET', `/v1/jobs/${job.id}`)).status).toBe(404);
      expect((await rest(w, w.keys.alice, 'GET', `/v1/memories/${done.result.memory.id}`)).status).toBe(404);
    },
  },
  {
    route: 'POST /v1/memories',
    name: "an add Bob's LLM consolidates compares it with Bob's memories only",
    async run(w) {
      const mark = w.llm.requests.length;
      w.llm.script(...extraction('Bob keeps a locker code too'));
      const added = await bobRest(w, 'POST', '/v1/memories', { body: { content: 'My locker code is 1234' } });
      w.llm.clear();
      expect(added.status, added.text).toBeLessThan(300);
      expectReplyNoLeak(w, added);
      expectNoLeak(w, JSON.stringify(w.llm.requests.slice(mark)));
    },
  },
  {
    route: 'GET /v1/memories',
    name: "lists none of Alice's memories, whatever the filters, the user params or the cursor",
    async run(w) {
      const queries = [
        '',
        AS_ALICE,
        '?category=alice-vault',
        '?tags=alice-tag',
        '?tagsAll=alice-tag',
        '?sessionId=alice-session',
        `?metadata=${encodeURIComponent('{"owner":"alice-meta"}')}`,
        '?includeSuperseded=true&includeExpired=true',
        `?cursor=${encodeURIComponent(w.alice.cursor)}`,
        `?limit=1&cursor=${encodeURIComponent(w.alice.cursor)}`,
      ];
      for (const query of queries) {
        const listed = await bobRest(w, 'GET', `/v1/memories${query}`);
        expect([200, 400], listed.text).toContain(listed.status);
        expectReplyNoLeak(w, listed, ['alice-vault', 'alice-tag', 'alice-session', 'alice-meta']);
        if (listed.status === 200) expectNoLeak(w, listed.text);
      }
    },
  },
  {
    route: 'GET /v1/memories/{id}',
    name: "answers 404 for Alice's live, updated and deleted memories, as for a random id",
    async run(w) {
      for (const id of [w.alice.live, w.alice.updated, w.alice.deleted]) {
        await expectSameAsMissing(w, (x) => bobRest(w, 'GET', `/v1/memories/${x}`), id, newId());
      }
    },
  },
  {
    route: 'PATCH /v1/memories/{id}',
    name: "cannot change Alice's memories; 404 as for a random id",
    async run(w) {
      for (const id of [w.alice.live, w.alice.deleted]) {
        const patch = (x: string) => bobRest(w, 'PATCH', `/v1/memories/${x}`, { body: { content: 'Bob was here' } });
        await expectSameAsMissing(w, patch, id, newId());
      }
    },
  },
  {
    route: 'DELETE /v1/memories/{id}',
    name: "cannot delete Alice's memories; 404 as for a random id",
    async run(w) {
      for (const id of [w.alice.live, w.alice.deleted]) {
        await expectSameAsMissing(w, (x) => bobRest(w, 'DELETE', `/v1/memories/${x}`), id, newId());
      }
    },
  },
  {
    route: 'GET /v1/memories/{id}/history',
    name: "shows no history of Alice's memories, deleted ones included; 404 as for a random id",
    async run(w) {
      for (const id of [w.alice.live, w.alice.updated, w.alice.deleted]) {
        await expectSameAsMissing(w, (x) => bobRest(w, 'GET', `/v1/memories/${x}/history`), id, newId());
      }
    },
  },
  {
    route: 'POST /v1/memories/{id}/restore',
    name: "cannot restore Alice's deleted memory, and her live one is not a 409; 404 as for a random id",
    async run(w) {
      for (const id of [w.alice.deleted, w.alice.live]) {
        await expectSameAsMissing(w, (x) => bobRest(w, 'POST', `/v1/memories/${x}/restore`), id, newId());
      }
    },
  },
  {
    route: 'POST /v1/memories/{id}/forget',
    name: "cannot erase Alice's memories, live or deleted; 404 as for a random id, and hers stay",
    async run(w) {
      for (const id of [w.alice.live, w.alice.deleted]) {
        await expectSameAsMissing(w, (x) => bobRest(w, 'POST', `/v1/memories/${x}/forget`), id, newId());
        expect((await rest(w, w.keys.alice, 'GET', `/v1/memories/${id}/history`)).status).toBe(200);
      }
    },
  },
  {
    route: 'GET /v1/deleted-memories',
    name: "lists none of Alice's deleted memories, whatever the user params or the cursor",
    async run(w) {
      // The control: Alice's own listing has her deleted memory, so its absence for Bob means something.
      const hers = await rest(w, w.keys.alice, 'GET', '/v1/deleted-memories');
      expect(hers.text).toContain(w.alice.deleted);
      for (const query of ['', AS_ALICE, `?limit=1&cursor=${encodeURIComponent(w.alice.cursor)}`]) {
        const listed = await bobRest(w, 'GET', `/v1/deleted-memories${query}`);
        expect([200, 400], listed.text).toContain(listed.status);
        expectReplyNoLeak(w, listed);
      }
    },
  },
  {
    route: 'POST /v1/memories/extract',
    name: "extracts into Bob's memories, with none of Alice's in the LLM's prompts; jobs are Bob's",
    async run(w) {
      const refused = await bobRest(w, 'POST', '/v1/memories/extract', {
        body: { messages: [{ content: 'I like maps' }], userId: 'alice' },
      });
      expect(refused.status).toBe(400);
      const mark = w.llm.requests.length;
      w.llm.script(...extraction('Bob keeps his locker code in a notebook'));
      const sync = await bobRest(w, 'POST', `/v1/memories/extract${AS_ALICE}`, {
        body: { messages: [{ role: 'user', content: 'My locker code is in my notebook.' }] },
      });
      w.llm.clear();
      expect(sync.status, sync.text).toBe(200);
      expectReplyNoLeak(w, sync);

      w.llm.script(...extraction('Bob collects vintage maps'));
      const accepted = await bobRest(w, 'POST', '/v1/memories/extract?async=true', {
        body: { messages: [{ role: 'user', content: 'I collect vintage maps.' }] },
      });
      expect(accepted.status).toBe(202);
      const { id } = json<{ job: { id: string } }>(accepted).job;
      const done = await waitForJob(w, w.keys.bob, id);
      w.llm.clear();
      expectNoLeak(w, JSON.stringify(done));
      expect((await rest(w, w.keys.alice, 'GET', `/v1/jobs/${id}`)).status).toBe(404);
      expectNoLeak(w, JSON.stringify(w.llm.requests.slice(mark)));
    },
  },
  {
    route: 'GET /v1/jobs/{id}',
    name: "answers 404 for Alice's add and extraction jobs, as for a random id",
    async run(w) {
      for (const id of [w.alice.addJob, w.alice.extractJob]) {
        await expectSameAsMissing(w, (x) => bobRest(w, 'GET', `/v1/jobs/${x}`), id, newId());
      }
    },
  },
  {
    route: 'POST /v1/search',
    name: "finds none of Alice's memories in any mode or filter; a user in the body is refused",
    async run(w) {
      for (const mode of ['hybrid', 'vector', 'keyword']) {
        for (const query of ['locker code zebra', 'theremin quartz', 'ferret', 'secret plan launch rocket', 'alice']) {
          const found = await bobRest(w, 'POST', '/v1/search', { body: { query, mode, limit: 50 } });
          expect(found.status).toBe(200);
          expectReplyNoLeak(w, found);
        }
      }
      const filters = [
        { category: 'alice-vault' },
        { tagsAny: ['alice-tag'] },
        { sessionId: 'alice-session' },
        { metadata: { owner: 'alice-meta' } },
        { includeSuperseded: true, includeExpired: true },
      ];
      for (const filter of filters) {
        const found = await bobRest(w, 'POST', '/v1/search', { body: { query: 'locker code', filter } });
        expect(found.status, found.text).toBe(200);
        expectNoLeak(w, found.text);
      }
      for (const field of ['userId', 'user_id']) {
        const refused = await bobRest(w, 'POST', '/v1/search', { body: { query: 'locker', [field]: 'alice' } });
        expect(refused.status).toBe(400);
      }
    },
  },
  {
    route: 'GET /v1/me',
    name: "says Bob is Bob, whatever the user params, and names none of Alice's keys",
    async run(w) {
      for (const query of ['', AS_ALICE]) {
        const me = await bobRest(w, 'GET', `/v1/me${query}`);
        expect(me.status).toBe(200);
        expect(json<{ userId: string; admin: boolean }>(me)).toMatchObject({ userId: 'bob', admin: false });
        expectReplyNoLeak(w, me);
      }
    },
  },
  {
    route: 'GET /v1/categories',
    name: "counts none of Alice's categories",
    async run(w) {
      for (const query of ['', AS_ALICE, '?tags=alice-tag', '?includeSuperseded=true&includeExpired=true']) {
        const categories = await bobRest(w, 'GET', `/v1/categories${query}`);
        expect(categories.status).toBe(200);
        expectReplyNoLeak(w, categories, ['alice-tag']);
        expectNoLeak(w, categories.text);
      }
    },
  },
  {
    route: 'GET /v1/stats',
    name: "counts none of Alice's memories, per category or per day",
    async run(w) {
      expect((await rest(w, w.keys.alice, 'GET', '/v1/stats')).text).toContain('alice-vault');
      const own = json<{ categories: { count: number }[] }>(await bobRest(w, 'GET', '/v1/categories'));
      const bobs = own.categories.reduce((sum, { count }) => sum + count, 0);
      for (const query of ['', AS_ALICE, '?days=366']) {
        const stats = await bobRest(w, 'GET', `/v1/stats${query}`);
        expect(stats.status).toBe(200);
        expectReplyNoLeak(w, stats);
        const body = json<{ memories: number; addedPerDay: { count: number }[] }>(stats);
        expect(body.memories).toBe(bobs);
        expect(body.addedPerDay.reduce((sum, { count }) => sum + count, 0)).toBeLessThanOrEqual(bobs);
      }
    },
  },
  {
    route: 'DELETE /v1/users/{id}',
    name: 'refuses to purge Alice (403), exactly as for a user that does not exist',
    async run(w) {
      const purge = (user: string) => bobRest(w, 'DELETE', `/v1/users/${user}`);
      const alice = await purge('alice');
      expect(alice.status).toBe(403);
      expect(shape(alice, 'alice')).toEqual(shape(await purge('nobodyx'), 'nobodyx'));
    },
  },
  {
    route: 'GET /v1/export',
    name: "exports Bob's memories only, whatever user the query names",
    async run(w) {
      for (const query of ['', AS_ALICE]) {
        const exported = await bobRest(w, 'GET', `/v1/export${query}`);
        expect(exported.status).toBe(200);
        expect(exported.headers.get('content-disposition')).toContain('engram-bob.jsonl');
        expectReplyNoLeak(w, exported);
      }
    },
  },
  {
    route: 'GET /v1/admin/keys',
    name: 'refuses to list keys (403)',
    async run(w) {
      const listed = await bobRest(w, 'GET', '/v1/admin/keys');
      expect(listed.status).toBe(403);
      expectReplyNoLeak(w, listed);
    },
  },
  {
    route: 'GET /v1/admin/users',
    name: "refuses to list the store's users (403), so Alice's id and count stay hidden",
    async run(w) {
      const listed = await bobRest(w, 'GET', '/v1/admin/users');
      expect(listed.status).toBe(403);
      expect(listed.text).not.toContain('alice');
      expectReplyNoLeak(w, listed);
    },
  },
  {
    route: 'POST /v1/admin/keys',
    name: 'refuses to create a key for Alice, or an admin key (403)',
    async run(w) {
      for (const body of [{ userId: 'alice' }, { admin: true }, { userId: 'bob' }]) {
        const created = await bobRest(w, 'POST', '/v1/admin/keys', { body });
        expect(created.status).toBe(403);
        expect(created.text).not.toContain('engram_');
      }
    },
  },
  {
    route: 'DELETE /v1/admin/keys/{id}',
    name: "refuses to revoke Alice's key (403), exactly as for a key that does not exist",
    async run(w) {
      const revoke = (id: string) => bobRest(w, 'DELETE', `/v1/admin/keys/${id}`);
      const missing = newId();
      const theirs = await revoke(w.alice.keyId);
      expect(theirs.status).toBe(403);
      expect(shape(theirs, w.alice.keyId)).toEqual(shape(await revoke(missing), missing));
      expect((await rest(w, w.keys.alice, 'GET', '/v1/categories')).status).toBe(200);
    },
  },
  {
    route: 'GET /v1/kb/notes',
    name: "lists none of Alice's notes",
    async run(w) {
      for (const query of ['', '?category=alice-notes', '?category=general', AS_ALICE]) {
        const listed = await bobRest(w, 'GET', `/v1/kb/notes${query}`);
        expect(listed.status).toBe(200);
        expectNoLeak(w, listed.text);
        expect(listed.text).not.toContain(w.alice.raceNote.path);
      }
    },
  },
  {
    route: 'POST /v1/kb/notes',
    name: "a note Bob writes beside Alice's, at the same moment and with the same title, does not replace hers",
    async run(w) {
      // The two notes were written concurrently while the world was set up.
      expect(w.alice.raceNote.owner).toBe('alice');
      expect(w.alice.raceNote.body).toContain('amber-walrus');
      expect(w.alice.bobRacePath).not.toBe(w.alice.raceNote.path);
      const refused = await bobRest(w, 'POST', '/v1/kb/notes', { body: { body: 'Bob note', userId: 'alice' } });
      expect(refused.status).toBe(400);
    },
  },
  {
    route: 'GET /v1/kb/note',
    name: "cannot read Alice's notes; 404 as for a path that does not exist",
    async run(w) {
      for (const path of [w.alice.notePath, w.alice.raceNote.path]) {
        const read = (x: string) => bobRest(w, 'GET', `/v1/kb/note?path=${encodeURIComponent(x)}`);
        await expectSameAsMissing(w, read, path, missingNote(path), ['alice-notes']);
      }
    },
  },
  {
    route: 'PATCH /v1/kb/note',
    name: "cannot edit Alice's notes; 404 as for a path that does not exist",
    async run(w) {
      for (const path of [w.alice.notePath, w.alice.raceNote.path]) {
        const edit = (x: string) =>
          bobRest(w, 'PATCH', `/v1/kb/note?path=${encodeURIComponent(x)}`, { body: { body: 'Bob was here' } });
        await expectSameAsMissing(w, edit, path, missingNote(path), ['alice-notes']);
      }
    },
  },
  {
    route: 'GET /v1/kb/status',
    name: "says only whether there is a knowledge base, nothing of Alice's notes",
    async run(w) {
      for (const query of ['', AS_ALICE]) {
        const status = await bobRest(w, 'GET', `/v1/kb/status${query}`);
        expect(status.status).toBe(200);
        expect(json<{ available: boolean }>(status).available).toBe(true);
        expectReplyNoLeak(w, status);
      }
    },
  },
  {
    route: 'DELETE /v1/kb/note',
    name: "cannot delete Alice's notes; 404 as for a path that does not exist",
    async run(w) {
      for (const path of [w.alice.notePath, w.alice.raceNote.path]) {
        const remove = (x: string) => bobRest(w, 'DELETE', `/v1/kb/note?path=${encodeURIComponent(x)}`);
        await expectSameAsMissing(w, remove, path, missingNote(path), ['alice-notes']);
      }
    },
  },
  {
    route: 'POST /v1/kb/search',
    name: "finds none of Alice's note sections",
    async run(w) {
      for (const query of ['secret plan launch rocket', 'race body walrus', 'Alice plan']) {
        const found = await bobRest(w, 'POST', '/v1/kb/search', { body: { query, limit: 50 } });
        expect(found.status).toBe(200);
        expectReplyNoLeak(w, found);
      }
    },
  },
  {
    route: 'POST /v1/chat',
    name: "answers from Bob's memories and notes only: nothing of Alice's reaches the LLM or the reply",
    async run(w) {
      for (const stream of [false, true]) {
        const mark = w.llm.requests.length;
        w.llm.script(
          { toolCalls: [{ name: 'search_memory', arguments: { query: 'locker code zebra', limit: 20 } }] },
          { toolCalls: [{ name: 'kb_search', arguments: { query: 'secret plan launch rocket' } }] },
          { toolCalls: [{ name: 'kb_read', arguments: { path: w.alice.notePath } }] },
          { content: 'I found nothing about that.' },
        );
        const reply = await bobRest(w, 'POST', '/v1/chat', {
          body: { messages: [{ role: 'user', content: 'What is the locker code?' }], stream },
        });
        w.llm.clear();
        expect(reply.status, reply.text).toBe(200);
        expect(reply.text).toContain('I found nothing');
        // The note path is Bob's own guess, echoed in the tool's "not found"; its contents never are.
        expectReplyNoLeak(w, reply, [w.alice.notePath, 'alice-notes']);
        expectNoLeak(w, JSON.stringify(w.llm.requests.slice(mark)), [w.alice.notePath, 'alice-notes']);
      }
    },
  },
  // Routes outside the OpenAPI document.
  ...['/health', '/ready', '/metrics', '/openapi.json', '/', '/ui/index.html'].map(
    (path): Case => ({
      route: `GET ${path === '/ui/index.html' ? '/ui/*' : path}`,
      name: "shows nothing of Alice's, with Bob's key or none",
      async run(w) {
        for (const key of [w.keys.bob, null]) {
          const reply = await rest(w, key, 'GET', path);
          expect(reply.status).toBeLessThan(500);
          expectReplyNoLeak(w, reply);
        }
      },
    }),
  ),
  {
    route: 'ALL /mcp',
    name: "cannot use Alice's Streamable HTTP session, nor open one as Alice",
    async run(w) {
      const client = await mcpClient(w, 'mcp', w.keys.alice);
      try {
        const sessionId = (client.transport as StreamableHTTPClientTransport).sessionId as string;
        const hijack = await bobRest(w, 'POST', '/mcp', {
          headers: { accept: 'application/json, text/event-stream', 'mcp-session-id': sessionId },
          body: { jsonrpc: '2.0', id: 9, method: 'tools/call', params: { name: 'retrieve_memory', arguments: {} } },
        });
        expect(hijack.status).toBe(403);
        expectReplyNoLeak(w, hijack);
        const asAlice = await bobRest(w, 'POST', '/mcp', {
          headers: { accept: 'application/json, text/event-stream', 'x-user-id': 'alice' },
          body: {
            jsonrpc: '2.0',
            id: 1,
            method: 'initialize',
            params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'bob', version: '0' } },
          },
        });
        expect(asAlice.status).toBe(403);
      } finally {
        await client.close();
      }
    },
  },
  {
    route: 'GET /sse',
    name: 'cannot open a legacy SSE session as Alice',
    async run(w) {
      const response = await fetch(new URL('/sse', w.server.url), {
        headers: { authorization: `Bearer ${w.keys.bob}`, 'x-user-id': 'alice' },
      });
      expect(response.status).toBe(403);
      await response.body?.cancel();
    },
  },
  {
    route: 'POST /messages',
    name: "cannot post into Alice's legacy SSE session",
    async run(w) {
      let endpoint: URL | undefined;
      const recording: typeof fetch = (input, init) => {
        const url = new URL(input instanceof Request ? input.url : String(input));
        if (url.pathname === '/messages') endpoint = url;
        return fetch(input, init);
      };
      const client = new Client({ name: 'alice', version: '0' });
      await client.connect(
        new SSEClientTransport(new URL('/sse', w.server.url), {
          requestInit: { headers: { authorization: `Bearer ${w.keys.alice}` } },
          fetch: recording,
        }),
      );
      try {
        await client.listTools();
        const hijack = await bobRest(w, 'POST', `${endpoint?.pathname}${endpoint?.search}`, {
          body: { jsonrpc: '2.0', id: 5, method: 'tools/call', params: { name: 'retrieve_memory', arguments: {} } },
        });
        expect(hijack.status).toBe(403);
        expectReplyNoLeak(w, hijack);
      } finally {
        await client.close();
      }
    },
  },
];

/** Phase 3: writes that put copies of Alice's content (or her note's title) into Bob's data. */
const COPY_CASES: Case[] = [
  {
    route: 'POST /v1/memories',
    name: "storing exactly Alice's content is a new memory of Bob's, not a duplicate of hers",
    async run(w) {
      const live = json<{ content: string }>(await rest(w, w.keys.alice, 'GET', `/v1/memories/${w.alice.live}`));
      for (const infer of [false, true]) {
        if (infer) w.llm.script(...extraction(live.content));
        const added = await bobRest(w, 'POST', '/v1/memories', { body: { content: live.content, infer } });
        w.llm.clear();
        expect(added.status, added.text).toBe(201);
        const result = json<{ duplicate: boolean; memory: { id: string } }>(added);
        expect(result.duplicate).toBe(false);
        expect(result.memory.id).not.toBe(w.alice.live);
        expect((await bobRest(w, 'DELETE', `/v1/memories/${result.memory.id}`)).status).toBe(200);
      }
    },
  },
  {
    route: 'POST /v1/kb/notes',
    name: "a note with Alice's sourceId and title is a new note of Bob's, not hers",
    async run(w) {
      const written = await bobRest(w, 'POST', '/v1/kb/notes', {
        body: {
          body: 'Bob plan: paint the fence',
          title: 'Alice plan',
          category: 'alice-notes',
          sourceId: 'alice-src-1',
        },
      });
      expect(written.status, written.text).toBe(201);
      const { note } = json<{ note: { path: string; body: string; owner: string } }>(written);
      expect(note).toMatchObject({ owner: 'bob', body: expect.stringContaining('paint the fence') });
      expect(note.path).not.toBe(w.alice.notePath);
    },
  },
  {
    route: 'POST /v1/import',
    name: "importing Alice's export (ids included) gives Bob copies and leaves hers alone",
    async run(w) {
      const theirs = (await rest(w, w.keys.alice, 'GET', '/v1/export')).text;
      const imported = await bobRest(w, 'POST', `/v1/import${AS_ALICE}`, { ndjson: theirs });
      expect(imported.status).toBe(200);
      expect(json<{ imported: number }>(imported).imported).toBeGreaterThan(0);
      expectNoLeak(w, imported.text);
      const mine = json<{ items: { id: string }[] }>(await bobRest(w, 'GET', '/v1/memories?limit=100'));
      for (const id of [w.alice.live, w.alice.updated]) expect(mine.items.map((m) => m.id)).not.toContain(id);
    },
  },
  {
    route: 'DELETE /v1/users/{id}',
    name: 'Bob purging himself removes only his own data',
    async run(w) {
      const purged = await bobRest(w, 'DELETE', '/v1/users/bob');
      expect(purged.status).toBe(200);
      expect(json<{ userId: string }>(purged).userId).toBe('bob');
      expect(json<{ items: unknown[] }>(await bobRest(w, 'GET', '/v1/memories')).items).toEqual([]);
    },
  },
];

// ------------------------------------------------------------------ the MCP matrix

type Kind = 'mcp' | 'sse';

async function mcpClient(w: World, kind: Kind, key: string, headers: Record<string, string> = {}): Promise<Client> {
  const client = new Client({ name: 'isolation-matrix', version: '0' });
  const requestInit = { headers: { authorization: `Bearer ${key}`, ...headers } };
  await client.connect(
    kind === 'mcp'
      ? new StreamableHTTPClientTransport(new URL('/mcp', w.server.url), { requestInit })
      : new SSEClientTransport(new URL('/sse', w.server.url), { requestInit }),
  );
  return client;
}

const tool = async (client: Client, name: string, args: Record<string, unknown> = {}) =>
  (await client.callTool({ name, arguments: args })) as CallToolResult;

const resultText = (result: CallToolResult) => JSON.stringify(result);

/** Bob's tool result for Alice's id is the error a random id gets, id swapped. */
async function expectToolSameAsMissing(
  w: World,
  call: (id: string) => Promise<CallToolResult>,
  theirs: string,
  missing: string,
  allowed: string[] = [],
): Promise<void> {
  const [forTheirs, forMissing] = [await call(theirs), await call(missing)];
  expect(forTheirs.isError).toBe(true);
  expect(resultText(forTheirs)).toContain('(not_found)');
  expect(resultText(forTheirs).replaceAll(theirs, '<id>')).toBe(resultText(forMissing).replaceAll(missing, '<id>'));
  expectNoLeak(w, resultText(forTheirs), [theirs, ...allowed]);
}

function expectToolOk(w: World, result: CallToolResult, allowed: string[] = []): void {
  expect(result.isError, resultText(result)).toBeFalsy();
  expectNoLeak(w, resultText(result), allowed);
}

type ToolCase = (w: World, bob: Client) => Promise<void>;

const MCP_CASES: Record<string, ToolCase> = {
  async store_memory(w, bob) {
    const stored = await tool(bob, 'store_memory', {
      content: 'Bob stores his umbrella by the door',
      userId: 'alice',
      user_id: 'alice',
    });
    expectToolOk(w, stored);
    const id = (stored.structuredContent as { memory_id: string }).memory_id;
    expect((await bobRest(w, 'GET', `/v1/memories/${id}`)).status).toBe(200);
    expect((await rest(w, w.keys.alice, 'GET', `/v1/memories/${id}`)).status).toBe(404);
    const accepted = await tool(bob, 'store_memory', { content: 'Bob feeds the fish', async: true });
    expectToolOk(w, accepted);
    const job = (accepted.structuredContent as { job: { id: string } }).job.id;
    await waitForJob(w, w.keys.bob, job);
    expect((await rest(w, w.keys.alice, 'GET', `/v1/jobs/${job}`)).status).toBe(404);
  },
  async retrieve_memory(w, bob) {
    const calls = [
      { query: 'locker code zebra' },
      { query: 'theremin quartz ferret', limit: 50 },
      {},
      { category: 'alice-vault' },
      { tags: ['alice-tag'] },
      { userId: 'alice' },
    ];
    for (const args of calls) expectToolOk(w, await tool(bob, 'retrieve_memory', args), ['alice-vault', 'alice-tag']);
  },
  async list_categories(w, bob) {
    expectToolOk(w, await tool(bob, 'list_categories', { userId: 'alice' }));
  },
  async search_memory(w, bob) {
    for (const mode of ['hybrid', 'vector', 'keyword']) {
      expectToolOk(w, await tool(bob, 'search_memory', { query: 'locker code zebra', mode, limit: 50 }));
    }
    const filtered = [
      { query: 'locker', category: 'alice-vault' },
      { query: 'locker', tags: ['alice-tag'], tagsAll: ['alice-tag'] },
      { query: 'locker', metadata: { owner: 'alice-meta' }, includeExpired: true, includeSuperseded: true },
    ];
    for (const args of filtered) {
      expectToolOk(w, await tool(bob, 'search_memory', args), ['alice-vault', 'alice-tag', 'alice-meta']);
    }
  },
  async update_memory(w, bob) {
    for (const id of [w.alice.live, w.alice.deleted]) {
      await expectToolSameAsMissing(
        w,
        (x) => tool(bob, 'update_memory', { id: x, content: 'Bob was here' }),
        id,
        newId(),
      );
    }
  },
  async delete_memory(w, bob) {
    for (const id of [w.alice.live, w.alice.deleted]) {
      await expectToolSameAsMissing(w, (x) => tool(bob, 'delete_memory', { id: x }), id, newId());
    }
  },
  async restore_memory(w, bob) {
    // Alice's live memory would be a 409 for her; for Bob it must look like a random id.
    for (const id of [w.alice.live, w.alice.deleted]) {
      await expectToolSameAsMissing(w, (x) => tool(bob, 'restore_memory', { id: x }), id, newId());
    }
  },
  async forget_memory(w, bob) {
    for (const id of [w.alice.live, w.alice.deleted]) {
      await expectToolSameAsMissing(w, (x) => tool(bob, 'forget_memory', { id: x }), id, newId());
      expect((await rest(w, w.keys.alice, 'GET', `/v1/memories/${id}/history`)).status).toBe(200);
    }
  },
  async list_deleted_memories(w, bob) {
    for (const args of [{}, { cursor: w.alice.cursor }, { limit: 100 }]) {
      const listed = await tool(bob, 'list_deleted_memories', args);
      expectNoLeak(w, resultText(listed));
      expect(resultText(listed)).not.toContain(w.alice.deleted);
    }
  },
  async list_memories(w, bob) {
    for (const args of [{}, { cursor: w.alice.cursor }, { category: 'alice-vault' }, { tags: ['alice-tag'] }]) {
      const listed = await tool(bob, 'list_memories', args);
      expectNoLeak(w, resultText(listed), ['alice-vault', 'alice-tag']);
    }
  },
  async memory_history(w, bob) {
    for (const id of [w.alice.live, w.alice.updated, w.alice.deleted]) {
      await expectToolSameAsMissing(w, (x) => tool(bob, 'memory_history', { id: x }), id, newId());
    }
  },
  async get_job(w, bob) {
    for (const id of [w.alice.addJob, w.alice.extractJob]) {
      await expectToolSameAsMissing(w, (x) => tool(bob, 'get_job', { id: x }), id, newId());
    }
  },
  async extract_memories(w, bob) {
    const mark = w.llm.requests.length;
    w.llm.script(...extraction('Bob repairs clocks'));
    const result = await tool(bob, 'extract_memories', {
      messages: [{ role: 'user', content: 'I repair clocks; my locker code is elsewhere.' }],
    });
    w.llm.clear();
    expectToolOk(w, result);
    w.llm.script(...extraction('Bob sails on weekends'));
    const accepted = await tool(bob, 'extract_memories', {
      messages: [{ content: 'I sail on weekends.' }],
      async: true,
    });
    expectToolOk(w, accepted);
    const job = (accepted.structuredContent as { job: { id: string } }).job.id;
    expectNoLeak(w, JSON.stringify(await waitForJob(w, w.keys.bob, job)));
    w.llm.clear();
    expect((await rest(w, w.keys.alice, 'GET', `/v1/jobs/${job}`)).status).toBe(404);
    expectNoLeak(w, JSON.stringify(w.llm.requests.slice(mark)));
  },
  async kb_search(w, bob) {
    for (const query of ['secret plan launch rocket', 'race body walrus']) {
      expectToolOk(w, await tool(bob, 'kb_search', { query, limit: 20 }));
    }
  },
  async kb_read(w, bob) {
    for (const path of [w.alice.notePath, w.alice.raceNote.path]) {
      await expectToolSameAsMissing(w, (x) => tool(bob, 'kb_read', { path: x }), path, missingNote(path), [
        'alice-notes',
      ]);
    }
  },
  async kb_list(w, bob) {
    for (const args of [{}, { category: 'alice-notes' }, { category: 'general', limit: 200 }]) {
      const listed = await tool(bob, 'kb_list', args);
      expectToolOk(w, listed, ['alice-notes']);
      expect(resultText(listed)).not.toContain(w.alice.raceNote.path);
    }
  },
  async kb_add_note(w, bob) {
    const written = await tool(bob, 'kb_add_note', {
      body: 'Bob mcp note about kites',
      title: 'Kites',
      userId: 'alice',
    });
    expectToolOk(w, written);
    const { path } = written.structuredContent as { path: string };
    expect(json<{ owner: string }>(await bobRest(w, 'GET', `/v1/kb/note?path=${encodeURIComponent(path)}`)).owner).toBe(
      'bob',
    );
    expect((await rest(w, w.keys.alice, 'GET', `/v1/kb/note?path=${encodeURIComponent(path)}`)).status).toBe(404);
  },
};

/** Routes the app serves that are middleware only (no handler of their own). */
const MIDDLEWARE = new Set(['ALL /*', 'ALL /v1/*', 'ALL /sse', 'ALL /messages', 'ALL /ui/*', 'ALL /']);

// ------------------------------------------------------------------ setting up Alice's world

async function buildWorld(store: 'sqlite' | 'json' | 'postgres', schema: string): Promise<World> {
  const llm = await startFakeLlm();
  const server = await startTestServer({
    auth: 'keys',
    config: {
      store,
      llm: { provider: 'openai', baseUrl: llm.baseUrl, model: 'scripted', maxRetries: 0 },
      ...(store === 'postgres' && { postgres: { url: postgresUrl as string, schema } }),
    },
  });
  const keys = {
    alice: await server.createKey({ userId: 'alice' }),
    bob: await server.createKey({ userId: 'bob' }),
    admin: await server.createKey({ admin: true }),
  };
  const w = { server, llm, keys };
  const asAlice = (method: string, path: string, body?: unknown) => rest(w, keys.alice, method, path, { body });
  const add = async (body: Record<string, unknown>) => {
    const added = await asAlice('POST', '/v1/memories', { infer: false, ...body });
    expect(added.status, added.text).toBe(201);
    return json<{ memory: { id: string } }>(added).memory.id;
  };

  const live = await add({
    content: "Alice's locker code is 7431-zebra",
    category: 'alice-vault',
    tags: ['alice-tag'],
    metadata: { owner: 'alice-meta' },
    sessionId: 'alice-session',
  });
  const updated = await add({ content: 'Alice plays the theremin-quartz on Sundays' });
  expect(
    (await asAlice('PATCH', `/v1/memories/${updated}`, { content: 'Alice plays the theremin-quartz on Saturdays' }))
      .status,
  ).toBe(200);
  const deleted = await add({ content: 'Alice once owned a ferret named Pumpernickel' });
  expect((await asAlice('DELETE', `/v1/memories/${deleted}`)).status).toBe(200);

  const addJob = json<{ job: { id: string } }>(
    await asAlice('POST', '/v1/memories?async=true', { content: 'Alice parks on level obsidian-9', infer: false }),
  ).job.id;
  const addJobDone = (await waitForJob(w, keys.alice, addJob)) as { result: { memory: { id: string } } };
  llm.script(...extraction('Alice is allergic to saffron-lilies'));
  const extractJob = json<{ job: { id: string } }>(
    await asAlice('POST', '/v1/memories/extract?async=true', {
      messages: [{ role: 'user', content: 'I am allergic to saffron-lilies.' }],
    }),
  ).job.id;
  await waitForJob(w, keys.alice, extractJob);
  llm.clear();

  const note = await asAlice('POST', '/v1/kb/notes', {
    title: 'Alice plan',
    body: 'Secret plan: marigold-rocket launch at dawn',
    category: 'alice-notes',
    sourceId: 'alice-src-1',
  });
  expect(note.status, note.text).toBe(201);
  const { note: written, memoryIds } = json<{ note: { path: string }; memoryIds: string[] }>(note);

  // Alice and Bob write a note with the same title, in the same category, at the same moment.
  const [aliceRace, bobRace] = await Promise.all([
    asAlice('POST', '/v1/kb/notes', { title: 'Shared title', body: 'Alice race body amber-walrus' }),
    rest(w, keys.bob, 'POST', '/v1/kb/notes', { body: { title: 'Shared title', body: 'Bob race body' } }),
  ]);
  const racePath = json<{ note: { path: string } }>(aliceRace).note.path;
  const raceNote = await asAlice('GET', `/v1/kb/note?path=${encodeURIComponent(racePath)}`);
  const race = raceNote.status === 200 ? json<{ body: string; owner: string }>(raceNote) : { body: '', owner: '' };

  const cursor = json<{ nextCursor: string }>(await asAlice('GET', '/v1/memories?limit=1')).nextCursor;
  const keyId = server.deps.keys.list().find((key) => key.userId === 'alice')?.id as string;
  const alice: AliceData = {
    live,
    updated,
    deleted,
    addJob,
    extractJob,
    notePath: written.path,
    raceNote: { path: racePath, ...race },
    bobRacePath: json<{ note: { path: string } }>(bobRace).note.path,
    cursor,
    keyId,
  };
  const markers = [
    '7431-zebra',
    'theremin-quartz',
    'Pumpernickel',
    'obsidian-9',
    'saffron',
    'marigold-rocket',
    'amber-walrus',
    'alice-vault',
    'alice-tag',
    'alice-meta',
    'alice-session',
    'alice-notes',
    'alice-src-1',
    live,
    updated,
    deleted,
    addJob,
    extractJob,
    addJobDone.result.memory.id,
    ...memoryIds,
    written.path,
    racePath,
    keyId,
    cursor,
  ];
  const before = await aliceState({ server, keys, alice });
  // Reading her own data changes nothing of it: the comparison at the end is meaningful.
  expect(await aliceState({ server, keys, alice })).toBe(before);
  return { server, llm, keys, alice, markers, before };
}

// ------------------------------------------------------------------ the suites

const backends = [
  { store: 'sqlite', run: true, why: '' },
  { store: 'json', run: true, why: '' },
  { store: 'postgres', run: Boolean(postgresUrl), why: PG_HOW },
] as const;
if (!postgresUrl) console.warn(`isolation matrix on postgres skipped: ${PG_HOW}`);

for (const backend of backends) {
  (backend.run ? describe : describe.skip)(
    `tenant isolation matrix on ${backend.store}${backend.run ? '' : ` (skipped: ${backend.why})`}`,
    () => {
      const schema = `iso_${randomBytes(6).toString('hex')}`;
      let w: World;

      beforeAll(async () => {
        w = await buildWorld(backend.store, schema);
      }, 180_000);
      afterAll(async () => {
        await w?.server.close();
        await w?.llm.close();
        if (backend.store === 'postgres') {
          const client = new pg.Client({ connectionString: postgresUrl });
          await client.connect();
          await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
          await client.end();
        }
      });

      it('has a case for every route of the OpenAPI document and every route the app serves', async () => {
        const doc = json<{ paths: Record<string, Record<string, unknown>> }>(
          await rest(w, null, 'GET', '/openapi.json'),
        );
        const documented = Object.entries(doc.paths).flatMap(([path, item]) =>
          Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`),
        );
        const served = w.server.app.routes
          .map((route) => `${route.method} ${route.path.replace(/:(\w+)/g, '{$1}')}`)
          .filter((route) => !MIDDLEWARE.has(route));
        const covered = new Set([...REST_CASES, ...COPY_CASES].map((entry) => entry.route));
        const missing = [...new Set([...documented, ...served])].filter((route) => !covered.has(route)).sort();
        expect(missing, 'routes without an isolation case').toEqual([]);
        const stale = [...covered].filter((route) => !documented.includes(route) && !served.includes(route));
        expect(stale, 'cases for routes that no longer exist').toEqual([]);
        expect(documented.length).toBeGreaterThanOrEqual(20);
      });

      it('has a case for every MCP tool the server lists', async () => {
        const bob = await mcpClient(w, 'mcp', w.keys.bob);
        try {
          const { tools } = await bob.listTools();
          expect(tools.map((entry) => entry.name).sort()).toEqual(Object.keys(MCP_CASES).sort());
        } finally {
          await bob.close();
        }
      });

      it("refuses x-user-id: alice with Bob's key on every /v1 route, as for any other user", async () => {
        const doc = json<{ paths: Record<string, Record<string, unknown>> }>(
          await rest(w, null, 'GET', '/openapi.json'),
        );
        for (const [path, item] of Object.entries(doc.paths)) {
          for (const method of Object.keys(item)) {
            const url = path.replace('{id}', w.alice.live);
            const body = ['post', 'patch'].includes(method) ? {} : undefined;
            const as = (user: string) =>
              bobRest(w, method.toUpperCase(), url, { body, headers: { 'x-user-id': user } });
            const alice = await as('alice');
            expect(alice.status, `${method} ${path}`).toBe(403);
            expect(shape(alice, 'alice')).toEqual(shape(await as('nobodyx'), 'nobodyx'));
            expectReplyNoLeak(w, alice, [w.alice.live]);
          }
        }
      });

      for (const entry of REST_CASES) {
        it(`${entry.route}: ${entry.name}`, () => entry.run(w), 60_000);
      }

      for (const kind of ['mcp', 'sse'] as const) {
        for (const [name, run] of Object.entries(MCP_CASES)) {
          it(`MCP ${name} over ${kind === 'mcp' ? 'Streamable HTTP' : 'legacy SSE'}: nothing of Alice's`, async () => {
            const bob = await mcpClient(w, kind, w.keys.bob);
            try {
              await run(w, bob);
            } finally {
              await bob.close();
            }
          }, 60_000);
        }
      }

      for (const entry of COPY_CASES) {
        it(`${entry.route}: ${entry.name}`, () => entry.run(w), 60_000);
      }

      it("leaves Alice's export, notes and jobs byte-identical after the whole matrix", async () => {
        expect(await aliceState(w)).toBe(w.before);
      });
    },
  );
}
