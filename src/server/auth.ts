import type { MiddlewareHandler } from 'hono';
import { isLoopback } from '../config.js';
import { EngramError } from '../core/errors.js';
import { userIdSchema } from '../core/schemas.js';
import type { MemorySource } from '../core/types.js';
import type { AppEnv, Caller, ServerDeps } from './request-context.js';

/** Whether requests must carry a key, per `auth.mode` (see docs/configuration.md): in `auto`, once any key was created. */
export function keysRequired(deps: Pick<ServerDeps, 'config' | 'keys'>): boolean {
  const { mode } = deps.config.auth;
  if (mode === 'keys') return true;
  if (mode === 'none') return false;
  return !isLoopback(deps.config.host) || deps.keys.hasKeys();
}

/** The token of an `Authorization: Bearer <token>` header, or null. */
export function bearerToken(authorization: string | undefined): string | null {
  const match = authorization === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(authorization);
  return match ? (match[1] as string) : null;
}

/**
 * Resolves the caller from `Authorization: Bearer <key>` and `X-User-ID`:
 * a user-bound key always acts as its user (another X-User-ID is refused); an admin key acts as
 * X-User-ID (or the default user); without keys (local mode) X-User-ID selects the user.
 */
export function resolveCaller(
  deps: Pick<ServerDeps, 'config' | 'keys'>,
  authorization: string | undefined,
  requestedUser: string | undefined,
  source: MemorySource,
): Caller {
  const requested = requestedUser?.trim() || undefined;
  if (requested !== undefined && !userIdSchema.safeParse(requested).success) {
    throw new EngramError('invalid_request', 'X-User-ID is not a valid user id');
  }
  if (authorization !== undefined) {
    const token = bearerToken(authorization);
    const principal = token ? deps.keys.authenticate(token) : null;
    if (!principal) throw new EngramError('unauthorized', 'the API key is missing, malformed, unknown or revoked');
    if (principal.kind === 'user') {
      if (requested !== undefined && requested !== principal.userId) {
        throw new EngramError('forbidden', 'this key is bound to another user');
      }
      return { userId: principal.userId, principal, actor: { name: `key:${principal.keyId}`, source } };
    }
    return {
      userId: requested ?? deps.config.auth.defaultUser,
      principal,
      actor: { name: `admin:${principal.keyId}`, source },
    };
  }
  if (keysRequired(deps)) throw new EngramError('unauthorized', 'an API key is required (Authorization: Bearer <key>)');
  return { userId: requested ?? deps.config.auth.defaultUser, principal: null, actor: { name: 'local', source } };
}

function loopbackUrl(value: string): boolean {
  try {
    return isLoopback(new URL(value).hostname);
  } catch {
    return false;
  }
}

/**
 * Without keys, only this machine may talk to the server: a request whose Host or Origin names
 * another host (DNS rebinding, a web page in a browser) is refused.
 */
export function localOriginGuard(deps: Pick<ServerDeps, 'config' | 'keys'>): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (!keysRequired(deps)) {
      const origin = c.req.header('origin');
      const host = c.req.header('host');
      if ((origin !== undefined && !loopbackUrl(origin)) || (host !== undefined && !loopbackUrl(`http://${host}`))) {
        throw new EngramError('forbidden', 'requests from other hosts or web origins need an API key');
      }
    }
    await next();
  };
}

/**
 * MCP over HTTP validates `Origin`, as the MCP specification requires of servers (against DNS
 * rebinding): without keys `localOriginGuard` admits only this machine; with keys a request that
 * carries an Origin must come from the server's own origin (the web UI) or one listed in
 * `ENGRAM_MCP_ALLOWED_ORIGINS`. Clients that are not browsers send no Origin and are unaffected.
 */
export function mcpOriginGuard(deps: Pick<ServerDeps, 'config' | 'keys'>): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const origin = c.req.header('origin');
    if (origin !== undefined && keysRequired(deps)) {
      const own = new URL(c.req.url);
      const allowed =
        sameHost(origin, c.req.header('host') ?? own.host) ||
        deps.config.mcp.allowedOrigins.includes(origin.replace(/\/+$/, ''));
      if (!allowed) {
        throw new EngramError(
          'forbidden',
          `MCP requests from the web origin ${JSON.stringify(origin.slice(0, 200))} are not allowed; list it in ENGRAM_MCP_ALLOWED_ORIGINS`,
        );
      }
    }
    await next();
  };
}

/** Whether an Origin names the host (and port) the request was sent to. */
function sameHost(origin: string, host: string): boolean {
  try {
    return new URL(origin).host === host;
  } catch {
    return false;
  }
}

export function authMiddleware(deps: ServerDeps, source: MemorySource): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    c.set('caller', resolveCaller(deps, c.req.header('authorization'), c.req.header('x-user-id'), source));
    await next();
  };
}

/** Admin-only routes: an admin key, or local mode. */
export function isAdmin(caller: Caller): boolean {
  return caller.principal === null || caller.principal.kind === 'admin';
}
