import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import {
  codeForStatus,
  EngramError,
  ERROR_CODES,
  type ErrorCode,
  isPrivateError,
  publicError,
} from '../core/errors.js';
import type { Logger } from '../logger.js';

export interface ErrorBody {
  error: { code: ErrorCode; message: string; details?: Record<string, unknown> };
}

/** The JSON body of an error, as every refusal is answered (a client rebuilds it with `errorFromResponse`). */
export const errorBody = (error: EngramError): ErrorBody => ({ error: publicError(error) });

/** The one place where errors become HTTP responses. Unknown errors never leak their text. */
export function toErrorResponse(error: unknown, logger: Logger): { status: ContentfulStatusCode; body: ErrorBody } {
  if (error instanceof EngramError) {
    if (isPrivateError(error)) logger.error({ err: error }, 'request failed');
    return { status: error.status as ContentfulStatusCode, body: errorBody(error) };
  }
  if (error instanceof HTTPException) {
    // Hono's own refusals: their message is public, whatever the status.
    const code = codeForStatus(error.status);
    return {
      status: ERROR_CODES[code] as ContentfulStatusCode,
      body: { error: { code, message: error.message || code } },
    };
  }
  if (error instanceof SyntaxError)
    return toErrorResponse(new EngramError('invalid_request', 'the request body is not valid JSON'), logger);
  logger.error({ err: error }, 'unhandled error');
  return { status: 500, body: { error: { code: 'internal', message: 'internal error' } } };
}

/** Seconds a client is told to wait after a 503 `unavailable` that names no delay of its own. */
const UNAVAILABLE_RETRY_AFTER_SECONDS = 2;

export function errorHandler(logger: Logger) {
  return (error: unknown, c: Context) => {
    const { status, body } = toErrorResponse(error, logger);
    // Details of unavailable errors stay private, but their retry delay does not; every
    // unavailable answer (store, embedder, key file) says when to come back, on every store.
    const retryAfter =
      (error instanceof EngramError ? error.details?.retryAfterSeconds : undefined) ??
      body.error.details?.retryAfterSeconds ??
      (body.error.code === 'unavailable' ? UNAVAILABLE_RETRY_AFTER_SECONDS : undefined);
    if (typeof retryAfter === 'number') c.header('Retry-After', String(retryAfter));
    return c.json(body, status);
  };
}
