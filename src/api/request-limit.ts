import type { Request, RequestHandler } from 'express';
import { rateLimit } from 'express-rate-limit';
import type { Redis } from 'ioredis';
import { RedisStore, type RedisReply } from 'rate-limit-redis';
import { AppError } from './errors.js';

/**
 * A per-client request budget on /v1, counted in Redis so it holds across every API
 * replica (a one-second window per key name). Posting an intent is not counted here:
 * the accept script counts intents in its own round trip, and app.ts mounts that route
 * ahead of this limiter. Over it: 429 problem+json with Retry-After. If Redis cannot
 * count, requests pass: the intent path then answers 503 on its own, and a limiter
 * must never be what takes the API down.
 */
export function requestLimit(opts: { redis: Redis; prefix: string; perSecond: number }): RequestHandler {
  return rateLimit({
    windowMs: 1000,
    limit: opts.perSecond,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    passOnStoreError: true,
    keyGenerator: (_req, res) => `client:${String(res.locals.client)}`,
    store: new RedisStore({
      prefix: `${opts.prefix}:ratelimit:`,
      sendCommand: (command: string, ...args: string[]) => opts.redis.call(command, ...args) as Promise<RedisReply>,
    }),
    handler: (req, _res, next) => {
      const reset = (req as Request & { rateLimit?: { resetTime?: Date } }).rateLimit?.resetTime;
      const resetMs = reset ? reset.getTime() - Date.now() : 1000;
      next(
        new AppError(
          'rate_limited',
          `more than ${opts.perSecond} requests per second for this key; slow down`,
          [{ field: 'Authorization', message: 'rate limit exceeded for this client' }],
          {
            headers: { 'retry-after': String(Math.max(1, Math.ceil(resetMs / 1000))) },
          },
        ),
      );
    },
  });
}
