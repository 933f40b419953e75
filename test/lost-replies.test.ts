import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import type { IntentRecord } from '../src/domain/intent.js';
import { createPlivoPacer } from '../src/infra/plivo-pacer.js';
import { createRedis } from '../src/infra/redis.js';
import { ONCE_TTL_MS } from '../src/infra/redis-script.js';
import { startRedisProxy } from './helpers/redis-proxy.js';
import { openStores, type Stores } from './helpers/stores.js';

/**
 * When a connection breaks after Redis ran a script but before its reply was read (a Redis killed
 * under load, a reset), ioredis sends the script again on the new connection. Each script that
 * writes must then change nothing the second time, and answer as if it had run once. Here a proxy
 * lets one chosen script through to a real Redis, drops its reply and resets the connection; the
 * connection is the worker's own kind (createRedis 'state'), which waits out the break and resends.
 */
describe('a script whose reply is lost to a broken connection, and that ioredis sends again', () => {
  let proxy: Awaited<ReturnType<typeof startRedisProxy>>;
  let direct: Redis;
  let stores: Stores;
  /** The next command this picks runs in Redis, and its reply is lost with the connection. */
  let loseNext: ((argv: string[]) => boolean) | null = null;
  let lost = 0;
  let evalsSeen: string[][] = [];

  beforeAll(async () => {
    const target = new URL(process.env.HOLDQ_TEST_REDIS_URL!);
    proxy = await startRedisProxy({ host: target.hostname, port: Number(target.port) }, (argv) => {
      const name = argv[0]?.toLowerCase();
      if (name === 'evalsha' || name === 'eval') evalsSeen.push(argv);
      if (loseNext && (name === 'evalsha' || name === 'eval') && loseNext(argv)) {
        loseNext = null;
        lost += 1;
        return 'lose-reply';
      }
      return 'forward';
    });
    direct = new Redis(process.env.HOLDQ_TEST_REDIS_URL!);
    stores = openStores('lost-replies', { redis: createRedis(proxy.url, 'state', 'lost-replies') });
    // The intent queue shares the connection, and reports each reset the proxy makes.
    stores.queue.on('error', () => undefined);
    // Every script once, so Redis has them all cached: the lost run is one that ran (not a NOSCRIPT).
    const warm = `warm-${randomUUID()}`;
    const accepted = await stores.store.accept({
      client: 'test',
      request: { type: 'hold', call_uuid: warm, legs: 'aleg' },
    });
    if (accepted.kind !== 'created') throw new Error(accepted.kind);
    const gate = await stores.calls.begin(warm, accepted.record.id, 'warm', 30_000);
    if (gate.kind !== 'ok') throw new Error(gate.kind);
    await stores.store.finish(accepted.record, 'completed', { release: { callUuid: warm, token: 'warm' } });
    await stores.calls.apply(warm, { state: 'queued', queue: 'warm-q', held_legs: null }, await stores.calls.get(warm));
    await stores.queues.take('warm-q');
  });
  afterAll(async () => {
    await stores?.close();
    direct?.disconnect();
    await proxy?.stop();
  });
  beforeEach(() => {
    lost = 0;
    evalsSeen = [];
  });

  /** The events of the stream about `call`, by type. */
  async function eventsOf(call: string) {
    const entries = (await direct.xrange(stores.keys.events(), '-', '+')) as [string, string[]][];
    const types: string[] = [];
    for (const [, fields] of entries) {
      const f = new Map<string, string>();
      for (let i = 0; i + 1 < fields.length; i += 2) f.set(fields[i]!, fields[i + 1]!);
      if (f.get('call') === call) types.push(f.get('type')!);
    }
    return types;
  }
  /** The command carried `text` among its arguments. */
  const naming = (text: string) => (argv: string[]) => argv.some((a) => a.includes(text));
  const accept = async (call: string) => {
    const result = await stores.store.accept({
      client: 'test',
      request: { type: 'hold', call_uuid: call, legs: 'aleg' },
    });
    if (result.kind !== 'created') throw new Error(result.kind);
    return result.record;
  };
  /** A queue of its own with two callers waiting in it, first and second. */
  async function twoWaiting() {
    const queue = `q-${randomUUID().slice(0, 8)}`;
    const [first, second] = [`first-${randomUUID()}`, `second-${randomUUID()}`];
    for (const call of [first, second])
      await stores.calls.apply(call, { state: 'queued', queue, held_legs: null }, await stores.calls.get(call));
    return { queue, first, second };
  }
  /** How many times Redis got the command `pick` chose: the run and its resend. */
  const sent = (pick: (argv: string[]) => boolean) => evalsSeen.filter(pick).length;

  it('when an accept is sent again, then there is still one intent: one number in its call, one event', async () => {
    const call = `accept-${randomUUID()}`;
    loseNext = naming(call);
    const record = await accept(call);
    expect(lost).toBe(1);
    expect(sent(naming(call))).toBe(2);
    expect(record.seq).toBe(1);
    expect(await direct.hget(stores.keys.call(call), 'seq')).toBe('1');
    expect(await direct.zrange(stores.keys.pending(call), 0, -1, 'WITHSCORES')).toEqual([record.id, '1']);
    expect(JSON.parse((await direct.get(stores.keys.intent(record.id)))!)).toMatchObject({ seq: 1, status: 'queued' });
    expect(await eventsOf(call)).toEqual(['intent.accepted']);
  });

  it('when a finish is sent again, then the intent finished once: one event, one transfer counted', async () => {
    const call = `finish-${randomUUID()}`;
    const record = await accept(call);
    loseNext = (argv) => naming(call)(argv) && argv.includes('intent.completed');
    const done = await stores.store.finish(record, 'completed', { counts: [call] });
    expect(lost).toBe(1);
    expect(done.record.status).toBe('completed');
    expect(await direct.hget(stores.keys.call(call), 'transfer_count')).toBe('1');
    expect(await eventsOf(call)).toEqual(['intent.accepted', 'intent.completed']);
    expect(await direct.zscore(stores.keys.unfinished(), record.id)).toBeNull();
  });

  it('when the gate is sent again, then it opens (its own lock is no other run) and the record counts one attempt', async () => {
    const call = `gate-${randomUUID()}`;
    const record = await accept(call);
    const token = randomUUID();
    loseNext = naming(token);
    const gate = await stores.calls.begin(call, record.id, token, 30_000);
    expect(lost).toBe(1);
    expect(gate.kind).toBe('ok');
    expect(await direct.get(stores.keys.lock(call))).toBe(token);
    const stored = JSON.parse((await direct.get(stores.keys.intent(record.id)))!) as IntentRecord;
    expect(stored).toMatchObject({ status: 'running', attempts: 1 });
    await stores.calls.release(call, token);
  });

  it('when a gate that booked a rate slot is sent again, then the run gets the slot its first run booked', async () => {
    const pacer = createPlivoPacer(stores.redis, stores.keys.plivoRate(), 1000, { holdMs: 5000 });
    const call = `gate-slot-${randomUUID()}`;
    const record = await accept(call);
    const token = randomUUID();
    const booking = pacer.booking();
    loseNext = naming(token);
    const gate = await stores.calls.begin(call, record.id, token, 30_000, booking);
    expect(lost).toBe(1);
    if (gate.kind !== 'ok') throw new Error(gate.kind);
    // The resend asked for the booked slot's turn (a wait), rather than answering "none booked".
    expect(gate.slot).not.toBeNull();
    const permit = await gate.slot!;
    expect(await direct.zrange(booking.keys.sent, 0, -1)).toEqual([booking.args.member]);
    expect(await direct.zcard(booking.keys.line)).toBe(0);
    permit.discard();
    await stores.calls.release(call, token);
  });

  it('when a take is sent again, then one caller left the queue, the one answered, and the next still waits', async () => {
    const { queue, first, second } = await twoWaiting();
    loseNext = (argv) => argv.includes(queue);
    const taken = await stores.queues.take(queue);
    expect(lost).toBe(1);
    expect(taken?.call_uuid).toBe(first);
    expect(await direct.zrange(stores.keys.queue(queue), 0, -1)).toEqual([second]);
    expect(await eventsOf(second)).toEqual(['queue.joined', 'queue.position']);
  });

  it('when a take aborted in an automatic pipeline (the replies before it were read) goes again, then it is still one take', async () => {
    const { queue, first, second } = await twoWaiting();
    loseNext = (argv) => argv.includes(queue);
    const mark = evalsSeen.length;
    // Issued in one tick, the two leave in one write: the read's reply arrives, the take's is lost,
    // and ioredis aborts the take instead of resending it.
    const [before, taken] = await Promise.all([stores.calls.get(second), stores.queues.take(queue)]);
    expect(lost).toBe(1);
    expect(before.state).toBe('queued');
    expect(taken?.call_uuid).toBe(first);
    expect(evalsSeen.slice(mark).filter((argv) => argv.includes(queue))).toHaveLength(2);
    expect(await direct.zrange(stores.keys.queue(queue), 0, -1)).toEqual([second]);
  });

  it('when a transfer is saved again, then it counts once against the call', async () => {
    const call = `transfer-${randomUUID()}`;
    const record = await accept(call);
    loseNext = naming(`${call}`);
    await stores.store.saveTransfer({ ...record, attempts: 1 }, call);
    expect(lost).toBe(1);
    expect(await direct.hget(stores.keys.call(call), 'transfer_count')).toBe('1');
  });

  it('when a call state change is sent again, then it left its queue once', async () => {
    const queue = `q-${randomUUID().slice(0, 8)}`;
    const call = `hangup-${randomUUID()}`;
    await stores.calls.apply(call, { state: 'queued', queue, held_legs: null }, await stores.calls.get(call));
    const from = await stores.calls.get(call);
    loseNext = (argv) => naming(call)(argv) && argv.includes('ended');
    await stores.calls.apply(call, { state: 'ended', queue: null, held_legs: null }, from);
    expect(lost).toBe(1);
    expect(await eventsOf(call)).toEqual(['queue.joined', 'queue.left', 'call.ended']);
    // The first run's reply is kept, for a resend, no longer than ONCE_TTL_MS.
    const kept = evalsSeen.filter(naming(call)).at(-1)!;
    const key = kept[2] === '0' ? null : kept[3]!;
    expect(key).toMatch(/once:/);
    const ttl = await direct.pttl(key!);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(ONCE_TTL_MS);
  });
});
