import { hash, timingSafeEqual } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import type { AccessKey, KeyRole } from '../config.js';
import { AppError } from './errors.js';
import { sessionCookie, type WallboardSessions } from './wallboard-sessions.js';

/**
 * Who is calling, and what their key may do. Three lists of `name:secret` keys: READ_KEYS may
 * read, API_KEYS may also post intents (and look at the admin board), ADMIN_KEYS may also act
 * on the board and retry dead letters. The key's name is the client.
 */
const RANK: Record<KeyRole, number> = { read: 0, write: 1, admin: 2 };

export interface Caller {
  client: string;
  role: KeyRole;
}

/** One-shot hashing: no Hash object per request (the key is digested on every /v1 call). */
const digest = (s: string) => hash('sha256', s, 'buffer');

/**
 * Finds the key a presented secret belongs to (and, when given, must be named). Keys are
 * compared as SHA-256 digests with timingSafeEqual, against every configured key, so neither
 * the length nor the position of a match shows in the timing.
 */
export function createKeyMatcher(keys: readonly AccessKey[]) {
  const known = keys.map((k) => ({
    caller: { client: k.name, role: k.role } satisfies Caller,
    digest: digest(k.secret),
  }));
  return (secret: string, name: string | null = null): Caller | undefined => {
    const presented = digest(secret);
    let caller: Caller | undefined;
    for (const k of known)
      if (timingSafeEqual(k.digest, presented) && (name === null || name === k.caller.client)) caller = k.caller;
    return caller;
  };
}

/** The secret (and for Basic, the name) in an Authorization header; Basic only where `basic` is allowed. */
function credentials(header: string, basic: boolean): { secret: string; name: string | null } | null {
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (bearer) return { secret: bearer[1]!, name: null };
  const b = basic ? /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header) : null;
  if (!b) return null;
  const decoded = Buffer.from(b[1]!, 'base64').toString('utf8');
  const i = decoded.indexOf(':');
  return i > 0 ? { name: decoded.slice(0, i), secret: decoded.slice(i + 1) } : null;
}

export function caller(res: Response): Caller {
  const c = res.locals.caller as Caller | undefined;
  if (!c) throw new Error('caller() needs an authentication middleware in front of the route');
  return c;
}

const SAFE_METHODS = new Set(['GET', 'HEAD']);

/**
 * A request with no Authorization header but a wallboard session cookie (wallboard-sessions.ts):
 * the session's key, for GET and HEAD only. A cookie is sent by the browser on its own, so it must
 * never make a change (CSRF): anything else with it is refused, and the key must be sent as Bearer.
 */
const sessionAuth =
  (sessions: WallboardSessions, id: string): RequestHandler =>
  async (req, res, next) => {
    if (!SAFE_METHODS.has(req.method))
      return next(
        new AppError('forbidden', 'a wallboard session may only read (GET); send Authorization: Bearer <key>', [
          { field: 'Cookie', message: 'a session cookie authorizes GET and HEAD only' },
        ]),
      );
    const found = await sessions.read(id);
    if (!found)
      return next(
        new AppError('unauthorized', 'the wallboard session has ended (signed out, expired or its key changed)', [
          { field: 'Cookie', message: 'sign in again at /wallboard' },
        ]),
      );
    res.locals.caller = found.caller;
    res.locals.client = found.caller.client;
    res.locals.session = found.session;
    next();
  };

/**
 * Authentication for /v1 (Bearer, or with `sessions` a wallboard session cookie for reading) or
 * for a page people open in a browser (`basic`: HTTP Basic with the key's name and secret as
 * well). Sets res.locals.caller and res.locals.client.
 */
export function authenticate(
  keys: readonly AccessKey[],
  opts: { basic?: boolean; realm?: string; sessions?: WallboardSessions | null } = {},
): RequestHandler {
  const match = createKeyMatcher(keys);
  const basic = opts.basic === true;
  const challenge = basic
    ? `Basic realm="${opts.realm ?? 'holdq'}", charset="UTF-8"`
    : `Bearer realm="${opts.realm ?? 'holdq'}"`;
  const sessions = opts.sessions ?? null;
  return (req, res, next) => {
    const header = req.get('authorization');
    if (header === undefined && sessions) {
      const id = sessionCookie(req);
      if (id) return sessionAuth(sessions, id)(req, res, next);
    }
    const presented = credentials(header ?? '', basic);
    const found = presented ? match(presented.secret, presented.name) : undefined;
    if (!found) {
      const detail = presented
        ? 'the key is not valid'
        : basic
          ? 'send an API key (HTTP Basic: key name and secret, or Bearer)'
          : 'send Authorization: Bearer <key>';
      const bearerError = !basic && presented ? ', error="invalid_token"' : '';
      next(
        new AppError(
          'unauthorized',
          detail,
          [{ field: 'Authorization', message: presented ? 'unknown key' : 'missing key' }],
          { headers: { 'www-authenticate': `${challenge}${bearerError}` } },
        ),
      );
      return;
    }
    res.locals.caller = found;
    res.locals.client = found.client;
    next();
  };
}

export const hasRole = (c: Caller, least: KeyRole) => RANK[c.role] >= RANK[least];

const WHAT: Record<KeyRole, string> = { read: 'read', write: 'post intents', admin: 'do this (ADMIN_KEYS)' };

/** Refuses (403) a caller whose key ranks below `least`. */
export function requireRole(least: KeyRole, what = WHAT[least]): RequestHandler {
  return (_req: Request, res, next) => {
    const c = caller(res);
    if (hasRole(c, least)) return next();
    next(
      new AppError('forbidden', `this key (${c.role}) may not ${what}`, [
        { field: 'Authorization', message: `needs a key with the ${least} role` },
      ]),
    );
  };
}
