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
  /** The request line and headers are over Node's 16 KiB limit (answered before the app sees the request). */
  headers_too_large: 431,
  rate_limited: 429,
  /** A per-user limit (memories, bytes) would be exceeded: delete some first. */
  quota_exceeded: 429,
  embedding_mismatch: 409,
  store_locked: 423,
  /** The LLM answered, but its reply was unusable even after repair (retrying may help). */
  llm_output_invalid: 502,
  unavailable: 503,
  overloaded: 503,
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

/** Codes whose messages may name files, URLs or hosts: clients get a generic text, the log gets the detail. */
const PRIVATE_CODES = new Set<ErrorCode>(['internal', 'unavailable']);

const GENERIC: Partial<Record<ErrorCode, string>> = {
  internal: 'internal error; the failure was logged on the server',
  unavailable: 'a backend (store, embedder) is unavailable; the cause was logged on the server',
};

/**
 * What a client may see of an error: its stable code, message and details — except for internal
 * and unavailable errors, which get a generic message (theirs may name files, URLs or hosts).
 */
export function publicError(error: EngramError): {
  code: ErrorCode;
  message: string;
  details?: Record<string, unknown>;
} {
  if (PRIVATE_CODES.has(error.code)) return { code: error.code, message: GENERIC[error.code] as string };
  return { code: error.code, message: error.message, ...(error.details && { details: error.details }) };
}

/** Whether an error's full text should go to the server log (it was hidden from the client). */
export const isPrivateError = (error: unknown): boolean =>
  !(error instanceof EngramError) || PRIVATE_CODES.has(error.code);
