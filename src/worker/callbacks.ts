import { createHmac } from 'node:crypto';
import { UnrecoverableError, Worker, type ConnectionOptions } from 'bullmq';
import got from 'got';
import { intentView } from '../domain/intent.js';
import { CALLBACK_QUEUE, type CallbackJobData } from '../infra/callback-queue.js';
import type { IntentStore } from '../infra/intent-store.js';
import { isPrivateUrl, publicOnlyLookup, type Resolve } from '../infra/public-address.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';

/**
 * Delivers completion callbacks (README, "Completion callbacks"). The intent is finished first, then
 * its callback is queued and retried with backoff, so a receiver never holds it up.
 */

/** `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>` */
export function signCallback(secret: string, body: string, t = Math.floor(Date.now() / 1000)): string {
  return `t=${t},v1=${createHmac('sha256', secret).update(`${t}.${body}`).digest('hex')}`;
}

export interface CallbackWorkerDeps {
  connection: ConnectionOptions;
  prefix: string;
  /** The account's queue of callbacks (CALLBACK_QUEUE for the default account). */
  queueName?: string;
  store: IntentStore;
  secret: string | undefined;
  /** Let callbacks reach loopback, private and link-local addresses (CALLBACK_ALLOW_PRIVATE). */
  allowPrivate: boolean;
  /** The DNS the SSRF guard checks (the system's by default; tests give names of their own). */
  resolve?: Resolve;
  timeoutMs: number;
  metrics: Metrics;
  logger: Logger;
  /** The worker's `error` events (Redis away, mostly): the role's outage log. */
  onError: (err: Error) => void;
}

export function startCallbackWorker(deps: CallbackWorkerDeps): Worker<CallbackJobData> {
  const http = got.extend({
    retry: { limit: 0 },
    timeout: { request: deps.timeoutMs },
    throwHttpErrors: false,
    followRedirect: false,
    ...(deps.allowPrivate ? {} : { dnsLookup: publicOnlyLookup(deps.resolve) as never }),
  });
  const worker = new Worker<CallbackJobData>(
    deps.queueName ?? CALLBACK_QUEUE,
    async (job) => {
      const record = await deps.store.get(job.data.intentId);
      if (!record?.request.callback_url) return 'gone';
      if (!deps.allowPrivate && isPrivateUrl(record.request.callback_url)) {
        throw new UnrecoverableError('callback_url targets a non-public address');
      }
      const body = JSON.stringify(intentView(record));
      const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'holdq' };
      if (deps.secret) headers['x-holdq-signature'] = signCallback(deps.secret, body);
      const res = await http
        .post(record.request.callback_url, { body, headers })
        .catch((err: NodeJS.ErrnoException) => {
          // A name that resolves inward will not resolve outward on a retry either.
          if (err.code === 'ENOTPUBLIC') throw new UnrecoverableError(err.message);
          throw err;
        });
      if (res.statusCode >= 200 && res.statusCode < 300) {
        deps.metrics.callbacks.labels('delivered').inc();
        return 'delivered';
      }
      throw new Error(`callback answered ${res.statusCode}`);
    },
    { connection: deps.connection, prefix: deps.prefix, concurrency: 20 },
  );
  worker.on('failed', (job, err) => {
    const final = job && (job.attemptsMade >= (job.opts.attempts ?? 1) || err instanceof UnrecoverableError);
    deps.metrics.callbacks.labels(final ? 'dropped' : 'retried').inc();
    if (final) deps.logger.warn({ intentId: job?.data.intentId, err }, 'completion callback dropped after retries');
  });
  worker.on('error', deps.onError);
  return worker;
}
