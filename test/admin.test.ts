import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startStack, TEST_KEY, type Stack } from './helpers/stack.js';

describe('the admin UI (Bull Board)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ worker: false });
  });
  afterAll(() => stack.stop());

  const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
  const get = (path: string, authorization?: string) =>
    fetch(`${stack.apiUrl}${path}`, { headers: authorization ? { authorization } : {} });

  it('when opened without a key, then the browser is asked for one (401 Basic)', async () => {
    const res = await get('/admin/queues');
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Basic realm="holdq admin"/);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect((await get('/admin/queues', basic('test', 'wrong-secret-0123456789'))).status).toBe(401);
    expect((await get('/admin/queues', basic('other', TEST_KEY))).status).toBe(401); // right secret, wrong name
  });

  it('when opened with a key, then it shows holdq’s job queues', async () => {
    const page = await get('/admin/queues', basic('test', TEST_KEY));
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/<html/i);
    const api = await get('/admin/queues/api/queues', `Bearer ${TEST_KEY}`);
    expect(api.status).toBe(200);
    const body = (await api.json()) as { queues: { name: string }[] };
    expect(body.queues.map((q) => q.name).sort()).toEqual(['callbacks', 'intent-jobs']);
  });
});
