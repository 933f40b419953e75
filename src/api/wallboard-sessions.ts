import { createHash, randomBytes } from 'node:crypto';
import type { Request } from 'express';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { accountOf, type AccessKey, type Config, type KeyRole } from '../config.js';
import { wallboardSessionKey, wallboardSignInFailuresKey } from '../infra/keys.js';
import type { Caller } from './auth.js';

/**
 * Wallboard sessions (SPEC §13): a person types a key into the wallboard's sign-in form once, and
 * gets a cookie naming a random session id instead. The session lives in Redis, so every API
 * replica accepts it and sign-out ends it everywhere at once; Redis holds only the id's SHA-256,
 * so a copy of Redis opens no wallboard. A session has a fixed lifetime
 * (WALLBOARD_SESSION_SECONDS from sign-in, not renewed by use: a cookie left on a wall screen ends
 * with the shift), and ends early when its key is removed from the configuration or changes role
 * or account.
 */
export const SESSION_COOKIE = 'holdq_wallboard';
/** The cookie goes to /v1 only: the routes it opens (GET, HEAD) and the session's own route. */
export const SESSION_COOKIE_PATH = '/v1';
/** Failed sign-ins one address may make in a minute; past it, 429 until the minute is over. */
export const SIGN_IN_FAILURES_PER_MINUTE = 10;

const ID = /^[A-Za-z0-9_-]{43}$/;
const stored = z.strictObject({
  client: z.string(),
  role: z.enum(['read', 'write', 'admin']),
  account: z.string(),
  expires_at: z.string(),
});
export type WallboardSession = z.output<typeof stored>;

const idHash = (id: string) => createHash('sha256').update(id).digest('hex');

/** The session id of the request's cookie, if it carries one of the right shape. */
export function sessionCookie(req: Request): string | null {
  const header = req.get('cookie');
  if (!header) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== SESSION_COOKIE) continue;
    const value = part.slice(eq + 1).trim();
    if (ID.test(value)) return value;
  }
  return null;
}

export interface WallboardSessions {
  /** Opens a session for a caller (a key just checked); its id, for the cookie. */
  open(caller: Caller): Promise<{ id: string; session: WallboardSession }>;
  /** The session of an id, as its key is configured now; null if it ended or its key changed. */
  read(id: string): Promise<{ caller: Caller; session: WallboardSession } | null>;
  close(id: string): Promise<void>;
  /** Counts a failed sign-in from `address` (in the current minute). */
  failed(address: string): Promise<void>;
  /** Whether `address` may try to sign in now. */
  mayTry(address: string): Promise<boolean>;
  ttlSeconds: number;
}

export function createWallboardSessions(opts: {
  redis: Redis;
  config: Pick<Config, 'QUEUE_PREFIX' | 'WALLBOARD_SESSION_SECONDS' | 'API_KEY_ACCOUNTS'> & {
    keys: readonly AccessKey[];
  };
}): WallboardSessions {
  const { redis, config } = opts;
  const ttl = config.WALLBOARD_SESSION_SECONDS;
  const roles = new Map<string, KeyRole>(config.keys.map((k) => [k.name, k.role]));
  const failures = (address: string) =>
    wallboardSignInFailuresKey(config.QUEUE_PREFIX, address, Math.floor(Date.now() / 60_000));
  return {
    ttlSeconds: ttl,
    async open(caller) {
      const id = randomBytes(32).toString('base64url');
      const session: WallboardSession = {
        client: caller.client,
        role: caller.role,
        account: accountOf(config, caller.client),
        expires_at: new Date(Date.now() + ttl * 1000).toISOString(),
      };
      await redis.set(wallboardSessionKey(config.QUEUE_PREFIX, idHash(id)), JSON.stringify(session), 'EX', ttl);
      return { id, session };
    },
    async read(id) {
      const raw = await redis.get(wallboardSessionKey(config.QUEUE_PREFIX, idHash(id)));
      if (!raw) return null;
      let parsed: WallboardSession;
      try {
        parsed = stored.parse(JSON.parse(raw));
      } catch {
        return null;
      }
      // The key as configured now: removed, or given another role or account, the session is over.
      const role = roles.get(parsed.client);
      if (role !== parsed.role || accountOf(config, parsed.client) !== parsed.account) return null;
      return { caller: { client: parsed.client, role }, session: parsed };
    },
    async close(id) {
      await redis.del(wallboardSessionKey(config.QUEUE_PREFIX, idHash(id)));
    },
    async failed(address) {
      const key = failures(address);
      await redis.multi().incr(key).expire(key, 120).exec();
    },
    async mayTry(address) {
      return Number((await redis.get(failures(address))) ?? 0) < SIGN_IN_FAILURES_PER_MINUTE;
    },
  };
}
