import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { redisUrl, startStack, type IntentView, type Stack } from './helpers/stack.js';
import { openStores } from './helpers/stores.js';

/** Queues created on demand stay bounded: listed page by page, forgotten when idle, few metric labels. */
interface Listing {
  items: { name: string; waiting: number; configured: boolean }[];
  next_cursor: string | null;
}

describe('queues created on demand', () => {
  let stack: Stack;
  let redis: Redis;
  const tag = randomUUID().slice(0, 6);
  beforeAll(async () => {
    stack = await startStack({
      env: { QUEUES: JSON.stringify({ support: {} }), QUEUE_IDLE_SECONDS: '1', METRICS_MAX_QUEUES: '3' },
    });
    redis = new Redis(redisUrl());
  });
  afterAll(async () => {
    redis.disconnect();
    await stack.stop();
  });

  async function enqueue(call: string, queue: string) {
    const res = await stack.post({ type: 'enqueue', call_uuid: call, queue });
    expect(res.status).toBe(202);
    return stack.waitForIntent(((await res.json()) as IntentView).id);
  }
  const listing = async (query: string) => (await (await stack.get(`/v1/queues${query}`)).json()) as Listing;

  it('when there are more queues than a page, then GET /v1/queues pages through all of them in name order, each once', async () => {
    const names = Array.from({ length: 23 }, (_, i) => `p${tag}-${String(i).padStart(2, '0')}`);
    await Promise.all(names.map((q) => enqueue(`c-${q}`, q)));
    const seen: string[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 10; page++) {
      const body: Listing = await listing(`?limit=10${cursor ? `&cursor=${cursor}` : ''}`);
      expect(body.items.length).toBeLessThanOrEqual(10);
      seen.push(...body.items.map((i) => i.name));
      cursor = body.next_cursor;
      if (!cursor) break;
    }
    expect(seen).toEqual([...seen].sort());
    expect(new Set(seen).size).toBe(seen.length);
    for (const name of [...names, 'support']) expect(seen).toContain(name);
    expect(seen.find((n) => n === 'support')).toBeDefined();
    const one = await listing('?limit=1');
    expect(one.items).toHaveLength(1);
    expect(one.next_cursor).toBe(one.items[0]!.name);
    for (const bad of ['?limit=501', '?limit=0', '?cursor=%20x', '?page=2']) {
      const res = await stack.get(`/v1/queues${bad}`);
      expect({ bad, status: res.status }).toEqual({ bad, status: 422 });
    }
  });

  it('when an on-demand queue has been empty for QUEUE_IDLE_SECONDS, then it is forgotten; a configured or busy one is not', async () => {
    const idle = `idle${tag}`;
    const busy = `busy${tag}`;
    const caller = `ci-${randomUUID()}`;
    await enqueue(caller, idle);
    await enqueue(`cb-${randomUUID()}`, busy);
    const dq = (await (
      await stack.post({ type: 'dequeue', queue: idle, agent_call_uuid: `ag-${randomUUID()}` })
    ).json()) as IntentView;
    expect(await stack.waitForIntent(dq.id)).toMatchObject({ status: 'completed' });
    expect((await stack.get(`/v1/queues/${idle}`)).status).toBe(200);
    // A second later the empty queue is stale; the busy one has a caller and the configured one is configured.
    const deadline = Date.now() + 10_000;
    while ((await stack.get(`/v1/queues/${idle}`)).status !== 404 && Date.now() < deadline)
      await stack.worker!.tidyQueues();
    expect((await stack.get(`/v1/queues/${idle}`)).status).toBe(404);
    expect((await stack.get(`/v1/queues/${busy}`)).status).toBe(200);
    expect((await stack.get('/v1/queues/support')).status).toBe(200);
    const all: string[] = [];
    for (let cursor: string | null = null, i = 0; i < 20; i++) {
      const body: Listing = await listing(`?limit=500${cursor ? `&cursor=${cursor}` : ''}`);
      all.push(...body.items.map((q) => q.name));
      cursor = body.next_cursor;
      if (!cursor) break;
    }
    expect(all).not.toContain(idle);
    expect(all).toContain(busy);
    // A caller joining again brings it back.
    await enqueue(`again-${randomUUID()}`, idle);
    expect((await stack.get(`/v1/queues/${idle}`)).status).toBe(200);
  });

  it('when a queue is unknown, then the lookup is a 404 that reads no other queue', async () => {
    const info = async () => {
      const text = await redis.info('commandstats');
      return Object.fromEntries([...text.matchAll(/^cmdstat_(\w+):calls=(\d+)/gm)].map((m) => [m[1]!, Number(m[2])]));
    };
    const before = await info();
    const res = await stack.get(`/v1/queues/nosuch${tag}`);
    const after = await info();
    expect(res.status).toBe(404);
    const used = Object.entries(after).reduce((n, [cmd, calls]) => n + calls - (before[cmd] ?? 0), 0) - 1; // less the INFO itself
    // ZRANGE of its members and ZSCORE in the index, whatever the number of queues (over 25 here).
    expect(used).toBeLessThanOrEqual(3);
  });

  it('when there are more queues than METRICS_MAX_QUEUES, then the others are summed under queue="_other"', async () => {
    const m = `m${tag}`;
    const queues = Array.from({ length: 6 }, (_, i) => `${m}-${i}`);
    for (const q of queues) await enqueue(`cm-${q}`, q);
    const text = await (await stack.get('/metrics', { key: null })).text();
    const series = [...text.matchAll(/^holdq_queue_callers\{queue="([^"]+)",account="default"\} (\S+)$/gm)].map(
      (x) => [x[1]!, Number(x[2])] as const,
    );
    const labels = series.map(([q]) => q);
    // support (configured), at most three others, and _other.
    expect(labels).toContain('support');
    expect(labels).toContain('_other');
    expect(labels.length).toBeLessThanOrEqual(1 + 3 + 1);
    const waitingNow = (
      await Promise.all(
        queues.map(async (q) => ((await (await stack.get(`/v1/queues/${q}`)).json()) as { waiting: number }).waiting),
      )
    ).reduce((a, b) => a + b, 0);
    expect(waitingNow).toBe(6);
    const total = series.reduce((a, [, v]) => a + v, 0);
    expect(total).toBeGreaterThanOrEqual(6);
    // Leaving callers land in a bounded set of histogram series too.
    for (const q of queues) {
      const dq = (await (
        await stack.post({ type: 'dequeue', queue: q, agent_call_uuid: `am-${randomUUID()}` })
      ).json()) as IntentView;
      await stack.waitForIntent(dq.id);
    }
    const after = await (await stack.get('/metrics', { key: null })).text();
    const waitLabels = new Set(
      [...after.matchAll(/^holdq_queue_wait_seconds_count\{queue="([^"]+)"/gm)].map((x) => x[1]!),
    );
    expect(waitLabels.size).toBeLessThanOrEqual(1 + 3 + 1);
  });
});

describe('queue names of an older holdq', () => {
  it('when the old set of names is found, then it becomes the index once', async () => {
    const stores = openStores('legacy');
    try {
      await stores.redis.sadd(stores.keys.legacyQueues(), 'alpha', 'beta');
      expect(await stores.queues.migrate()).toBe(2);
      expect(await stores.queues.migrate()).toBe(0);
      expect(await stores.queues.names(null, 10)).toEqual(['alpha', 'beta']);
      expect(await stores.redis.exists(stores.keys.legacyQueues())).toBe(0);
    } finally {
      await stores.close();
    }
  });
});
