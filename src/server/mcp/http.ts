import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { HttpBindings } from '@hono/node-server';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { SSEServerTransport } from '@modelcontextprotocol/sdk/server/sse.js';
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { EngramError, invalid } from '../../core/errors.js';
import { keysRequired, resolveCaller } from '../auth.js';
import type { AppEnv, Caller, ServerDeps } from '../request-context.js';
import { createMcpServer } from './tools.js';

/**
 * MCP over HTTP: Streamable HTTP at `/mcp` and legacy SSE at `GET /sse` + `POST /messages`.
 *
 * Every request is authenticated like REST (`Authorization: Bearer`, `X-User-ID`, source `mcp`).
 * A session's McpServer is bound to the caller that initialised it; a later request on that
 * session with another key or user is refused (403), so a session id never lets one key act as
 * another key's user. Revoked keys stop working on open sessions at their next request (401), and
 * their open sessions and streams (`GET /mcp`, `/sse`) are closed within `authCheckMs`.
 *
 * `/mcp` uses the SDK's web-standard transport on Hono's `c.req.raw`, so the body the bodyLimit
 * middleware already checked (and, for chunked uploads, already buffered) is the body the
 * transport reads; handing the raw Node request to the Node transport would read a stream that
 * bodyLimit may have consumed. Legacy SSE needs the Node response (`c.env.outgoing`) for its
 * stream; its POSTs are parsed here and handed to the transport as messages.
 */

export interface McpHttpOptions {
  /**
   * No sessions: every POST /mcp gets a fresh server and a JSON response, so any replica behind a
   * load balancer can answer any request. GET and DELETE /mcp answer 405. Legacy SSE stays stateful.
   */
  stateless?: boolean;
  /** A Streamable HTTP session with no request and no open stream for this long is closed (default 30 min). */
  sessionIdleMs?: number;
  /** Open sessions (both transports) beyond this are refused with 503 (default 1,000). */
  maxSessions?: number;
  /** Open sessions of one caller (key and user) beyond this are refused with 429 (default 50), so one tenant cannot take them all. */
  maxSessionsPerCaller?: number;
  /** Comment lines sent on idle legacy SSE streams so proxies keep them open (default 15 s; 0 disables). */
  sseKeepAliveMs?: number;
  /**
   * How often open sessions are checked against the key file (default 2 s): a session whose key was
   * revoked — or a keyless one once keys exist, or any while the key file is lost — is closed with its streams.
   */
  authCheckMs?: number;
}

/** What mountMcp returns: close it during graceful shutdown (before the HTTP server closes). */
export interface McpHandle {
  /** Open sessions over both transports. */
  readonly sessionCount: number;
  /** Closes every session and its streams; new MCP requests are answered 503. */
  close(): Promise<void>;
}

type Session = {
  readonly id: string;
  readonly caller: Caller;
  readonly server: McpServer;
  lastSeen: number;
  /** Requests in flight and streams open on this session; a busy session is never idle. */
  active: number;
  ended: Promise<void> | null;
} & (
  | { readonly kind: 'streamable'; readonly transport: WebStandardStreamableHTTPServerTransport }
  | { readonly kind: 'sse'; readonly transport: SSEServerTransport }
);

const DEFAULTS = {
  sessionIdleMs: 30 * 60_000,
  maxSessions: 1_000,
  maxSessionsPerCaller: 50,
  sseKeepAliveMs: 15_000,
  authCheckMs: 2_000,
} as const;

const mounted = new Set<{ deps: ServerDeps; handle: McpHandle }>();

/**
 * Closes the MCP sessions of every app mounted with `deps` (or of every app in the process).
 * Call it before closing the HTTP server: open SSE streams would otherwise keep it from closing.
 */
export async function closeMcpSessions(deps?: ServerDeps): Promise<void> {
  const targets = [...mounted].filter((entry) => deps === undefined || entry.deps === deps);
  for (const entry of targets) mounted.delete(entry);
  await Promise.all(targets.map((entry) => entry.handle.close()));
}

/** Who a session belongs to: the key (or local mode) and the user it acts for. */
const identity = (caller: Caller): string => `${caller.principal?.keyId ?? 'local'}\u0000${caller.userId}`;

const nodeResponse = (c: Context<AppEnv>): ServerResponse | undefined =>
  (c.env as Partial<HttpBindings> | undefined)?.outgoing;

const rpcError = (c: Context<AppEnv>, status: ContentfulStatusCode, code: number, message: string): Response =>
  c.json({ jsonrpc: '2.0', error: { code, message }, id: null }, status);

export function mountMcp(app: OpenAPIHono<AppEnv>, deps: ServerDeps, options: McpHttpOptions = {}): McpHandle {
  const { service, logger } = deps;
  const settings = { ...DEFAULTS, ...options };
  const sessions = new Map<string, Session>();
  let closing = false;
  let sweeper: NodeJS.Timeout | null = null;

  const newServer = (caller: Caller) => createMcpServer(service, caller, { logger, kb: deps.kb, jobs: deps.jobs });

  const end = (session: Session): Promise<void> => {
    if (session.ended) return session.ended;
    sessions.delete(session.id);
    if (sessions.size === 0 && sweeper) {
      clearInterval(sweeper);
      sweeper = null;
    }
    logger.debug({ sessionId: session.id, kind: session.kind, userId: session.caller.userId }, 'MCP session closed');
    session.ended = Promise.resolve()
      .then(() => session.server.close())
      .catch((error: unknown) => logger.warn({ err: error, sessionId: session.id }, 'closing an MCP session failed'));
    return session.ended;
  };

  const sweepIdle = () => {
    const cutoff = Date.now() - settings.sessionIdleMs;
    for (const session of sessions.values()) {
      if (session.kind === 'streamable' && session.active === 0 && session.lastSeen < cutoff) void end(session);
    }
  };

  /** Whether the credentials a session was opened with would still be let in (fails closed on a lost key file). */
  const stillAllowed = ({ principal }: Caller): boolean => {
    try {
      if (principal === null) return !keysRequired(deps);
      return deps.keys.isActive(principal.keyId);
    } catch {
      return false;
    }
  };

  const sweep = () => {
    for (const session of sessions.values()) {
      if (!stillAllowed(session.caller)) {
        logger.info({ sessionId: session.id, kind: session.kind }, 'MCP session closed: its key is no longer valid');
        void end(session);
      }
    }
    sweepIdle();
  };

  const register = (session: Session) => {
    sessions.set(session.id, session);
    const every = Math.min(settings.authCheckMs, 60_000, Math.max(1_000, settings.sessionIdleMs / 2));
    sweeper ??= setInterval(sweep, every).unref();
    logger.debug({ sessionId: session.id, kind: session.kind, userId: session.caller.userId }, 'MCP session opened');
  };

  const checkCapacity = (caller: Caller) => {
    const mine = () => [...sessions.values()].filter((session) => identity(session.caller) === identity(caller)).length;
    if (sessions.size >= settings.maxSessions || mine() >= settings.maxSessionsPerCaller) sweepIdle();
    if (mine() >= settings.maxSessionsPerCaller) {
      throw new EngramError(
        'rate_limited',
        `this key has ${settings.maxSessionsPerCaller} open MCP sessions; close one (DELETE /mcp) first`,
      );
    }
    if (sessions.size >= settings.maxSessions) {
      throw new EngramError('rate_limited', `too many open MCP sessions (${settings.maxSessions}); try again later`);
    }
  };

  /** Refusals that come before any session is touched: shutdown and auth (app.ts guards origins). */
  const admit = (c: Context<AppEnv>): Caller => {
    if (closing) throw new EngramError('unavailable', 'the server is shutting down');
    return resolveCaller(deps, c.req.header('authorization'), c.req.header('x-user-id'), 'mcp');
  };

  /** The session must belong to this caller: same key (or local mode) acting for the same user. */
  const checkOwner = (session: Session, caller: Caller) => {
    if (identity(session.caller) !== identity(caller)) {
      logger.warn({ sessionId: session.id, kind: session.kind }, 'MCP session used with other credentials');
      throw new EngramError('forbidden', 'this MCP session belongs to other credentials; start a new session');
    }
  };

  /** Marks the session busy until the response (or its stream) ends. */
  const track = (c: Context<AppEnv>, session: Session, done: Promise<unknown>) => {
    session.active += 1;
    session.lastSeen = Date.now();
    const release = () => {
      session.active -= 1;
      session.lastSeen = Date.now();
    };
    const outgoing = nodeResponse(c);
    if (outgoing) outgoing.once('close', release);
    else void done.finally(release);
  };

  // ------------------------------------------------------------ Streamable HTTP

  const streamable = async (c: Context<AppEnv>, caller: Caller): Promise<Response> => {
    const sessionId = c.req.header('mcp-session-id');
    if (sessionId !== undefined) {
      const session = sessions.get(sessionId);
      if (session?.kind !== 'streamable') return rpcError(c, 404, -32001, 'Session not found');
      checkOwner(session, caller);
      const response = session.transport.handleRequest(c.req.raw);
      track(c, session, response);
      return response;
    }
    if (c.req.method !== 'POST') {
      return rpcError(c, 400, -32000, 'Bad Request: an Mcp-Session-Id header is required; initialize a session first');
    }
    const body = await readJson(c);
    if (body === undefined) return rpcError(c, 400, -32700, 'Parse error: the body is not valid JSON');
    const initialize = Array.isArray(body) ? body.some(isInitializeRequest) : isInitializeRequest(body);
    if (!initialize) {
      return rpcError(
        c,
        400,
        -32000,
        'Bad Request: no valid session; send an initialize request without Mcp-Session-Id',
      );
    }
    checkCapacity(caller);
    const server = newServer(caller);
    let session: Session | undefined;
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: randomUUID,
      maxRequestBodySize: deps.config.limits.maxBodyBytes,
      onsessioninitialized: (id) => {
        session = { id, kind: 'streamable', caller, server, transport, lastSeen: Date.now(), active: 0, ended: null };
        register(session);
      },
    });
    transport.onclose = () => {
      if (session) void end(session);
    };
    await server.connect(transport);
    const response = await transport.handleRequest(c.req.raw, { parsedBody: body });
    if (!session) await server.close(); // the initialize was refused: nothing to keep
    return response;
  };

  const stateless = async (c: Context<AppEnv>, caller: Caller): Promise<Response> => {
    if (c.req.method !== 'POST') {
      c.header('Allow', 'POST');
      return rpcError(c, 405, -32000, 'Method not allowed: this server runs MCP without sessions (POST only)');
    }
    const server = newServer(caller);
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableJsonResponse: true,
      maxRequestBodySize: deps.config.limits.maxBodyBytes,
    });
    await server.connect(transport);
    try {
      return await transport.handleRequest(c.req.raw);
    } finally {
      await server.close();
    }
  };

  app.all('/mcp', async (c) => {
    if (!['GET', 'POST', 'DELETE'].includes(c.req.method)) {
      c.header('Allow', 'GET, POST, DELETE');
      return rpcError(c, 405, -32000, `Method not allowed: ${c.req.method}`);
    }
    const caller = admit(c);
    return options.stateless ? stateless(c, caller) : streamable(c, caller);
  });

  // ------------------------------------------------------------ legacy SSE

  app.get('/sse', async (c) => {
    const caller = admit(c);
    const outgoing = nodeResponse(c);
    if (!outgoing) throw new EngramError('unavailable', 'legacy SSE needs the Node HTTP server; use /mcp');
    checkCapacity(caller);
    const server = newServer(caller);
    const transport = new SSEServerTransport('/messages', outgoing);
    const session: Session = {
      id: transport.sessionId,
      kind: 'sse',
      caller,
      server,
      transport,
      lastSeen: Date.now(),
      active: 1, // the stream itself: legacy sessions end when it closes, never by idleness
      ended: null,
    };
    const keepAlive =
      settings.sseKeepAliveMs > 0
        ? setInterval(() => {
            if (!outgoing.writableEnded) outgoing.write(': keep-alive\n\n');
          }, settings.sseKeepAliveMs).unref()
        : null;
    const stop = () => {
      if (keepAlive) clearInterval(keepAlive);
      void end(session);
    };
    transport.onclose = stop;
    outgoing.once('close', stop); // also when the client left before the transport started listening
    register(session);
    await server.connect(transport); // writes the stream's headers and the endpoint event
    if (outgoing.destroyed) stop();
    return RESPONSE_ALREADY_SENT;
  });

  app.post('/messages', async (c) => {
    const caller = admit(c);
    const sessionId = c.req.query('sessionId');
    if (!sessionId) throw invalid('the sessionId query parameter is required (from the /sse endpoint event)');
    const session = sessions.get(sessionId);
    if (session?.kind !== 'sse') {
      throw new EngramError('not_found', 'no open SSE session with this id; connect to /sse again');
    }
    checkOwner(session, caller);
    const body = await readJson(c);
    if (body === undefined) throw invalid('the body is not valid JSON');
    session.lastSeen = Date.now();
    try {
      await session.transport.handleMessage(body);
    } catch {
      throw invalid('the body is not a JSON-RPC message');
    }
    return c.text('Accepted', 202);
  });

  const handle: McpHandle = {
    get sessionCount() {
      return sessions.size;
    },
    async close() {
      closing = true;
      if (sweeper) clearInterval(sweeper);
      sweeper = null;
      await Promise.all([...sessions.values()].map(end));
    },
  };
  mounted.add({ deps, handle });
  return handle;
}

/** The JSON body, or undefined when it is not JSON. */
async function readJson(c: Context<AppEnv>): Promise<unknown> {
  try {
    return (await c.req.json()) as unknown;
  } catch {
    return undefined;
  }
}
