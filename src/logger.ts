import pino, { type Logger } from 'pino';

export type { Logger };

/** Values that must never reach a log line, wherever they appear in a logged object. */
const REDACT = [
  'authorization',
  'apiKey',
  'key',
  'token',
  'password',
  'remote',
  'webhookSecret',
  '*.remote',
  '*.webhookSecret',
  '*.authorization',
  '*.apiKey',
  '*.key',
  '*.token',
  '*.password',
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
];

/**
 * Structured JSON logs on stderr. Stdout is reserved: the stdio MCP transport owns it.
 */
export function createLogger(level: string): Logger {
  return pino(
    { level, redact: { paths: REDACT, censor: '[redacted]' }, base: { service: 'engram' } },
    pino.destination({ dest: 2, sync: true }),
  );
}
