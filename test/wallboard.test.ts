import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { checkResponse } from './helpers/responses.js';
import { ADMIN_KEY, READ_KEY, redisUrl, startStack, TEST_KEY, type IntentView, type Stack } from './helpers/stack.js';
import { wallboardBuild } from './helpers/wallboard-build.js';

/**
 * The wallboard's page and sessions (SPEC §13, README "Wallboard") through real HTTP, on real
 * Redis: what the sign-in sets, what its cookie opens (GET under /v1, the key's account's) and
 * what it never opens (anything that changes something), sign-out, and the sign-in's refusals.
 * And GET /v1/calls?state=held, the board's list of calls on hold.
 */
const OTHER_KEY = 'other-secret-0123456789';
type Problem = { status: number; detail: string; errors?: { field: string; message: string }[] };

describe('the wallboard: page, sessions, held calls', () => {
  let stack: Stack;
  let redis: Redis;

  beforeAll(async () => {
    stack = await startStack({
      wallboardDir: await wallboardBuild(),
      env: {
        QUEUES: JSON.stringify({ support: { service_level_seconds: 20 } }),
        // A second account, acme, whose key is "other": its sessions see acme's queues and calls only.
        PLIVO_ACCOUNTS: JSON.stringify([
          { name: 'acme', auth_id: 'MAACMEWALL', auth_token: 'acme-token-wallboard', base_url: 'http://127.0.0.1:9' },
        ]),
        API_KEY_ACCOUNTS: 'other=acme',
      },
    });
    redis = new Redis(redisUrl());
  });
  afterAll(async () => {
    redis.disconnect();
    await stack.stop();
  });

  /** A request as a browser on the page makes it: the session cookie, no Authorization. */
  const withCookie = async (path: string, cookie: string, init: RequestInit = {}) => {
    const res = await fetch(`${stack.apiUrl}${path}`, {
      ...init,
      headers: { cookie, ...(init.headers as Record<string, string>) },
    });
    await checkResponse(init.method ?? 'GET', `${stack.apiUrl}${path}`, res);
    return res;
  };
  const signIn = async (body: string, headers: Record<string, string> = { 'content-type': 'application/json' }) => {
    const res = await fetch(`${stack.apiUrl}/v1/wallboard/session`, {
      method: 'POST',
      headers,
      body,
      redirect: 'manual',
    });
    await checkResponse('POST', `${stack.apiUrl}/v1/wallboard/session`, res);
    return res;
  };
  /** Signs in with `key`; the Cookie header that then carries the session. */
  const session = async (key: string) => {
    const res = await signIn(JSON.stringify({ key }));
    expect(res.status).toBe(200);
    return res.headers.get('set-cookie')!.split(';')[0]!;
  };
  const problem = async (res: Response, status: number) => {
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    return (await res.json()) as Problem;
  };
  const accepted = async (body: object, key = TEST_KEY) => {
    const res = await stack.post(body, { key });
    expect(res.status).toBe(202);
    return stack.waitForIntent(((await res.json()) as IntentView).id);
  };

  it('when GET /wallboard has no session, then it answers the page with its one password field, under a strict CSP', async () => {
    const res = await fetch(`${stack.apiUrl}/wallboard`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await res.text();
    expect(html.match(/<input[^>]*>/g)).toEqual([expect.stringContaining('type="password"')]);
    // A submit before the script loads posts the key; it never puts it in a URL.
    expect(html).toMatch(/<form id="sign-in-form" method="post" action="\/v1\/wallboard\/session"/);
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/); // no inline script
    const csp = res.headers.get('content-security-policy')!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    // Its script and stylesheet are served, from 'self', under the page's path.
    const assets = [...html.matchAll(/(?:src|href)="(\/wallboard\/assets\/[^"]+)"/g)].map((m) => m[1]!);
    expect(assets).toHaveLength(2);
    for (const path of assets) {
      const asset = await fetch(`${stack.apiUrl}${path}`);
      expect(asset.status).toBe(200);
      expect(asset.headers.get('content-type')).toMatch(/^(text\/javascript|text\/css)/);
      expect(asset.headers.get('cache-control')).toContain('immutable');
    }
  });

  it('when a READ_KEYS key signs in, then the cookie is HttpOnly, SameSite=Strict, Path=/v1 and opens the GET routes of /v1', async () => {
    const res = await signIn(JSON.stringify({ key: READ_KEY }));
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(await res.json()).toEqual({
      client: 'viewer',
      role: 'read',
      account: 'default',
      expires_at: expect.stringMatching(/^\d{4}-/),
    });
    const setCookie = res.headers.get('set-cookie')!;
    expect(setCookie).toMatch(/^holdq_wallboard=[A-Za-z0-9_-]{43}; /);
    expect(setCookie).toContain('Max-Age=43200');
    expect(setCookie).toContain('Path=/v1;');
    expect(setCookie).toContain('HttpOnly');
    expect(setCookie).toContain('SameSite=Strict');
    expect(setCookie).not.toContain('Secure'); // plain http here; see the next test
    const cookie = setCookie.split(';')[0]!;
    expect((await withCookie('/v1/queues', cookie)).status).toBe(200);
    expect((await withCookie('/v1/queues/support', cookie)).status).toBe(200);
    expect((await withCookie('/v1/calls?state=held', cookie)).status).toBe(200);
    expect((await withCookie('/v1/wallboard/session', cookie)).status).toBe(200);
    const events = await fetch(`${stack.apiUrl}/v1/events`, { headers: { cookie } });
    expect(events.status).toBe(200);
    expect(events.headers.get('content-type')).toMatch(/^text\/event-stream/);
    await events.body!.cancel();
    // The session lives in Redis for as long as the cookie, under the SHA-256 of its id.
    const stored = await redis.keys(`${stack.config.QUEUE_PREFIX}:wallboard:session:*`);
    expect(stored.length).toBeGreaterThan(0);
    const ttls = await Promise.all(stored.map((k) => redis.ttl(k)));
    for (const ttl of ttls) expect(ttl).toBeGreaterThan(43_000);
    expect(stored.some((k) => k.includes(cookie.split('=')[1]!))).toBe(false);
  });

  it('when the page is served over https (a TLS-ending proxy says so), then the cookie is also Secure', async () => {
    const res = await signIn(JSON.stringify({ key: READ_KEY }), {
      'content-type': 'application/json',
      'x-forwarded-proto': 'https',
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('set-cookie')).toMatch(/; Secure/);
  });

  it('when a person signs in, then the key appears in no URL, no log line and no Redis value, and a form sign-in goes back to the page', async () => {
    const form = await signIn(new URLSearchParams({ key: READ_KEY }).toString(), {
      'content-type': 'application/x-www-form-urlencoded',
    });
    expect(form.status).toBe(303);
    expect(form.headers.get('location')).toBe('/wallboard');
    expect(form.headers.get('set-cookie')).toMatch(/^holdq_wallboard=/);
    await session(ADMIN_KEY);
    const values = await Promise.all(
      (await redis.keys(`${stack.config.QUEUE_PREFIX}:wallboard:*`)).map((k) =>
        redis.type(k).then((t) => (t === 'string' ? redis.get(k) : '')),
      ),
    );
    expect(values.length).toBeGreaterThan(0);
    for (const v of values) {
      expect(v).not.toContain(READ_KEY);
      expect(v).not.toContain(ADMIN_KEY);
    }
    const lines = stack.logs.filter((l) => l.includes('/v1/wallboard/session'));
    expect(lines.length).toBeGreaterThan(0); // the request log names the route…
    for (const line of stack.logs) {
      expect(line).not.toContain(READ_KEY); // …and never the key
      expect(line).not.toContain(ADMIN_KEY);
    }
  });

  it('when the cookie alone comes with POST /v1/intents or a retry, even an admin’s, then it is refused 403 and nothing is done', async () => {
    const writer = await session(TEST_KEY);
    const intent = await withCookie('/v1/intents', writer, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'hold', call_uuid: 'wb-csrf' }),
    });
    const p = await problem(intent, 403);
    expect(p.errors).toEqual([{ field: 'Cookie', message: 'a session cookie authorizes GET and HEAD only' }]);
    expect((await stack.get('/v1/calls/wb-csrf')).status).toBe(404);
    const admin = await session(ADMIN_KEY);
    const failed = await accepted({ type: 'unhold', call_uuid: 'wb-never-held' });
    expect(failed.status).toBe('failed');
    const retry = await withCookie(`/v1/intents/${failed.id}/retry`, admin, { method: 'POST' });
    await problem(retry, 403);
    expect(((await (await stack.get(`/v1/intents/${failed.id}`)).json()) as IntentView).status).toBe('failed');
    // With its Bearer key, the same admin may retry: the refusal is the cookie's.
    const bearer = await fetch(`${stack.apiUrl}/v1/intents/${failed.id}/retry`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, cookie: admin },
    });
    expect(bearer.status).toBe(202);
  });

  it('when a session signs out, then its cookie opens nothing any more, and the answer clears it', async () => {
    const cookie = await session(READ_KEY);
    expect((await withCookie('/v1/queues', cookie)).status).toBe(200);
    const out = await withCookie('/v1/wallboard/session', cookie, { method: 'DELETE' });
    expect(out.status).toBe(204);
    expect(out.headers.get('set-cookie')).toMatch(/^holdq_wallboard=; Path=\/v1; Expires=Thu, 01 Jan 1970/);
    const p = await problem(await withCookie('/v1/queues', cookie), 401);
    expect(p.errors).toEqual([{ field: 'Cookie', message: 'sign in again at /wallboard' }]);
    await problem(await withCookie('/v1/wallboard/session', cookie), 401);
    const events = await fetch(`${stack.apiUrl}/v1/events`, { headers: { cookie } });
    expect(events.status).toBe(401);
    // Signing out again is harmless; without any cookie there is nothing to end.
    expect((await withCookie('/v1/wallboard/session', cookie, { method: 'DELETE' })).status).toBe(204);
    await problem(await withCookie('/v1/wallboard/session', '', { method: 'DELETE' }), 401);
  });

  it('when a session of account acme asks for a queue of the default account, then it is 404, as for its Bearer key', async () => {
    await accepted({ type: 'enqueue', call_uuid: 'wb-iso-1', queue: 'default-only' });
    const mine = await session(READ_KEY);
    const theirs = await session(OTHER_KEY);
    expect(await (await withCookie('/v1/wallboard/session', theirs)).json()).toMatchObject({
      client: 'other',
      account: 'acme',
    });
    expect((await withCookie('/v1/queues/default-only', mine)).status).toBe(200);
    await problem(await withCookie('/v1/queues/default-only', theirs), 404);
    await problem(await withCookie('/v1/calls/wb-iso-1', theirs), 404);
    const list = (await (await withCookie('/v1/queues', theirs)).json()) as { items: { name: string }[] };
    expect(list.items.map((q) => q.name)).not.toContain('default-only');
  });

  it('when the sign-in is sent wrong, then each refusal is a problem naming what was wrong, and no cookie is set', async () => {
    const cases: [string, Record<string, string>, number, string][] = [
      ['{}', { 'content-type': 'application/json' }, 422, 'key'],
      [JSON.stringify({ key: '' }), { 'content-type': 'application/json' }, 422, 'key'],
      [JSON.stringify({ key: READ_KEY, colour: 'red' }), { 'content-type': 'application/json' }, 422, 'colour'],
      [JSON.stringify({ key: 'x'.repeat(600) }), { 'content-type': 'application/json' }, 422, 'key'],
      ['{"key":', { 'content-type': 'application/json' }, 400, '(body)'],
      [JSON.stringify({ key: 'a'.repeat(100_000) }), { 'content-type': 'application/json' }, 413, '(body)'],
      [READ_KEY, { 'content-type': 'text/plain' }, 415, 'Content-Type'],
      [JSON.stringify({ key: READ_KEY }), {}, 415, 'Content-Type'],
      [JSON.stringify({ key: 'not-a-key-of-holdq' }), { 'content-type': 'application/json' }, 401, 'key'],
      [
        JSON.stringify({ key: READ_KEY }),
        { 'content-type': 'application/json', origin: 'https://evil.example' },
        403,
        'Origin',
      ],
      [
        JSON.stringify({ key: READ_KEY }),
        { 'content-type': 'application/json', 'sec-fetch-site': 'cross-site' },
        403,
        'Origin',
      ],
    ];
    for (const [body, headers, status, field] of cases) {
      const res = await signIn(body, headers);
      const p = await problem(res, status);
      expect({ status, fields: p.errors?.map((e) => e.field) }).toEqual({ status, fields: [field] });
      expect(res.headers.get('set-cookie')).toBeNull();
    }
    // Same-origin browsers' sign-ins pass the check.
    const own = await signIn(JSON.stringify({ key: READ_KEY }), {
      'content-type': 'application/json',
      origin: stack.apiUrl,
      'sec-fetch-site': 'same-origin',
    });
    expect(own.status).toBe(200);
  });

  it('when calls are on hold, then GET /v1/calls?state=held lists them longest first, page by page, and drops one taken off hold', async () => {
    for (const uuid of ['wb-held-1', 'wb-held-2', 'wb-held-3']) await accepted({ type: 'hold', call_uuid: uuid });
    const reader = await session(READ_KEY);
    const first = (await (await withCookie('/v1/calls?state=held&limit=2', reader)).json()) as {
      items: { call_uuid: string; held_seconds: number; held_legs: string | null; since: string }[];
      next_cursor: string | null;
    };
    expect(first.items.map((c) => c.call_uuid)).toEqual(['wb-held-1', 'wb-held-2']);
    expect(first.items[0]).toMatchObject({ held_legs: 'aleg', since: expect.stringMatching(/^\d{4}-/) });
    expect(first.items[0]!.held_seconds).toBeGreaterThanOrEqual(first.items[1]!.held_seconds);
    expect(first.next_cursor).toMatch(/^\d+\.wb-held-2$/);
    const second = (await (
      await withCookie(`/v1/calls?state=held&limit=2&cursor=${first.next_cursor}`, reader)
    ).json()) as { items: { call_uuid: string }[]; next_cursor: string | null };
    expect(second).toEqual({ items: [expect.objectContaining({ call_uuid: 'wb-held-3' })], next_cursor: null });
    await accepted({ type: 'unhold', call_uuid: 'wb-held-2' });
    const after = (await (await stack.get('/v1/calls?state=held', { key: READ_KEY })).json()) as {
      items: { call_uuid: string }[];
    };
    expect(after.items.map((c) => c.call_uuid)).toEqual(['wb-held-1', 'wb-held-3']);
    // Another account's key sees none of them.
    const theirs = (await (await stack.get('/v1/calls?state=held', { key: OTHER_KEY })).json()) as {
      items: unknown[];
    };
    expect(theirs.items).toEqual([]);
  });

  it('when GET /v1/calls is asked wrong, then 422 names the parameter', async () => {
    for (const [query, field] of [
      ['', 'state'],
      ['?state=queued', 'state'],
      ['?state=held&limit=0', 'limit'],
      ['?state=held&limit=501', 'limit'],
      ['?state=held&cursor=nope', 'cursor'],
      ['?state=held&colour=red', 'colour'],
    ] as const) {
      const p = await problem(await stack.get(`/v1/calls${query}`), 422);
      expect(p.errors?.map((e) => e.field)).toEqual([field]);
    }
    await problem(await stack.get('/v1/calls?state=held', { key: null }), 401);
  });

  // Last: it spends this address's failed sign-ins for the minute.
  it('when one address fails to sign in ten times in a minute, then the next try is 429, even with a right key', async () => {
    // One failure was spent above; the window is the current minute, so count what is left of it.
    let refused = 0;
    for (let i = 0; i < 25; i++) {
      const res = await signIn(JSON.stringify({ key: `wrong-key-${i}` }));
      if (res.status === 429) break;
      expect(res.status).toBe(401);
      refused++;
    }
    expect(refused).toBeLessThanOrEqual(10);
    const limited = await signIn(JSON.stringify({ key: READ_KEY }));
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    const p = await problem(limited, 429);
    expect(p.errors).toEqual([{ field: 'key', message: 'too many wrong keys; wait a minute' }]);
  });
});
