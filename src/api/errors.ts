import type { ProblemView } from './responses.js';
/**
 * The closed set of API error codes, each with its HTTP status and title.
 * One error middleware turns an AppError into RFC 9457 problem+json.
 */
export const ERROR_CODES = {
  validation_failed: { status: 422, title: 'The request is not valid' },
  malformed_body: { status: 400, title: 'The body is not valid JSON' },
  malformed_request_target: { status: 400, title: 'The request target is not a valid URL' },
  unsupported_media_type: { status: 415, title: 'Send application/json' },
  body_too_large: { status: 413, title: 'The body is larger than 16 KiB' },
  unauthorized: { status: 401, title: 'A valid bearer key is required' },
  forbidden: { status: 403, title: 'Forbidden' },
  not_found: { status: 404, title: 'Not found' },
  method_not_allowed: { status: 405, title: 'Method not allowed' },
  idempotency_conflict: { status: 409, title: 'Idempotency-Key reused with a different body' },
  conflict: { status: 409, title: 'Conflict' },
  queue_full: { status: 409, title: 'The queue is full' },
  transfer_limit: { status: 409, title: 'The call has no transfers left' },
  rate_limited: { status: 429, title: 'Too many requests' },
  unavailable: { status: 503, title: 'Service unavailable' },
  internal: { status: 500, title: 'Internal error' },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface FieldError {
  /** Dotted path of the offending field, e.g. `call_uuid` or `Idempotency-Key`. */
  field: string;
  message: string;
}

export class AppError extends Error {
  readonly status: number;
  readonly title: string;
  constructor(
    readonly code: ErrorCode,
    readonly detail: string,
    readonly errors: FieldError[] = [],
    options?: { cause?: unknown; headers?: Record<string, string> },
  ) {
    super(detail, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.status = ERROR_CODES[code].status;
    this.title = ERROR_CODES[code].title;
    this.headers = options?.headers ?? {};
  }
  readonly headers: Record<string, string>;
}

/** An error as the body of an RFC 9457 problem+json answer (written by the error handler, and by the server for a request Express cannot route). */
export function problemDocument(err: AppError, requestId?: string): ProblemView {
  return {
    type: `https://holdq.dev/problems/${err.code.replaceAll('_', '-')}`,
    title: err.title,
    status: err.status,
    detail: err.detail,
    ...(requestId ? { instance: `urn:request:${requestId}` } : {}),
    ...(err.errors.length > 0 ? { errors: err.errors } : {}),
  };
}
