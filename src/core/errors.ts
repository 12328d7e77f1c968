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

/**
 * A setting that is missing or wrong (a bad variable, an unreadable config file, a port taken):
 * the CLI prints its message as it is; a server answers it like any internal error (its text may
 * name files and hosts, so clients get the generic message and the log gets the detail).
 */
export class ConfigError extends EngramError {
  constructor(message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super('internal', message, options);
    this.name = 'ConfigError';
  }
}

/** The code an HTTP status stands for when nothing more precise is known (the first code with that status). */
export function codeForStatus(status: number): ErrorCode {
  const match = (Object.entries(ERROR_CODES) as [ErrorCode, number][]).find(([, value]) => value === status);
  if (match) return match[0];
  return status >= 500 ? 'internal' : 'invalid_request';
}

const isErrorCode = (value: unknown): value is ErrorCode =>
  typeof value === 'string' && Object.hasOwn(ERROR_CODES, value);

/**
 * The error an Engram server answered, rebuilt on the client's side (the HTTP client and the web
 * UI: this module imports nothing, so the UI bundles it): the body's own code, message
 * and details (`{ "error": { code, message, details } }`), else a code for the status (a proxy's
 * HTML page, a body cut short). `Retry-After` becomes `details.retryAfterSeconds` when the body
 * named no delay, so a caller can wait as the server asked.
 */
export function errorFromResponse(status: number, body: string, retryAfter: string | null = null): EngramError {
  // Without Engram's own body a 5xx is a server or proxy that cannot answer now (a gateway's 502/504).
  let code: ErrorCode = status >= 500 && status !== 500 ? 'unavailable' : codeForStatus(status);
  let message = body.trim().slice(0, 300) || `the server answered ${status}`;
  let details: Record<string, unknown> | undefined;
  try {
    const error = (JSON.parse(body) as { error?: { code?: unknown; message?: unknown; details?: unknown } }).error;
    if (isErrorCode(error?.code) && ERROR_CODES[error.code] === status) code = error.code;
    if (typeof error?.message === 'string') message = error.message;
    if (typeof error?.details === 'object' && error.details !== null)
      details = error.details as Record<string, unknown>;
  } catch {
    // Not JSON: keep the status's code and the text.
  }
  const seconds = retryAfter === null ? Number.NaN : Number(retryAfter);
  if (Number.isFinite(seconds) && seconds >= 0 && details?.retryAfterSeconds === undefined)
    details = { ...details, retryAfterSeconds: seconds };
  return new EngramError(code, message, details ? { details } : undefined);
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
