/**
 * Domain errors: a stable machine-readable `code`, a message for people, an optional cause.
 * Front ends map them to HTTP statuses / tool results in one place each.
 */
export const ERROR_CODES = {
  invalid_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  rate_limited: 429,
  embedding_mismatch: 409,
  store_locked: 423,
  unavailable: 503,
  internal: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class EngramError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'EngramError';
    this.code = code;
    this.details = options?.details;
  }

  get status(): number {
    return ERROR_CODES[this.code];
  }
}

export const notFound = (what: string, id: string): EngramError =>
  new EngramError('not_found', `${what} ${JSON.stringify(id)} was not found`);

export const invalid = (message: string, details?: Record<string, unknown>): EngramError =>
  new EngramError('invalid_request', message, details ? { details } : undefined);

export function isEngramError(error: unknown): error is EngramError {
  return error instanceof EngramError;
}
