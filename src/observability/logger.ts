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
  'CALLBACK_SECRET',
  '*.CALLBACK_SECRET',
  'API_KEYS',
  '*.API_KEYS',
  'authToken',
  '*.authToken',
  'secret',
  '*.secret',
];

/** pino JSON to stdout (or `destination`, for tests that read the lines back). */
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
