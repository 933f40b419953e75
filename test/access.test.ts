import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ADMIN_KEY, READ_KEY, startStack, TEST_KEY, type IntentView, type Stack } from './helpers/stack.js';

/** Who may do what: READ_KEYS read, API_KEYS also post intents, ADMIN_KEYS also act on the board and retry. */
describe('key roles and the admin board', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ env: { TRANSFER_MAX_ATTEMPTS: '2' } });
  });
  afterAll(() => stack.stop());

  const call = (method: string, path: string, key: string, body?: unknown) =>
    fetch(`${stack.apiUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${key}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  const board = (method: string, path: string, key: string, body?: unknown) =>
    call(method, `/admin/queues/api${path}`, key, body);
  const jobCount = async () => {
    const res = await board('GET', '/queues', ADMIN_KEY);
    const queues = ((await res.json()) as { queues: { name: string; counts: Record<string, number> }[] }).queues;
    return Object.values(queues.find((q) => q.name === 'intent-jobs')!.counts).reduce((a, b) => a + b, 0);
  };

  async function failedIntent(body: object, faults: number): Promise<IntentView> {
    stack.sim.injectFault({ status: 503, times: faults });
    const res = await stack.post(body);
    expect(res.status).toBe(202);
    const failed = await stack.waitForIntent(((await res.json()) as IntentView).id);
    expect(failed).toMatchObject({ status: 'failed', error: { code: 'upstream_unavailable' } });
    return failed;
  }

  it('when a read key is used, then it may read but not post, retry or open the admin board (403)', async () => {
    const posted = (await (await stack.post({ type: 'hold', call_uuid: `r-${randomUUID()}` })).json()) as IntentView;
    expect((await call('GET', `/v1/intents/${posted.id}`, READ_KEY)).status).toBe(200);
    expect((await call('GET', '/v1/queues', READ_KEY)).status).toBe(200);
    const post = await call('POST', '/v1/intents', READ_KEY, { type: 'hold', call_uuid: `r-${randomUUID()}` });
    expect(post.status).toBe(403);
    expect(post.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(await post.json()).toMatchObject({ status: 403, errors: [{ field: 'Authorization' }] });
    expect((await call('POST', `/v1/intents/${posted.id}/retry`, READ_KEY)).status).toBe(403);
    expect((await call('GET', '/admin/queues', READ_KEY)).status).toBe(403);
    expect((await board('GET', '/queues', READ_KEY)).status).toBe(403);
  });

  it('when an API key acts on the board, then it is refused (403) but may still look', async () => {
    expect((await board('GET', '/queues', TEST_KEY)).status).toBe(200);
    const page = await call('GET', '/admin/queues', TEST_KEY);
    expect(page.status).toBe(200);
    for (const [method, path] of [
      ['PUT', '/queues/intent-jobs/pause'],
      ['PUT', '/queues/pause'],
      ['PUT', '/queues/intent-jobs/empty'],
      ['PUT', '/queues/intent-jobs/obliterate'],
      ['PUT', '/queues/intent-jobs/clean/failed'],
      ['PUT', '/queues/intent-jobs/retry/failed'],
      ['PUT', '/queues/intent-jobs/promote'],
      ['PUT', '/queues/intent-jobs/some-id/retry'],
      ['PUT', '/queues/intent-jobs/some-id/promote'],
      ['PUT', '/queues/intent-jobs/some-id/clean'],
      ['PUT', '/queues/intent-jobs/concurrency'],
    ] as const) {
      const res = await board(method, path, TEST_KEY, {});
      expect({ method, path, status: res.status }).toEqual({ method, path, status: 403 });
    }
    const q = (await (await board('GET', '/queues', ADMIN_KEY)).json()) as {
      queues: { name: string; isPaused: boolean }[];
    };
    expect(q.queues.every((x) => !x.isPaused)).toBe(true);
  });

  it('when anyone adds a job or edits job data from the board, then it is refused and nothing reaches Plivo', async () => {
    // The attack: a transfer to a URL off the allowlist is refused by the API...
    const evil = 'http://127.0.0.1:9/evil.xml';
    const refused = await stack.post({
      type: 'transfer',
      call_uuid: `e-${randomUUID()}`,
      legs: 'aleg',
      aleg_url: evil,
    });
    expect(refused.status).toBe(422);
    // ...so it is tried as a raw overflow job from the board, by an API key and by an admin key.
    const before = await jobCount();
    const job = {
      name: 'overflow',
      data: { callUuid: `e-${randomUUID()}`, queue: 'q', intentId: randomUUID(), overflow: evil },
      options: {},
    };
    for (const key of [TEST_KEY, ADMIN_KEY]) {
      const add = await board('POST', '/queues/intent-jobs/add', key, job);
      expect(add.status).toBe(403);
      expect(((await add.json()) as { detail: string }).detail).toMatch(/post an intent/);
      expect((await board('PATCH', '/queues/intent-jobs/any-id/update-data', key, { jobData: job.data })).status).toBe(
        403,
      );
    }
    expect(await jobCount()).toBe(before);
    expect(stack.sim.received().some((t) => JSON.stringify(t.body).includes('evil.xml'))).toBe(false);
  });

  it('when an admin retries a failed dequeue from the board, then the intent runs again as POST /retry would, and it is logged', async () => {
    const caller = `c-${randomUUID().slice(0, 8)}`;
    const agent = `a-${randomUUID().slice(0, 8)}`;
    const queue = `board-${randomUUID().slice(0, 8)}`;
    const enq = (await (await stack.post({ type: 'enqueue', call_uuid: caller, queue })).json()) as IntentView;
    await stack.waitForIntent(enq.id);
    // Both attempts of the dequeue's first transfer fail: it is a dead letter and the caller is back in line.
    const failed = await failedIntent({ type: 'dequeue', queue, agent_call_uuid: agent }, 2);
    const members = async () =>
      ((await (await stack.get(`/v1/queues/${queue}`)).json()) as { members: { call_uuid: string }[] }).members.map(
        (m) => m.call_uuid,
      );
    expect(await members()).toEqual([caller]);

    // The card shows the intent, not only ids.
    const listing = (await (
      await board('GET', '/queues?activeQueue=intent-jobs&status=failed&jobsPerPage=50', ADMIN_KEY)
    ).json()) as {
      queues: {
        name: string;
        jobs: { id: string; name: string; data: { intent?: { type: string; status: string; error_code: string } } }[];
      }[];
    };
    const card = listing.queues.find((q) => q.name === 'intent-jobs')!.jobs.find((j) => j.id === failed.id)!;
    expect(card.name).toBe('dequeue · failed · upstream_unavailable');
    expect(card.data.intent).toMatchObject({ type: 'dequeue', status: 'failed', error_code: 'upstream_unavailable' });

    // An API key may not retry from the board either.
    expect((await board('PUT', `/queues/intent-jobs/${failed.id}/retry`, TEST_KEY)).status).toBe(403);
    const retry = await board('PUT', `/queues/intent-jobs/${failed.id}/retry`, ADMIN_KEY);
    expect(retry.status).toBe(204);
    expect(await stack.waitForIntent(failed.id)).toMatchObject({ status: 'completed', call_uuid: caller, error: null });
    expect(await members()).toEqual([]);
    expect((await (await stack.get(`/v1/calls/${caller}`)).json()) as object).toMatchObject({ state: 'bridged' });
    const line = stack.logs
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l.msg === 'failed intent re-queued' && l.intentId === failed.id);
    expect(line).toMatchObject({ by: 'ops', via: 'admin board' });

    // A second retry of what is no longer failed is refused, as the API refuses it.
    const again = await board('PUT', `/queues/intent-jobs/${failed.id}/retry`, ADMIN_KEY);
    expect(again.status).toBe(409);
  });

  it('when an admin retries every failed job from the board, then each failed intent runs again', async () => {
    const failed = await Promise.all(
      [1, 2].map(() => failedIntent({ type: 'hold', call_uuid: `h-${randomUUID()}` }, 2)),
    );
    const res = await board('PUT', '/queues/intent-jobs/retry/failed', ADMIN_KEY);
    expect(res.status).toBe(200);
    for (const f of failed) expect(await stack.waitForIntent(f.id)).toMatchObject({ status: 'completed' });
  });

  it('when an admin pauses and resumes the queue, then the board obeys', async () => {
    expect((await board('PUT', '/queues/intent-jobs/pause', ADMIN_KEY)).status).toBeLessThan(300);
    const paused = (await (await board('GET', '/queues', ADMIN_KEY)).json()) as {
      queues: { name: string; isPaused: boolean }[];
    };
    expect(paused.queues.find((q) => q.name === 'intent-jobs')!.isPaused).toBe(true);
    expect((await board('PUT', '/queues/intent-jobs/resume', ADMIN_KEY)).status).toBeLessThan(300);
    const resumed = (await (await board('GET', '/queues', ADMIN_KEY)).json()) as {
      queues: { name: string; isPaused: boolean }[];
    };
    expect(resumed.queues.find((q) => q.name === 'intent-jobs')!.isPaused).toBe(false);
  });
});
