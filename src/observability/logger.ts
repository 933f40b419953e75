import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

/** Paths whose values never reach a log line, wherever they appear. */
export const REDACT_PATHS = [
  'authorization',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
  'req.headers.authorization',
  'PLIVO_AUTH_TOKEN',
  '*.PLIVO_AUTH_TOKEN',
  'PLIVO_ACCOUNTS',
  '*.PLIVO_ACCOUNTS',
  'authToken',
  '*.authToken',
  'accounts[*].authToken',
  '*.accounts[*].authToken',
  'CALLBACK_SECRET',
  '*.CALLBACK_SECRET',
  'API_KEYS',
  '*.API_KEYS',
  'ADMIN_KEYS',
  '*.ADMIN_KEYS',
  'READ_KEYS',
  '*.READ_KEYS',
  'keys',
  '*.keys',
  'authToken',
  '*.authToken',
  'secret',
  '*.secret',
];

/**
 * stdout, buffered: lines leave in 4 KiB writes instead of one syscall each (per-line writes
 * were a large share of the API's CPU under load: bench/findings.md). The composition root
 * flushes it before every exit, so nothing is lost on shutdown or a fatal error.
 */
export function createStdoutDestination() {
  return pino.destination({ dest: 1, sync: false, minLength: 4096 });
}

/**
 * A logger for lines built from fixed fields only (ids, statuses, route patterns, never a
 * header or a body): it skips the redaction walk, which costs more than the rest of such a
 * line under load. The access line and the worker's one line per intent use it.
 */
export function fixedFieldLogger(logger: Logger): Logger {
  return logger.child({}, { redact: [] });
}

/** pino JSON to `destination` (stdout when absent; tests pass a stream they read back). */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'holdq' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}
