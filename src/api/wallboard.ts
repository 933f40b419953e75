import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { Router, type Request, type RequestHandler, type Response } from 'express';
import { z } from 'zod';
import type { AccessKey, Config } from '../config.js';
import { createKeyMatcher } from './auth.js';
import { AppError } from './errors.js';
import { CLIENT_PARSE, fieldErrors } from './problem.js';
import type { WallboardSessionView } from './responses.js';
import {
  SESSION_COOKIE,
  SESSION_COOKIE_PATH,
  sessionCookie,
  SIGN_IN_FAILURES_PER_MINUTE,
  type WallboardSession,
  type WallboardSessions,
} from './wallboard-sessions.js';

/**
 * The wallboard (SPEC §13, README "Wallboard"): a page for supervisors, built by Vite from
 * src/wallboard/ into dist/wallboard/ and served from there, and the session it signs in with
 * (wallboard-sessions.ts), at /v1/wallboard/session, under the cookie's path.
 */
export const WALLBOARD_PATH = '/wallboard';
export const SESSION_PATH = '/v1/wallboard/session';

/**
 * The built page: dist/wallboard/ beside the built code (dist/api/), or, run from the sources (the
 * tests), the repository's dist/wallboard/. Vite's manifest marks a build (src/wallboard/ holds
 * the page's sources, which no browser can run). Null when the page was not built.
 */
export function wallboardPageDir(): string | null {
  for (const rel of ['../wallboard/', '../../dist/wallboard/']) {
    const dir = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(join(dir, '.vite', 'manifest.json'))) return dir;
  }
  return null;
}

/** The page and its assets; `pageHeaders` are its security headers (a strict CSP: app.ts). */
export function createWallboardPage(dir: string | null, pageHeaders: RequestHandler): Router {
  const router = Router();
  const page: RequestHandler = (_req, res, next) => {
    if (!dir) return next(new AppError('not_found', 'the wallboard is not built: run npm run build'));
    // Revalidated on every load: the page names this build's hashed assets.
    // dotfiles: the directory is ours (a test's build sits under node_modules/.cache), not the request's.
    res.sendFile(
      join(dir, 'index.html'),
      { dotfiles: 'allow', headers: { 'cache-control': 'no-cache' } },
      (err) => err && next(err),
    );
  };
  // Non-strict routing: /wallboard/ is this route too.
  router.get(WALLBOARD_PATH, pageHeaders, page);
  if (dir) {
    router.use(
      `${WALLBOARD_PATH}/assets`,
      // Hashed names: a new build has new names, so these never need revalidating.
      express.static(join(dir, 'assets'), {
        index: false,
        immutable: true,
        maxAge: '365d',
        redirect: false,
        fallthrough: true,
      }),
    );
    router.get(`${WALLBOARD_PATH}/favicon.svg`, (_req, res, next) =>
      res.sendFile(join(dir, 'favicon.svg'), { dotfiles: 'allow', maxAge: '1d' }, (err) => err && next(err)),
    );
  }
  return router;
}

const signIn = z.strictObject({ key: z.string().min(1, 'required').max(512, 'at most 512 characters') });
const BODY = '16kb';
const FORM = 'application/x-www-form-urlencoded';
const jsonBody = express.json({ limit: BODY, strict: true, type: ['application/json'] });
const formBody = express.urlencoded({ limit: BODY, extended: false, parameterLimit: 10, type: [FORM] });
const isForm = (req: Request) => req.is(FORM) === FORM;
const isJson = (req: Request) => req.is('application/json') === 'application/json';

/**
 * A sign-in or sign-out must come from the wallboard's own origin: a browser names the page that
 * made the request (Sec-Fetch-Site, Origin), and another site's form or script must not sign
 * this browser in with a key of its choosing (login CSRF) or out. A request no browser made
 * (curl, a test) carries neither header and is not a CSRF.
 */
function fromOwnOrigin(req: Request, publicBaseUrl: string): boolean {
  const site = req.get('sec-fetch-site');
  if (site !== undefined && site !== 'same-origin') return false;
  const origin = req.get('origin');
  if (origin === undefined) return true;
  const host = req.get('host');
  const own = new Set([new URL(publicBaseUrl).origin, ...(host ? [`http://${host}`, `https://${host}`] : [])]);
  return own.has(origin);
}

const view = (s: WallboardSession): WallboardSessionView => s;

export interface WallboardSessionRoutesDeps {
  config: Pick<Config, 'PUBLIC_BASE_URL'> & { keys: readonly AccessKey[] };
  sessions: WallboardSessions;
}

/**
 * POST /v1/wallboard/session (sign in: `key` in a JSON or form body; the key is never in a URL),
 * GET (the session of the cookie), DELETE (sign out). Mounted ahead of /v1's authentication.
 */
export function createWallboardSessionRoutes(deps: WallboardSessionRoutesDeps): Router {
  const { sessions, config } = deps;
  const match = createKeyMatcher(config.keys);
  const router = Router();
  const ownOrigin: RequestHandler = (req, _res, next) =>
    fromOwnOrigin(req, config.PUBLIC_BASE_URL)
      ? next()
      : next(
          new AppError('forbidden', 'sign in and out from the wallboard page itself', [
            { field: 'Origin', message: 'another site may not sign this browser in or out' },
          ]),
        );
  const secure = (req: Request) =>
    req.secure || req.get('x-forwarded-proto') === 'https' || config.PUBLIC_BASE_URL.startsWith('https:');
  const cookie = (req: Request) => ({
    path: SESSION_COOKIE_PATH,
    httpOnly: true,
    sameSite: 'strict' as const,
    secure: secure(req),
  });

  router.post(
    '/',
    ownOrigin,
    async (req, _res, next) => {
      // Counted before the body is read: past the limit, not even the right key signs in this minute.
      const address = req.socket.remoteAddress ?? 'unknown';
      if (!(await sessions.mayTry(address)))
        return next(
          new AppError(
            'rate_limited',
            `more than ${SIGN_IN_FAILURES_PER_MINUTE} failed sign-ins in a minute`,
            [{ field: 'key', message: 'too many wrong keys; wait a minute' }],
            { headers: { 'retry-after': String(60 - new Date().getUTCSeconds()) } },
          ),
        );
      next();
    },
    jsonBody,
    formBody,
    async (req, res) => {
      if (!isJson(req) && !isForm(req))
        throw new AppError('unsupported_media_type', 'send the key as application/json or a form', [
          { field: 'Content-Type', message: 'application/json or application/x-www-form-urlencoded' },
        ]);
      const body = signIn.safeParse(req.body ?? {}, CLIENT_PARSE);
      if (!body.success)
        throw new AppError('validation_failed', 'the sign-in is not valid', fieldErrors(body.error.issues));
      const caller = match(body.data.key);
      if (!caller) {
        await sessions.failed(req.socket.remoteAddress ?? 'unknown');
        throw new AppError('unauthorized', 'that key is not valid', [{ field: 'key', message: 'unknown key' }]);
      }
      const { id, session } = await sessions.open(caller);
      res.cookie(SESSION_COOKIE, id, { ...cookie(req), maxAge: sessions.ttlSeconds * 1000 });
      res.setHeader('cache-control', 'no-store');
      // A form posted without the page's script: back to the page, signed in.
      if (isForm(req)) return res.redirect(303, '/wallboard');
      res.json(view(session));
    },
  );

  router.get('/', async (req, res) => {
    const id = sessionCookie(req);
    const found = id ? await sessions.read(id) : null;
    if (!found)
      throw new AppError('unauthorized', 'no wallboard session: sign in at /wallboard', [
        { field: 'Cookie', message: id ? 'the session has ended' : 'no session cookie' },
      ]);
    res.setHeader('cache-control', 'no-store');
    res.json(view(found.session));
  });

  router.delete('/', ownOrigin, async (req, res: Response) => {
    const id = sessionCookie(req);
    if (!id)
      throw new AppError('unauthorized', 'no wallboard session to end', [
        { field: 'Cookie', message: 'no session cookie' },
      ]);
    // Ended already (expired, signed out elsewhere) or not: it is over now, and the cookie goes.
    await sessions.close(id);
    res.clearCookie(SESSION_COOKIE, cookie(req));
    res.status(204).end();
  });

  return router;
}
