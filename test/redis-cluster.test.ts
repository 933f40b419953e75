import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Cluster } from 'ioredis';
import { hasRedisServer, removeDir, startRedisServer, type RedisProcess } from './helpers/redis-server.js';
import { startStack, type IntentView, type Stack } from './helpers/stack.js';

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
});
