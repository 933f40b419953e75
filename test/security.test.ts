import { randomUUID } from 'node:crypto';
import type { LookupAddress } from 'node:dns';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Express } from 'express';
import { isPrivateUrl, isPublicAddress, publicOnlyLookup } from '../src/infra/public-address.js';
import { startStack, TEST_KEY, type IntentView, type Stack } from './helpers/stack.js';

interface Layer {
  name?: string;
  rawPath?: string;
  route?: { path: string; methods: Record<string, boolean> };
  handle?: { stack?: Layer[]; router?: { stack: Layer[] } };
}

/** Every route the app registers, as [METHOD, path], read from Express's own router. */
function registeredRoutes(app: Express): [string, string][] {
  const out: [string, string][] = [];
  const walk = (stack: Layer[], prefix: string) => {
    for (const layer of stack) {
      if (layer.route) {
        for (const method of Object.keys(layer.route.methods)) if (method !== '_all') out.push([method.toUpperCase(), `${prefix}${layer.route.path}`]);
      } else if (layer.handle?.stack) {
        walk(layer.handle.stack, `${prefix}${layer.rawPath === '/' ? '' : (layer.rawPath ?? '')}`);
      } else if (layer.name === 'mounted_app') {
        // A mounted sub-app (Bull Board): its routes are its own, so its mount point stands for them.
        out.push(['GET', `${prefix}${layer.rawPath ?? ''}`], ['GET', `${prefix}${layer.rawPath ?? ''}/api/queues`]);
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
    const routes = registeredRoutes(stack.api!.app).filter(([, path]) => path.startsWith('/v1') || path.startsWith('/admin'));
    const v1 = routes.filter(([, p]) => p.startsWith('/v1'));
    expect(v1.length).toBeGreaterThanOrEqual(7);
    expect(routes.some(([, p]) => p.startsWith('/admin'))).toBe(true);
    for (const [method, path] of routes) {
      const concrete = path.replace(/:(\w+)/g, 'x').replace(/\*\w*/g, 'x');
      const res = await fetch(`${stack.apiUrl}${concrete}`, { method, headers: { 'content-type': 'application/json' }, ...(method === 'GET' ? {} : { body: '{}' }) });
      expect({ method, path, status: res.status }).toEqual({ method, path, status: 401 });
    }
    // The admin UI's root and static files too.
    expect((await fetch(`${stack.apiUrl}/admin/queues`)).status).toBe(401);
    expect((await fetch(`${stack.apiUrl}/admin/queues/static/x.js`)).status).toBe(401);
  });

  it('when callback_url points inward, then it is refused (SSRF); a public URL is accepted', async () => {
    for (const url of ['http://127.0.0.1:9/x', 'http://localhost/x', 'http://[::1]/x', 'http://169.254.169.254/latest', 'http://10.1.2.3/', 'http://192.168.0.1/', 'http://[::ffff:127.0.0.1]/']) {
      const res = await stack.post({ type: 'hold', call_uuid: `ssrf-${randomUUID()}`, callback_url: url });
      expect({ url, status: res.status }).toEqual({ url, status: 422 });
      expect(await res.json()).toMatchObject({ errors: [{ field: 'callback_url' }] });
    }
    expect((await stack.post({ type: 'hold', call_uuid: `ssrf-${randomUUID()}`, callback_url: 'https://crm.example.com/hook' })).status).toBe(202);
  });

  it('when a name resolves only to private addresses, then the callback connection is refused after DNS', async () => {
    const resolver = (answers: LookupAddress[]) => (_host: string, cb: (err: NodeJS.ErrnoException | null, a: LookupAddress[]) => void) => cb(null, answers);
    const lookup = publicOnlyLookup(resolver([{ address: '10.0.0.7', family: 4 }]));
    const err = await new Promise<NodeJS.ErrnoException | null>((resolve) => lookup('inward.example', { all: true }, (e) => resolve(e)));
    expect(err?.code).toBe('ENOTPUBLIC');
    const mixed = publicOnlyLookup(resolver([{ address: '127.0.0.1', family: 4 }, { address: '93.184.216.34', family: 4 }]));
    const picked = await new Promise<string>((resolve) => mixed('mixed.example', {}, (_e, a) => resolve(String(a))));
    expect(picked).toBe('93.184.216.34');
    expect(isPublicAddress('8.8.8.8')).toBe(true);
    expect(isPublicAddress('2001:4860:4860::8888')).toBe(true);
    for (const ip of ['100.64.0.1', '172.16.5.5', 'fe80::1', 'fd00::1', '0.0.0.0', '224.0.0.1']) expect(isPublicAddress(ip)).toBe(false);
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
    for (const secret of [TEST_KEY, 'other-secret-0123456789', wrongKey, stack.sim.authToken, basic, SECRET]) expect(logs).not.toContain(secret);
  });
});

describe('the per-client rate limit', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ worker: false, env: { API_RATE_LIMIT_RPS: '5' } });
  });
  afterAll(() => stack.stop());

  it('when a client goes over API_RATE_LIMIT_RPS, then 429 problem+json with Retry-After, and other clients are not affected', async () => {
    const statuses: number[] = [];
    let limited: Response | undefined;
    for (let i = 0; i < 12; i++) {
      const res = await stack.get('/v1/queues');
      statuses.push(res.status);
      if (res.status === 429) limited ??= res;
    }
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThan(0);
    expect(limited!.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(limited!.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(await limited!.json()).toMatchObject({ status: 429, errors: [{ field: 'Authorization' }] });
    expect((await stack.get('/v1/queues', { key: 'other-secret-0123456789' })).status).toBe(200);
  });


  it('when a client posts intents faster than API_RATE_LIMIT_RPS, then the accept answers 429 with Retry-After and stores nothing extra', async () => {
    // Start just after a second begins, so all ten land in one one-second window.
    await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 20));
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => stack.post({ type: 'hold', call_uuid: `rl-${i}` }, { key: 'other-secret-0123456789' })));
    const statuses = results.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 202).length).toBeLessThanOrEqual(5);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(5);
    const limited = results.find((r) => r.status === 429)!;
    expect(limited.headers.get('retry-after')).toBe('1');
    expect(await limited.json()).toMatchObject({ status: 429, errors: [{ field: 'Authorization' }] });
  });
});
