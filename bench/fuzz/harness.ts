/**
 * Sends generated requests to a real server and judges each answer (`npm run fuzz`,
 * test/reliability/fuzz.test.ts). The oracle:
 * - no 5xx, no dropped connection, no crash of the server process (uncaught errors are counted);
 * - every REST rejection is a 4xx with the JSON envelope `{error: {code, message}}` whose code is
 *   one of the server's codes and maps to that very status; raw `/mcp` rejections carry either that
 *   envelope or a JSON-RPC error; MCP tool failures are `isError` results naming a code;
 * - a rejected request leaves the store as it was: every watched user's export (memories, vectors,
 *   history), the API keys and the knowledge-base notes hash the same before and after it.
 *
 * Past 400 lines on purpose: most of it is `Fuzzer`, the sender and the oracle together, since
 * each check reads how its request was sent (REST bytes, the SDK client, a raw JSON-RPC POST).
 */
import { createHash } from 'node:crypto';
import { Agent, request as httpRequest } from 'node:http';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { ERROR_CODES, type ErrorCode } from '../../src/core/errors.js';
import { exportUser } from '../../src/core/transfer.js';
import type { ServerDeps } from '../../src/server/request-context.js';
import {
  describeRequest,
  FUZZ_BODY_LIMIT,
  FUZZ_USER,
  type FuzzRequest,
  KNOWN,
  type RawMcpRequest,
  type RestRequest,
  sendablePath,
  type ToolCall,
  WATCHED_USERS,
} from './requests.js';

export interface Outcome {
  request: string;
  /** HTTP status; for tool calls 200 (success) or 400/500 by the code of the tool error. */
  status: number;
  /** The error code of a rejection (`jsonrpc:<n>` / `mcp:<n>` for protocol-level ones), else null. */
  code: string | null;
  rejected: boolean;
  /** Oracle violations; empty when the answer was fine. */
  problems: string[];
}

export interface Tally {
  total: number;
  byChannel: Record<string, number>;
  byStatus: Record<string, number>;
  byCode: Record<string, number>;
  serverErrors: number;
  crashes: number;
  /** Rejected requests after which the store differed. */
  storeChanges: number;
  rejectedChecked: number;
  /** Requests whose answer broke the oracle (the first 50 are kept in `failures`). */
  violations: number;
  failures: { request: FuzzRequest; outcome: Outcome }[];
}

const TIMEOUT_MS = 60_000;
const KNOWN_CODES = new Set(Object.keys(ERROR_CODES));

const isErrorCode = (code: unknown): code is ErrorCode => typeof code === 'string' && KNOWN_CODES.has(code);

/** Judges an Engram error envelope: a known code that maps to the status it came with. */
function envelopeProblems(status: number, body: unknown): { code: string | null; problems: string[] } {
  const error = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  if (!error || typeof error !== 'object') return { code: null, problems: [`${status} without an error envelope`] };
  const problems: string[] = [];
  if (!isErrorCode(error.code)) problems.push(`unknown error code ${JSON.stringify(error.code)}`);
  else if (ERROR_CODES[error.code] !== status) problems.push(`code ${error.code} came with status ${status}`);
  if (typeof error.message !== 'string' || error.message.length === 0) problems.push('error without a message');
  return { code: typeof error.code === 'string' ? error.code : null, problems };
}

function parseJson(bytes: Buffer): unknown {
  try {
    return JSON.parse(bytes.toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}

interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** One HTTP request exactly as given (no path normalisation, any bytes as the body). */
function send(
  agent: Agent,
  base: URL,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: string | Uint8Array,
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : typeof body === 'string' ? Buffer.from(body) : Buffer.from(body);
    const chunked = headers['transfer-encoding'] === 'chunked';
    const outgoing = httpRequest(
      {
        agent,
        host: base.hostname,
        port: base.port,
        method,
        path,
        headers: {
          ...(payload && !chunked && { 'content-length': String(payload.length) }),
          ...headers,
        },
        timeout: TIMEOUT_MS,
      },
      (incoming) => {
        const chunks: Buffer[] = [];
        incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
        incoming.on('end', () =>
          resolve({ status: incoming.statusCode ?? 0, headers: incoming.headers, body: Buffer.concat(chunks) }),
        );
        incoming.on('error', reject);
      },
    );
    outgoing.on('timeout', () => outgoing.destroy(new Error(`no answer within ${TIMEOUT_MS} ms`)));
    outgoing.on('error', reject);
    outgoing.end(payload);
  });
}

/** The code of a failed tool call: `Error (<code>): …` from Engram, `MCP error <n>: …` from the SDK. */
function toolErrorCode(result: CallToolResult): string | null {
  const text = result.content.map((part) => (part.type === 'text' ? part.text : '')).join('\n');
  const engram = /^Error \(([a-z_]+)\): /.exec(text);
  if (engram) return engram[1] as string;
  const sdk = /^MCP error (-?\d+): /.exec(text);
  return sdk ? `mcp:${sdk[1]}` : null;
}

/** Statuses of protocol-level JSON-RPC codes: server-side faults are 5xx, the rest are the client's. */
const rpcStatus = (code: number): number => (code === -32603 ? 500 : 400);

export class Fuzzer {
  readonly tally: Tally = {
    total: 0,
    byChannel: {},
    byStatus: {},
    byCode: {},
    serverErrors: 0,
    crashes: 0,
    storeChanges: 0,
    rejectedChecked: 0,
    violations: 0,
    failures: [],
  };
  readonly #deps: ServerDeps;
  readonly #base: URL;
  readonly #agent = new Agent({ keepAlive: false });
  #client: Client | null = null;
  #transport: StreamableHTTPClientTransport | null = null;
  /** Ids the server issued (memories and jobs), for KNOWN. */
  readonly #known: string[] = [];
  #pick = 0;
  /** A job an accepted request started, until it has finished. */
  #pendingJob: string | null = null;
  /** The state after the last request, while it is known to be current. */
  #fingerprint: string | null = null;
  readonly #uncaught = (error: unknown) => {
    this.tally.crashes++;
    this.#crashes.push(error instanceof Error ? (error.stack ?? error.message) : String(error));
  };
  readonly #crashes: string[] = [];

  constructor(url: string, deps: ServerDeps) {
    this.#deps = deps;
    this.#base = new URL(url);
    process.on('uncaughtException', this.#uncaught);
    process.on('unhandledRejection', this.#uncaught);
  }

  /** What the server process threw outside any request (each one also counts as a crash). */
  get crashReports(): readonly string[] {
    return this.#crashes;
  }

  /** Opens the SDK client (Streamable HTTP) acting for FUZZ_USER. */
  async connect(): Promise<void> {
    const client = new Client({ name: 'engram-fuzz', version: '0.0.0' });
    const transport = new StreamableHTTPClientTransport(new URL('/mcp', this.#base), {
      requestInit: { headers: { 'x-user-id': FUZZ_USER } },
    });
    await client.connect(transport);
    this.#client = client;
    this.#transport = transport;
  }

  async close(): Promise<void> {
    await this.#client?.close().catch(() => undefined);
    this.#agent.destroy();
    process.off('uncaughtException', this.#uncaught);
    process.off('unhandledRejection', this.#uncaught);
  }

  /** Sends one request, judges the answer and, for a rejection, checks the store did not change. */
  async run(request: FuzzRequest): Promise<Outcome> {
    const crashesBefore = this.tally.crashes;
    this.#fingerprint ??= await this.fingerprint();
    const before = this.#fingerprint;
    const outcome = await this.#send(request);
    if (this.tally.crashes > crashesBefore) outcome.problems.push('the server threw outside a request');
    await this.#settle();
    if (outcome.rejected) {
      const after = await this.fingerprint();
      this.tally.rejectedChecked++;
      if (after !== before) {
        this.tally.storeChanges++;
        outcome.problems.push('a rejected request changed the store');
      }
      this.#fingerprint = after;
    } else {
      this.#fingerprint = null;
    }
    this.#count(request, outcome);
    return outcome;
  }

  /** A hash of everything a request could change: the watched users' exports, the keys, the notes. */
  async fingerprint(): Promise<string> {
    const hash = createHash('sha256');
    for (const user of WATCHED_USERS) {
      hash.update(`user ${user}\n`);
      for await (const line of exportUser(this.#deps.service, user)) hash.update(line);
    }
    for (const key of this.#deps.keys.list()) hash.update(`key ${key.id} ${key.revokedAt}\n`);
    for (const user of WATCHED_USERS) {
      for (const note of this.#deps.kb?.list(user) ?? []) hash.update(`note ${JSON.stringify(note)}\n`);
    }
    return hash.digest('hex');
  }

  #count(request: FuzzRequest, outcome: Outcome): void {
    const { tally } = this;
    tally.total++;
    tally.byChannel[request.channel] = (tally.byChannel[request.channel] ?? 0) + 1;
    tally.byStatus[outcome.status] = (tally.byStatus[outcome.status] ?? 0) + 1;
    if (outcome.code !== null) tally.byCode[outcome.code] = (tally.byCode[outcome.code] ?? 0) + 1;
    if (outcome.status >= 500) tally.serverErrors++;
    if (outcome.problems.length > 0) {
      tally.violations++;
      if (tally.failures.length < 50) tally.failures.push({ request, outcome });
    }
  }

  #knownId(): string {
    const id = this.#known.length > 0 ? (this.#known[this.#pick++ % this.#known.length] as string) : 'none-yet';
    return id;
  }

  #remember(value: unknown): void {
    const id = (value as { id?: unknown } | null)?.id;
    if (typeof id === 'string' && !this.#known.includes(id)) {
      this.#known.push(id);
      if (this.#known.length > 200) this.#known.shift();
    }
  }

  async #send(request: FuzzRequest): Promise<Outcome> {
    try {
      if (request.channel === 'rest') return await this.#rest(request);
      if (request.channel === 'mcp') return await this.#tool(request);
      return await this.#rawMcp(request);
    } catch (error) {
      // A dropped connection or a timeout: the server failed to answer.
      const message = error instanceof Error ? error.message : String(error);
      return {
        request: describeRequest(request),
        status: 599,
        code: null,
        rejected: true,
        problems: [`no answer: ${message}`],
      };
    }
  }

  async #rest(request: RestRequest): Promise<Outcome> {
    const path = sendablePath(request.path.split(KNOWN).join(encodeURIComponent(this.#knownId())));
    const response = await send(this.#agent, this.#base, request.method, path, request.headers, request.body);
    const label = describeRequest(request);
    const type = String(response.headers['content-type'] ?? '');
    const body = type.includes('json') ? parseJson(response.body) : undefined;
    if (response.status >= 500) {
      return {
        request: label,
        status: response.status,
        code: envelopeProblems(response.status, body).code,
        rejected: true,
        problems: [`HTTP ${response.status}: ${response.body.toString('utf8').slice(0, 200)}`],
      };
    }
    if (response.status >= 400) {
      const { code, problems } = envelopeProblems(response.status, body);
      return { request: label, status: response.status, code, rejected: true, problems };
    }
    const problems: string[] = [];
    if (type.startsWith('application/json') && body === undefined)
      problems.push(`${response.status} with a body that is not JSON`);
    this.#collectIds(body);
    return { request: label, status: response.status, code: null, rejected: false, problems };
  }

  /** Remembers the ids a successful answer names (a memory, a batch, a page, a job). */
  #collectIds(body: unknown): void {
    if (!body || typeof body !== 'object') return;
    const value = body as Record<string, unknown>;
    this.#remember(value.memory);
    this.#remember(value.job);
    const job = (value.job as { id?: unknown } | undefined)?.id;
    if (typeof job === 'string') this.#pendingJob = job;
    this.#remember(value.deleted);
    for (const list of [value.items, value.results]) {
      if (!Array.isArray(list)) continue;
      for (const item of list.slice(0, 5)) {
        this.#remember(item);
        this.#remember((item as { memory?: unknown } | null)?.memory);
      }
    }
  }

  async #tool(request: ToolCall): Promise<Outcome> {
    if (!this.#client) throw new Error('connect() first');
    const label = describeRequest(request);
    const args = request.args.id === KNOWN ? { ...request.args, id: this.#knownId() } : request.args;
    let result: CallToolResult;
    try {
      result = (await this.#client.callTool({ name: request.tool, arguments: args })) as CallToolResult;
    } catch (error) {
      // A protocol error: judged by its JSON-RPC code (the SDK client re-throws it as McpError).
      const code = (error as { code?: unknown }).code;
      if (typeof code !== 'number') throw error;
      const status = rpcStatus(code);
      return {
        request: label,
        status,
        code: `mcp:${code}`,
        rejected: true,
        problems: status >= 500 ? [`MCP protocol error ${code}: ${(error as Error).message}`] : [],
      };
    }
    if (!result.isError) {
      const structured = result.structuredContent as Record<string, unknown> | undefined;
      this.#collectIds(structured);
      return { request: label, status: 200, code: null, rejected: false, problems: [] };
    }
    const code = toolErrorCode(result);
    const problems: string[] = [];
    let status = 400;
    if (code === null) problems.push('a tool error without a code');
    else if (code.startsWith('mcp:')) status = rpcStatus(Number(code.slice(4)));
    else if (isErrorCode(code)) status = ERROR_CODES[code];
    else problems.push(`unknown error code ${code}`);
    if (status >= 500) problems.push(`tool error ${code} (${status})`);
    if (result.content.some((part) => part.type === 'text' && /\n\s+at /.test(part.text)))
      problems.push('a stack trace in a tool error');
    return { request: label, status, code, rejected: true, problems };
  }

  async #rawMcp(request: RawMcpRequest): Promise<Outcome> {
    const own = this.#transport?.sessionId;
    const session = request.session === 'none' ? undefined : request.session === 'own' ? own : request.session.fake;
    const headers = { ...request.headers, ...(session !== undefined && { 'mcp-session-id': session }) };
    const response = await send(this.#agent, this.#base, request.method, '/mcp', headers, request.body);
    const label = describeRequest(request);
    if (response.status < 400) {
      return { request: label, status: response.status, code: null, rejected: false, problems: [] };
    }
    const body = parseJson(response.body) as { error?: { code?: unknown; message?: unknown } } | undefined;
    const problems: string[] =
      response.status >= 500 ? [`HTTP ${response.status}: ${response.body.toString('utf8').slice(0, 200)}`] : [];
    const rpc = body?.error && typeof body.error.code === 'number' ? body.error.code : null;
    if (rpc !== null) {
      if (typeof body?.error?.message !== 'string') problems.push('a JSON-RPC error without a message');
      return { request: label, status: response.status, code: `jsonrpc:${rpc}`, rejected: true, problems };
    }
    const judged = envelopeProblems(response.status, body);
    return {
      request: label,
      status: response.status,
      code: judged.code,
      rejected: true,
      problems: [...problems, ...judged.problems],
    };
  }

  /**
   * Waits for what a request set going in the background (an accepted job, whichever watched user
   * it is for), so that its effect lands before the next request is judged.
   */
  async #settle(): Promise<void> {
    const id = this.#pendingJob;
    if (id === null) return;
    this.#pendingJob = null;
    for (const user of WATCHED_USERS) {
      const view = await this.#deps.jobs.get(user, id).catch(() => null);
      if (!view) continue;
      for (let waited = 0; waited < 30_000; waited += 10) {
        const now = await this.#deps.jobs.get(user, id);
        if (now.status === 'succeeded' || now.status === 'failed') return;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      return;
    }
  }
}

/** The server settings the fuzzer runs with: no background writes of its own between requests. */
export const FUZZ_CONFIG = {
  limits: { maxBodyBytes: FUZZ_BODY_LIMIT, rateLimitPerMinute: 0 },
  // Access counts are flushed on a timer and expired memories swept on one: both would change the
  // store between requests, whatever the request was.
  memory: { trackAccess: false, sweepIntervalSeconds: 0 },
  kb: { watch: false },
  jobs: { pollMs: 10, backoffMs: 10 },
} as const;

/** Long strings and byte bodies, shortened for a report. */
function shorten(_key: string, value: unknown): unknown {
  if (typeof value === 'string' && value.length > 80) return `${value.slice(0, 40)}…(${value.length} chars)`;
  if (value instanceof Uint8Array) return `bytes ${Buffer.from(value).toString('hex').slice(0, 80)}`;
  return value;
}

/** A summary of a run, for the fuzz script's report and for test failure messages. */
export function summarize(tally: Tally): string {
  const sorted = (counts: Record<string, number>) =>
    Object.entries(counts)
      .sort(([, a], [, b]) => b - a)
      .map(([key, count]) => `${key} ${count}`)
      .join(', ');
  const failures = tally.failures
    .slice(0, 10)
    .map(
      ({ request, outcome }) =>
        `- ${outcome.request}: ${outcome.problems.join('; ')}\n  ${JSON.stringify(request, shorten).slice(0, 600)}`,
    );
  return [
    `requests ${tally.total} (${sorted(tally.byChannel)})`,
    `statuses: ${sorted(tally.byStatus)}`,
    `error codes: ${sorted(tally.byCode)}`,
    `5xx ${tally.serverErrors}, crashes ${tally.crashes}, rejected requests that changed the store ${tally.storeChanges} of ${tally.rejectedChecked}, oracle violations ${tally.violations}`,
    ...(failures.length > 0 ? ['failures:', ...failures] : []),
  ].join('\n');
}
