import { randomUUID } from 'node:crypto';
import type { LookupAddress } from 'node:dns';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { appRoutes } from '@bull-board/api/dist/routes.js';
import { Queue } from 'bullmq';
import type { Express } from 'express';
import { Redis } from 'ioredis';
import { isPrivateUrl, isPublicAddress, publicOnlyLookup } from '../src/infra/public-address.js';
import { startStack, TEST_KEY, type IntentView, type Stack } from './helpers/stack.js';

interface Layer {
  name?: string;
  rawPath?: string;
  route?: { path: string; methods: Record<string, boolean> };
  handle?: { stack?: Layer[]; router?: { stack: Layer[] } };
}

/**
 * Every route Bull Board serves under `mount`, with each of its methods, from the table its
 * Express adapter registers (appRoutes: the UI's entry points and the JSON API), and its static files.
 */
function bullBoardRoutes(mount: string): [string, string][] {
  const defs = [appRoutes.entryPoint, ...appRoutes.api];
  const routes = defs.flatMap((d) =>
    (Array.isArray(d.route) ? d.route : [d.route]).flatMap((route) =>
      (Array.isArray(d.method) ? d.method : [d.method]).map(
        (m) => [m.toUpperCase(), `${mount}${route}`] as [string, string],
      ),
    ),
  );
  return [...routes, ['GET', `${mount}/static/*file`]];
}

/** Every route the app registers, as [METHOD, path], read from Express's own router. */
function registeredRoutes(app: Express): [string, string][] {
  const out: [string, string][] = [];
  const walk = (stack: Layer[], prefix: string) => {
    for (const layer of stack) {
      if (layer.route) {
        for (const method of Object.keys(layer.route.methods))
          if (method !== '_all') out.push([method.toUpperCase(), `${prefix}${layer.route.path}`]);
      } else if (layer.handle?.stack) {
        walk(layer.handle.stack, `${prefix}${layer.rawPath === '/' ? '' : (layer.rawPath ?? '')}`);
      } else if (layer.name === 'mounted_app' || layer.name === 'app') {
        // A sub-app (Bull Board: one acting board for admins, one read-only) hides its router: its routes come from Bull Board's own table.
        out.push(...bullBoardRoutes(`${prefix}${layer.rawPath === '/' ? '' : (layer.rawPath ?? '')}`));
      }
    }
  };
  walk((app as unknown as { router: { stack: Layer[] } }).router.stack, '');
  return out;
}

describe('security', () => {
  let stack: Stack;
  const SECRET = 'callback-secret-abcdefghijklmnop';
  beforeAll(async () => {
    stack = await startStack({ env: { CALLBACK_SECRET: SECRET, CALLBACK_ALLOW_PRIVATE: 'false' } });
  });
  afterAll(() => stack.stop());

  it('when every registered /v1 and /admin route is called without a key, then each answers 401', async () => {
    // The wallboard's sign-in is where a key is presented (test/wallboard.test.ts covers its refusals).
    const signIn = (method: string, path: string) => method === 'POST' && path === '/v1/wallboard/session/';
    const routes = registeredRoutes(stack.api!.app).filter(
      ([method, path]) => (path.startsWith('/v1') || path.startsWith('/admin')) && !signIn(method, path),
    );
    const v1 = routes.filter(([, p]) => p.startsWith('/v1'));
    const admin = routes.filter(([, p]) => p.startsWith('/admin'));
    expect(v1.length).toBeGreaterThanOrEqual(7);
    // Bull Board 6: three UI entry points, twenty API routes (GET, PUT, POST and PATCH), its static files.
    expect(admin.length).toBeGreaterThanOrEqual(24);
    expect(new Set(admin.map(([method]) => method))).toEqual(new Set(['GET', 'PUT', 'POST', 'PATCH']));
    // Real names where a route takes them, so a route that skipped auth would act on a real queue.
    const params: Record<string, string> = { queueName: 'intent-jobs', jobId: '1', queueStatus: 'failed' };
    for (const [method, path] of routes) {
      const concrete = path.replace(/:(\w+)/g, (_, name: string) => params[name] ?? 'x').replace(/\*\w*/g, 'x.js');
      const res = await fetch(`${stack.apiUrl}${concrete}`, {
        method,
        headers: { 'content-type': 'application/json' },
        ...(method === 'GET' ? {} : { body: '{}' }),
      });
      expect({ method, path, status: res.status }).toEqual({ method, path, status: 401 });
    }
  });

  it('when any method is sent to an admin route without a key, then it answers 401, not 404 or 405', async () => {
    for (const [, path] of bullBoardRoutes('/admin/queues')) {
      const concrete = path.replace(/:(\w+)/g, 'x').replace(/\*\w*/g, 'x.js');
      for (const method of ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']) {
        const res = await fetch(`${stack.apiUrl}${concrete}`, {
          method,
          ...(['GET', 'HEAD'].includes(method) ? {} : { body: '{}', headers: { 'content-type': 'application/json' } }),
        });
        expect({ method, path, status: res.status }).toEqual({ method, path, status: 401 });
      }
    }
  });

  it('when callback_url points inward, then it is refused (SSRF); a public URL is accepted', async () => {
    for (const url of [
      'http://127.0.0.1:9/x',
      'http://localhost/x',
      'http://[::1]/x',
      'http://169.254.169.254/latest',
      'http://10.1.2.3/',
      'http://192.168.0.1/',
      'http://[::ffff:127.0.0.1]/',
    ]) {
      const res = await stack.post({ type: 'hold', call_uuid: `ssrf-${randomUUID()}`, callback_url: url });
      expect({ url, status: res.status }).toEqual({ url, status: 422 });
      expect(await res.json()).toMatchObject({ errors: [{ field: 'callback_url' }] });
    }
    expect(
      (
        await stack.post({
          type: 'hold',
          call_uuid: `ssrf-${randomUUID()}`,
          callback_url: 'https://crm.example.com/hook',
        })
      ).status,
    ).toBe(202);
  });

  it('when a name resolves only to private addresses, then the callback connection is refused after DNS', async () => {
    const resolver =
      (answers: LookupAddress[]) =>
      (_host: string, cb: (err: NodeJS.ErrnoException | null, a: LookupAddress[]) => void) =>
        cb(null, answers);
    const lookup = publicOnlyLookup(resolver([{ address: '10.0.0.7', family: 4 }]));
    const err = await new Promise<NodeJS.ErrnoException | null>((resolve) =>
      lookup('inward.example', { all: true }, (e) => resolve(e)),
    );
    expect(err?.code).toBe('ENOTPUBLIC');
    const mixed = publicOnlyLookup(
      resolver([
        { address: '127.0.0.1', family: 4 },
        { address: '93.184.216.34', family: 4 },
      ]),
    );
    const picked = await new Promise<string>((resolve) => mixed('mixed.example', {}, (_e, a) => resolve(String(a))));
    expect(picked).toBe('93.184.216.34');
    expect(isPublicAddress('8.8.8.8')).toBe(true);
    expect(isPublicAddress('2001:4860:4860::8888')).toBe(true);
    for (const ip of ['100.64.0.1', '172.16.5.5', 'fe80::1', 'fd00::1', '0.0.0.0', '224.0.0.1'])
      expect(isPublicAddress(ip)).toBe(false);
    expect(isPrivateUrl('https://sub.localhost/x')).toBe(true);
    expect(isPrivateUrl('https://example.com/x')).toBe(false);
  });

  it('when responses go out, then they carry security headers and no X-Powered-By', async () => {
    const res = await stack.get('/livez', { key: null });
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.headers.get('strict-transport-security')).toMatch(/max-age=/);
    expect(res.headers.get('x-powered-by')).toBeNull();
    // Browser-only headers stay off machine-facing answers; the pages people open get them.
    expect(res.headers.get('referrer-policy')).toBeNull();
    const docs = await stack.get('/docs', { key: null });
    // /docs loads nothing from elsewhere: every source is 'self' (styles may be inline, for Redoc).
    const csp = docs.headers.get('content-security-policy')!;
    expect(csp).toContain("script-src 'self';");
    expect(csp).not.toMatch(/https?:|unsafe-eval|script-src[^;]*unsafe-inline/);
    expect(docs.headers.get('referrer-policy')).toBe('no-referrer');
    expect(docs.headers.get('cross-origin-opener-policy')).toBe('same-origin');
  });

  it('when keys, Plivo credentials and secrets are used, even wrongly, then none of them reaches a log line', async () => {
    const wrongKey = 'wrong-key-should-not-be-logged-123';
    await stack.post({ type: 'hold', call_uuid: 'c1' }, { key: wrongKey });
    stack.sim.injectFault({ status: 401 });
    const { id } = (await (await stack.post({ type: 'hold', call_uuid: `logs-${randomUUID()}` })).json()) as IntentView;
    await stack.waitForIntent(id);
    stack.sim.injectFault({ reset: true });
    const second = (await (await stack.post({ type: 'hold', call_uuid: `logs-${randomUUID()}` })).json()) as IntentView;
    await stack.waitForIntent(second.id);
    const basic = Buffer.from(`${stack.sim.authId}:${stack.sim.authToken}`).toString('base64');
    const logs = stack.logs.join('\n');
    expect(logs.length).toBeGreaterThan(1000);
    for (const secret of [TEST_KEY, 'other-secret-0123456789', wrongKey, stack.sim.authToken, basic, SECRET])
      expect(logs).not.toContain(secret);
  });
});

describe('the per-client rate limit', () => {
  const LIMIT = 5;
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ worker: false, env: { API_RATE_LIMIT_RPS: String(LIMIT) } });
  });
  afterAll(() => stack.stop());

  it('when a client goes over API_RATE_LIMIT_RPS, then 429 problem+json with Retry-After, and other clients are not affected', async () => {
    // Requests in bursts until one is refused: on a slow machine a burst may straddle a second,
    // so the count of bursts is bounded, not the time they take.
    let limited: Response | undefined;
    for (let burst = 0; burst < 20 && !limited; burst++) {
      const answers = await Promise.all(Array.from({ length: 2 * LIMIT }, () => stack.get('/v1/queues')));
      expect(answers.map((r) => r.status).filter((status) => status !== 200 && status !== 429)).toEqual([]);
      limited = answers.find((r) => r.status === 429);
    }
    expect(limited).toBeDefined();
    expect(limited!.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(limited!.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(await limited!.json()).toMatchObject({ status: 429, errors: [{ field: 'Authorization' }] });
    expect((await stack.get('/v1/queues', { key: 'other-secret-0123456789' })).status).toBe(200);
  });

  it('when a client posts intents faster than API_RATE_LIMIT_RPS, then the accept answers 429 with Retry-After and stores nothing extra', async () => {
    const redis = new Redis(stack.config.REDIS_URL);
    const queue = new Queue('intent-jobs', { connection: redis, prefix: stack.config.QUEUE_PREFIX });
    const prefix = stack.config.QUEUE_PREFIX;
    const keysLike = async (pattern: string) => {
      const found: string[] = [];
      for (let cursor = '0'; ;) {
        const [next, batch] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        found.push(...batch);
        if ((cursor = next) === '0') return found;
      }
    };
    const stored = async () => ({
      intents: (await keysLike(`${prefix}:intent:*`)).length,
      jobs: Object.values(await queue.getJobCounts()).reduce((a, b) => a + b, 0),
      unfinished: await redis.zcard(`${prefix}:unfinished`),
    });
    try {
      const before = await stored();
      const accepted: IntentView[] = [];
      const refused: { callUuid: string; res: Response }[] = [];
      // Bursts until one is refused (bounded in count, not in time: a burst may straddle a second).
      for (let burst = 0; burst < 20 && refused.length === 0; burst++) {
        const calls = Array.from({ length: 2 * LIMIT }, () => `rl-${randomUUID()}`);
        const answers = await Promise.all(
          calls.map((callUuid) =>
            stack.post({ type: 'hold', call_uuid: callUuid }, { key: 'other-secret-0123456789' }),
          ),
        );
        for (const [i, res] of answers.entries()) {
          if (res.status === 202) accepted.push((await res.json()) as IntentView);
          else refused.push({ callUuid: calls[i]!, res });
        }
      }
      expect(refused.length).toBeGreaterThan(0);
      expect(refused.map((r) => r.res.status).filter((status) => status !== 429)).toEqual([]);
      const limited = refused[0]!.res;
      expect(limited.headers.get('retry-after')).toBe('1');
      expect(await limited.json()).toMatchObject({ status: 429, errors: [{ field: 'Authorization' }] });
      // The limit counts per second of the API's clock, the second an accepted record was created
      // in: no second took more than LIMIT, and the one that refused took exactly LIMIT.
      const perSecond = new Map<number, number>();
      for (const r of accepted) {
        const second = Math.floor(Date.parse(r.created_at) / 1000);
        perSecond.set(second, (perSecond.get(second) ?? 0) + 1);
      }
      expect(Math.max(...perSecond.values())).toBe(LIMIT);
      // A refused intent left nothing: no record, no job, no unfinished entry, no key naming its call.
      expect(await stored()).toEqual({
        intents: before.intents + accepted.length,
        jobs: before.jobs + accepted.length,
        unfinished: before.unfinished + accepted.length,
      });
      for (const { callUuid } of refused) expect(await keysLike(`*${callUuid}*`)).toEqual([]);
      for (const r of accepted) expect(await redis.exists(`${prefix}:intent:${r.id}`)).toBe(1);
    } finally {
      await queue.close();
      redis.disconnect();
    }
  });
});
