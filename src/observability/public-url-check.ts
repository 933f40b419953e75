import type { Logger } from './logger.js';

/**
 * Does PUBLIC_BASE_URL reach holdq? Every transfer points Plivo at PUBLIC_BASE_URL's XML,
 * so a wrong one (a PORT of its own with the :3000 default, a stale host) fails every call
 * while every intent reads `completed`. Each role asks `${PUBLIC_BASE_URL}/livez` at
 * start-up; /livez names the service and the answering instance, so the API can tell
 * itself from another replica behind a load balancer (both fine) and from anything else.
 *
 * A failure is logged once, loudly, and shown in /readyz's checks, but never fails
 * readiness or start-up: a public URL may be unreachable from inside its own network
 * (hairpin NAT, an egress policy) while Plivo reaches it fine (README "Configuration").
 */
export interface PublicUrlCheckOptions {
  baseUrl: string;
  /** The API's own instance id (it should reach itself or a replica); null for a worker, which no URL serves. */
  instance: string | null;
  /** Said in the error line: where this process listens, e.g. ":3203". */
  listening?: string;
  /** Attempts in all, 1 s apart and doubling; failures before the error line is logged. */
  attempts: number;
  warnAfter: number;
  timeoutMs?: number;
  logger: Logger;
}

export interface PublicUrlCheck {
  /** For /readyz: "checking", "ok: …" or "WARNING: …". */
  status(): string;
  /** Settles when the check has its final answer or was stopped. */
  done: Promise<void>;
  stop(): void;
}

type Probe = { ok: true; detail: string } | { ok: false; reason: string };

async function probe(url: string, instance: string | null, timeoutMs: number, stopped: AbortSignal): Promise<Probe> {
  let res: Response;
  let body: unknown;
  try {
    res = await fetch(url, { redirect: 'manual', signal: AbortSignal.any([stopped, AbortSignal.timeout(timeoutMs)]) });
    body = res.status === 200 ? await res.json().catch(() => null) : null;
  } catch (err) {
    const e = err as Error & { cause?: { message?: string } };
    if (e.name === 'TimeoutError') return { ok: false, reason: `no answer within ${timeoutMs} ms` };
    return { ok: false, reason: e.cause?.message ?? e.message };
  }
  if (res.status !== 200) {
    const location = res.headers.get('location');
    return {
      ok: false,
      reason: `answered ${res.status}${location ? ` (redirect to ${location})` : ''}, not holdq's /livez`,
    };
  }
  const live = (body ?? {}) as { service?: unknown; instance?: unknown };
  if (live.service !== 'holdq' || typeof live.instance !== 'string')
    return { ok: false, reason: 'answered 200, but not as holdq (no "service":"holdq")' };
  if (instance === null) return { ok: true, detail: `reaches holdq (instance ${live.instance})` };
  if (live.instance === instance) return { ok: true, detail: 'reaches this instance' };
  return { ok: true, detail: `reaches another holdq instance (${live.instance}): a replica behind a load balancer` };
}

export function startPublicUrlCheck(opts: PublicUrlCheckOptions): PublicUrlCheck {
  const { baseUrl, logger } = opts;
  const url = `${baseUrl.replace(/\/+$/, '')}/livez`;
  const timeoutMs = opts.timeoutMs ?? 2000;
  const stopper = new AbortController();
  let status = 'checking';
  let warned = false;

  const warning = (reason: string, attempts: number) => {
    const subject =
      opts.instance === null ? 'a holdq API' : `this holdq${opts.listening ? ` (listening on ${opts.listening})` : ''}`;
    const tries = attempts > 1 ? ` after ${attempts} attempts` : '';
    return `PUBLIC_BASE_URL=${baseUrl} does not reach ${subject}${tries}: GET ${url}: ${reason}. Plivo will not be able to fetch holdq's XML; set PUBLIC_BASE_URL to the URL where Plivo reaches the API`;
  };
  const wait = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      stopper.signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
    });

  const done = (async () => {
    for (let attempt = 1; attempt <= opts.attempts && !stopper.signal.aborted; attempt++) {
      const result = await probe(url, opts.instance, timeoutMs, stopper.signal);
      if (stopper.signal.aborted) return;
      if (result.ok) {
        status = `ok: ${result.detail}`;
        if (warned) logger.info({ publicBaseUrl: baseUrl }, `PUBLIC_BASE_URL ${result.detail} now`);
        else logger.info({ publicBaseUrl: baseUrl }, `PUBLIC_BASE_URL ${result.detail}`);
        return;
      }
      status = `WARNING: ${result.reason}; Plivo will not be able to fetch holdq's XML (set PUBLIC_BASE_URL)`;
      if (!warned && (attempt >= opts.warnAfter || attempt === opts.attempts)) {
        warned = true;
        logger.error({ publicBaseUrl: baseUrl }, warning(result.reason, attempt));
      }
      if (attempt < opts.attempts) await wait(1000 * 2 ** (attempt - 1));
    }
  })();

  return {
    status: () => status,
    done,
    stop: () => stopper.abort(),
  };
}
