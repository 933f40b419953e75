import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Cluster } from 'ioredis';
import { startFakePlivo } from './helpers/fake-plivo.js';
import { hasRedisServer, removeDir, startRedisServer, type RedisProcess } from './helpers/redis-server.js';
import { startStack, type IntentView, type Stack } from './helpers/stack.js';

const DESK_KEY = 'other-secret-0123456789'; // testConfig's second API key, client "other"
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The core path on a real three-node Redis Cluster, built the way operators build
 * one (redis-server --cluster-enabled yes, then redis-cli --cluster create). It
 * proves the {prefix} hash-tag design: every key holdq and BullMQ write lands in
 * one slot, so scripts and transactions work.
 */
const describeIfRedis = hasRedisServer() ? describe : describe.skip;

describeIfRedis('on a Redis Cluster', () => {
  const nodes: RedisProcess[] = [];
  let stack: Stack;
  const prefix = `{hq${randomUUID().slice(0, 6)}}`;

  beforeAll(async () => {
    for (let i = 0; i < 3; i++)
      nodes.push(await startRedisServer({ args: ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf'] }));
    execFileSync(
      'redis-cli',
      ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '0', '--cluster-yes'],
      {
        stdio: 'ignore',
      },
    );
    // Every node must agree the cluster is up before holdq connects (it can take a while on a busy machine).
    for (let i = 0; i < 300; i++) {
      const ok = nodes.every((n) =>
        execFileSync('redis-cli', ['-p', String(n.port), 'cluster', 'info'], { encoding: 'utf8' }).includes(
          'cluster_state:ok',
        ),
      );
      if (ok) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    stack = await startStack({ env: { REDIS_URL: nodes[0]!.url, REDIS_CLUSTER: 'true', QUEUE_PREFIX: prefix } });
  }, 90_000);

  afterAll(async () => {
    await stack?.stop();
    for (const n of nodes) {
      await n.stop();
      removeDir(n.dir);
    }
  });

  it('when an intent is posted, then it is transferred and completed, with every key in one slot', async () => {
    // (a generous timeout below: a cluster on a busy 2-core machine answers slowly)
    const call = `cluster-${randomUUID()}`;
    const res = await stack.post(
      { type: 'enqueue', call_uuid: call, queue: 'support' },
      { idempotencyKey: 'cluster-1' },
    );
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as IntentView;
    expect(await stack.waitForIntent(id)).toMatchObject({ status: 'completed', transfers: [{ status_code: 202 }] });
    expect(
      (await stack.post({ type: 'enqueue', call_uuid: call, queue: 'support' }, { idempotencyKey: 'cluster-1' }))
        .status,
    ).toBe(200);

    const agent = `agent-${randomUUID()}`;
    const d = (await (
      await stack.post({ type: 'dequeue', queue: 'support', agent_call_uuid: agent })
    ).json()) as IntentView;
    expect(await stack.waitForIntent(d.id)).toMatchObject({ status: 'completed', call_uuid: call });

    const cluster = new Cluster([{ host: '127.0.0.1', port: nodes[0]!.port }]);
    try {
      await new Promise((resolve) => cluster.once('ready', resolve));
      const keys: string[] = [];
      for (const node of cluster.nodes('master')) keys.push(...(await node.keys(`${prefix}*`)));
      expect(keys.length).toBeGreaterThan(5);
      const slots = new Set(await Promise.all(keys.map((k) => cluster.cluster('KEYSLOT', k))));
      expect(slots.size).toBe(1);
    } finally {
      cluster.disconnect();
    }
  }, 90_000);

  it("when a client's burst waits for the rate on the cluster, then another client's holds wait a slot or two, and one call's intents still take effect in accept order", async () => {
    // The pacer's line, the classes' turns and the calls' lines are scripts over keys of one slot,
    // so they work on a cluster as on one Redis (issue 15, item 4). A stack of its own: its own
    // hash tag, the rate at 20 a second, and a fake Plivo that refuses what passes it.
    const fake = await startFakePlivo({ latencyMs: [0, 5], failureRate: 0, limit: { max: 20, windowMs: 1000 } });
    const paced = await startStack({
      env: {
        REDIS_URL: nodes[0]!.url,
        REDIS_CLUSTER: 'true',
        QUEUE_PREFIX: `{hq${randomUUID().slice(0, 6)}}`,
        PLIVO_BASE_URL: fake.url,
        PLIVO_MAX_RPS: '20',
        WORKER_CONCURRENCY: '8',
        TRANSFER_URL_ALLOWLIST: 'example.com',
      },
    });
    try {
      const accept = async (res: Promise<Response>) => {
        const r = await res;
        expect(r.status).toBe(202);
        return (await r.json()) as IntentView;
      };
      // Two and a half seconds of bulk transfers at 20 a second.
      const burst = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          accept(
            paced.post({
              type: 'transfer',
              call_uuid: `cl-bulk-${i}`,
              legs: 'aleg',
              aleg_url: 'https://example.com/next.xml',
            }),
          ),
        ),
      );
      // One call's intents, posted at once (Redis decides their order), and a desk's holds meanwhile.
      const call = 'cl-ordered';
      const steps = ['hold', 'unhold', 'enqueue', 'hold', 'unhold', 'hold'].map((type) => ({
        type,
        call_uuid: call,
        ...(type === 'enqueue' ? { queue: 'support' } : {}),
      }));
      const ordered = await Promise.all(steps.map((b) => accept(paced.post(b, { key: DESK_KEY }))));
      const desk: { call: string; at: number }[] = [];
      for (let i = 0; i < 4; i++) {
        await sleep(200);
        desk.push({ call: `cl-desk-${i}`, at: Date.now() });
        await accept(paced.post({ type: 'hold', call_uuid: `cl-desk-${i}`, legs: 'aleg' }, { key: DESK_KEY }));
      }
      const done = [];
      for (const v of [...burst, ...ordered]) done.push(await paced.waitForIntent(v.id, undefined, 20_000));
      const arrival = (c: string) => fake.transfers.find((t) => t.callUuid === c)?.startedAt;
      for (const d of desk) for (let i = 0; i < 100 && arrival(d.call) === undefined; i++) await sleep(50);

      const burstTimes = burst.map((v) => arrival(v.call_uuid!)!);
      const drainMs = Math.max(...burstTimes) - Math.min(...burstTimes);
      expect(drainMs).toBeGreaterThan(1500);
      expect(Math.max(...desk.map((d) => arrival(d.call)! - d.at))).toBeLessThan(drainMs / 4);
      // The call's transfers reached Plivo one at a time, as its completed intents in accept order.
      const mine = done.filter((v) => v.call_uuid === call).sort((a, b) => a.sequence - b.sequence);
      expect(mine.map((v) => v.sequence)).toEqual([1, 2, 3, 4, 5, 6]);
      for (const v of mine)
        if (v.status !== 'completed')
          expect(v).toMatchObject({ type: 'unhold', status: 'failed', error: { code: 'not_on_hold' } });
      const seen = fake.transfers.filter((t) => t.callUuid === call).sort((a, b) => a.endedAt - b.endedAt);
      const expected = mine
        .filter((v) => v.status === 'completed')
        .flatMap((v) => v.transfers.filter((t) => t.status_code === 202));
      expect(seen.map((t) => t.body.aleg_url)).toEqual(expected.map((t) => t.aleg_url));
      expect(fake.overlaps).toEqual([]);
      // The rate held: nothing was refused.
      expect(fake.transfers.filter((t) => t.status !== 202)).toEqual([]);
    } finally {
      await paced.stop();
      await fake.stop();
    }
  }, 30_000);
});
