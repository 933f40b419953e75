import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startFakePlivo } from './helpers/fake-plivo.js';
import { holdqBuild } from './helpers/holdq-build.js';
import { freePorts, spawnHoldq, waitReady, type HoldqProcess } from './helpers/holdq-processes.js';
import { removeDir, startRedisServer, type RedisProcess } from './helpers/redis-server.js';
import { openStream, type SseEvent } from './helpers/sse.js';
import { redisUrl, TEST_KEY } from './helpers/stack.js';

/**
 * The event stream with real processes (`node dist/main.js api|worker`) on one Redis: two APIs
 * serve one account's stream, whichever took the intents, and a client whose API is killed with
 * SIGKILL mid-stream resumes on the other with Last-Event-ID, missing nothing and seeing nothing
 * twice. Events live in Redis, written by the scripts that make each change; an API only reads.
 */
/** A holdq process's environment: process `i` gets ports[2i] (PORT) and ports[2i + 1] (METRICS_PORT). */
function holdqEnv(
  redis: string,
  prefix: string,
  ports: number[],
  i: number,
  plivo: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    REDIS_URL: redis,
    QUEUE_PREFIX: prefix,
    API_KEYS: `test:${TEST_KEY}`,
    PLIVO_AUTH_ID: 'MAFAKEEVENTS',
    PLIVO_AUTH_TOKEN: 'fake-token-events',
    PLIVO_BASE_URL: plivo,
    PUBLIC_BASE_URL: `http://127.0.0.1:${ports[0]}`,
    PUBLIC_BASE_URL_CHECK: 'false',
    PORT: String(ports[2 * i]),
    METRICS_PORT: String(ports[2 * i + 1]),
    API_RATE_LIMIT_RPS: '0',
    TRANSFER_BACKOFF_MS: '50',
    SHUTDOWN_TIMEOUT_MS: '3000',
    LOG_LEVEL: 'warn',
    ...extra,
  };
}

describe('the event stream across API processes', () => {
  let fake: Awaited<ReturnType<typeof startFakePlivo>>;
  let main: string;
  const procs: HoldqProcess[] = [];
  let env: (i: number) => Record<string, string>;

  beforeAll(async () => {
    main = await holdqBuild();
    fake = await startFakePlivo({ latencyMs: [1, 5], failureRate: 0 });
    const ports = await freePorts(6);
    const prefix = `ev${randomUUID().slice(0, 6)}`;
    env = (i) => holdqEnv(redisUrl(), prefix, ports, i, fake.url, { EVENTS_KEEPALIVE_SECONDS: '1' });
    procs.push(spawnHoldq(main, 'api', 'api-0', env(0)), spawnHoldq(main, 'api', 'api-1', env(1)));
    procs.push(spawnHoldq(main, 'worker', 'worker', env(2)));
    await Promise.all(procs.map((p) => waitReady(p)));
  }, 120_000);

  afterAll(async () => {
    await Promise.all(procs.map((p) => p.stop('SIGTERM', 5000)));
    await fake?.stop();
  }, 30_000);

  const post = async (api: HoldqProcess, body: object) => {
    const res = await fetch(`${api.url}/v1/intents`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(res.status).toBe(202);
    return (await res.json()) as { id: string };
  };
  const completed = (e: SseEvent) => e.event === 'intent.completed';

  it('when intents are posted to one API, then a stream from the other sees their events', async () => {
    const [a, b] = procs as [HoldqProcess, HoldqProcess];
    const s = await openStream(`${b.url}/v1/events?call_uuid=two-apis`);
    expect(s.status).toBe(200);
    const hold = await post(a, { type: 'hold', call_uuid: 'two-apis' });
    const [done] = await s.waitFor(completed);
    expect(done!.json).toMatchObject({ intent_id: hold.id, intent_type: 'hold' });
    expect(s.events.map((e) => e.event)).toEqual(['intent.accepted', 'call.held', 'intent.completed']);
    s.close();
  }, 30_000);

  it('when the API serving a stream is killed with SIGKILL, then the client resumes on the other with Last-Event-ID, losing and repeating nothing', async () => {
    const [a, b] = procs as [HoldqProcess, HoldqProcess];
    const calls = Array.from({ length: 6 }, (_, i) => `kill-${i}`);
    const s = await openStream(`${a.url}/v1/events?types=intent.completed`);
    // Half the intents while the first API serves the stream.
    for (const call of calls.slice(0, 3)) await post(b, { type: 'hold', call_uuid: call });
    await s.waitFor(completed, 3);
    const lastSeen = s.events.at(-1)!.id!;
    a.child.kill('SIGKILL');
    await a.exited;
    await s.ended;
    // The rest while the client is away, then it comes back on the other API.
    const later = [];
    for (const call of calls.slice(3)) later.push(await post(b, { type: 'hold', call_uuid: call }));
    const back = await openStream(`${b.url}/v1/events?types=intent.completed`, { lastEventId: lastSeen });
    await back.waitFor(completed, 3, 15_000);
    const seen = [...s.events, ...back.events];
    expect(seen.map((e) => e.json.call_uuid)).toEqual(calls);
    expect(new Set(seen.map((e) => e.id)).size).toBe(seen.length);
    expect(back.events.map((e) => e.json.intent_id)).toEqual(later.map((v) => v.id));
    back.close();
    // As an orchestrator would, the killed API comes back, and serves the stream from the start of what is kept.
    procs[0] = spawnHoldq(main, 'api', 'api-0b', env(0));
    await waitReady(procs[0]);
    const again = await openStream(`${procs[0].url}/v1/events?types=intent.completed`, { lastEventId: '0-1' });
    await again.waitFor(completed, 7);
    again.close();
  }, 60_000);
});

describe('the event stream across a Redis restart', () => {
  let redis: RedisProcess;
  let fake: Awaited<ReturnType<typeof startFakePlivo>>;
  const procs: HoldqProcess[] = [];

  beforeAll(async () => {
    const main = await holdqBuild();
    redis = await startRedisServer({ args: ['--appendonly', 'yes', '--appendfsync', 'always'] });
    fake = await startFakePlivo({ latencyMs: [1, 5], failureRate: 0 });
    const ports = await freePorts(4);
    const env = (i: number) => holdqEnv(redis.url, 'evr', ports, i, fake.url);
    procs.push(spawnHoldq(main, 'api', 'api', env(0)), spawnHoldq(main, 'worker', 'worker', env(1)));
    await Promise.all(procs.map((p) => waitReady(p)));
  }, 120_000);

  afterAll(async () => {
    await Promise.all(procs.map((p) => p.stop('SIGTERM', 5000)));
    await fake?.stop();
    if (redis) {
      await redis.stop();
      removeDir(redis.dir);
    }
  }, 30_000);

  it('when Redis restarts under an open stream, then the stream goes on from where it was, and its events were kept (AOF)', async () => {
    const [api] = procs as [HoldqProcess];
    const post = async (call: string) => {
      for (let i = 0; i < 100; i++) {
        const res = await fetch(`${api.url}/v1/intents`, {
          method: 'POST',
          // Retried as a client must: one Idempotency-Key, so a 503 that hid a stored intent stays one intent.
          headers: { authorization: `Bearer ${TEST_KEY}`, 'content-type': 'application/json', 'idempotency-key': call },
          body: JSON.stringify({ type: 'hold', call_uuid: call }),
        }).catch(() => null);
        if (res?.status === 202 || res?.status === 200) return;
        await new Promise((r) => setTimeout(r, 200));
      }
      throw new Error(`no 202 for ${call}`);
    };
    const s = await openStream(`${api.url}/v1/events?types=intent.completed`);
    await post('before-restart');
    await s.waitFor((e) => e.event === 'intent.completed');
    const port = redis.port;
    const dir = redis.dir;
    await redis.stop('SIGKILL');
    redis = await startRedisServer({ port, dir, args: ['--appendonly', 'yes', '--appendfsync', 'always'] });
    await post('after-restart');
    await s.waitFor((e) => e.event === 'intent.completed', 2, 20_000);
    expect(s.events.map((e) => e.json.call_uuid)).toEqual(['before-restart', 'after-restart']);
    // The events from before the restart are still there for a client that resumes from the start.
    const again = await openStream(`${api.url}/v1/events?types=intent.completed`, { lastEventId: '0-1' });
    await again.waitFor((e) => e.event === 'intent.completed', 2);
    expect(again.events.map((e) => e.id)).toEqual(s.events.map((e) => e.id));
    s.close();
    again.close();
  }, 60_000);
});
