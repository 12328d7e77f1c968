/**
 * The web UI (docs/ui.md): the built assets in dist/ui/ (`npm run build`), served at `/` and
 * `/ui/*`, with a Content-Security-Policy that allows only the server's own scripts, styles and
 * API. The UI calls the REST API like any client, with the user's key as a Bearer token.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { serveStatic } from '@hono/node-server/serve-static';
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import { packageRoot } from '../../util/paths.js';
import type { AppEnv, ServerDeps } from '../request-context.js';

export const UI_DIR = join(packageRoot(), 'dist', 'ui');

const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const secured: MiddlewareHandler<AppEnv> = async (c, next) => {
  await next();
  c.header('Content-Security-Policy', CSP);
  c.header('X-Content-Type-Options', 'nosniff');
  c.header('Referrer-Policy', 'no-referrer');
  c.header('X-Frame-Options', 'DENY');
};

export function uiRoutes(app: OpenAPIHono<AppEnv>, deps: Pick<ServerDeps, 'logger'>): void {
  if (!existsSync(join(UI_DIR, 'index.html'))) {
    deps.logger.warn({ dir: UI_DIR }, 'web UI not built (npm run build): / serves no UI');
    return;
  }
  const index = serveStatic<AppEnv>({ path: join(UI_DIR, 'index.html') });
  app.use('/ui/*', secured);
  app.use('/', secured);
  app.get('/', (c, next) => {
    c.header('Cache-Control', 'no-cache');
    return index(c, next);
  });
  app.get('/ui/*', serveStatic<AppEnv>({ root: UI_DIR, rewriteRequestPath: (path) => path.replace(/^\/ui/, '') }));
}
