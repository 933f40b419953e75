import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { createIntentJobs } from '../src/infra/intent-queue.js';
import { createJobInsert } from '../src/infra/job-insert.js';
import { assembleScript, defineScript, parseHeader } from '../src/infra/redis-script.js';
import {
  acceptScript,
  CALL_SEEN,
  FINISH,
  FIXED_SCRIPTS,
  GATE,
  QUEUE_DEPTHS,
  QUEUE_FORGET_IDLE,
  QUEUE_MIGRATE,
  QUEUE_PUT_BACK,
  QUEUE_TAKE,
  RATE_PENALIZE,
  RATE_RELEASE,
  RATE_SLOT,
  RELEASE_LOCK,
  SET_CALL_STATE,
} from '../src/infra/scripts.js';

/**
 * Each Redis script on its own, through its typed wrapper, on this file's real Redis: what it
 * answers and what it leaves behind. (The stores' tests cover them again as the stores use them.)
 */
let redis: Redis;
let p: string;
const k = (name: string) => `${p}:${name}`;
beforeAll(() => {
  redis = new Redis(process.env.HOLDQ_TEST_REDIS_URL!);
});
afterAll(() => redis.disconnect());
const fresh = () => {
  p = `lua-${randomUUID().slice(0, 8)}`;
};

describe('the script files', () => {
  it('when every wrapper is checked against its file, then each names what its header names', () => {
    for (const script of FIXED_SCRIPTS) expect(script.assembled().sha).toMatch(/^[0-9a-f]{40}$/);
  });

  it("when a wrapper's names differ from its header's, then its first use says so", async () => {
    const wrong = defineScript('release-lock', { keys: ['lock'], args: ['tok'], returns: ['removed', 'absent'] });
    await expect(wrong.run(redis, { lock: 'x' }, { tok: 'y' })).rejects.toThrow(
      /lists args token; its wrapper says tok/,
    );
  });

  it('when a header lacks a section or names a status not in the list, then it is refused', () => {
    expect(() => parseHeader('x', '--[[\n  KEYS:\n    a  one\n\n  ARGV:\n    b  two\n]]')).toThrow(
      /no Returns: section/,
    );
    expect(() =>
      parseHeader('x', "--[[\n  KEYS:\n    a  one\n\n  ARGV:\n    b  two\n\n  Returns:\n    {'maybe'}  no\n]]"),
    ).toThrow(/'maybe' is not in SCRIPT_STATUSES/);
    expect(() =>
      parseHeader('x', "--[[\n  KEYS:\n    a...  all\n    b  one\n\n  ARGV:\n\n  Returns:\n    {'ok'}\n]]"),
    ).toThrow(/only the last name/);
  });

  it('when a script is assembled, then its includes come once each and its inputs are bound by name', () => {
    const gate = assembleScript('gate');
    expect(gate.source.match(/local function now_us/g)).toHaveLength(1);
    expect(gate.source).toMatch(/^local KEY = \{\n {2}pending = KEYS\[1\],/);
    expect(gate.source).toContain('member = ARGV[10],');
    expect(assembleScript('finish').source).toContain('counted = {unpack(KEYS, 20)},');
  });
});

describe('accept.lua', () => {
  let accept: ReturnType<typeof acceptScript>;
  let queue: ReturnType<typeof createIntentJobs>;
  let jobs: ReturnType<typeof createJobInsert>;
  beforeAll(() => {
    fresh();
    queue = createIntentJobs(redis, { prefix: p, attempts: 3 });
    jobs = createJobInsert(queue);
    accept = acceptScript(jobs, {
      unfinished: k('unfinished'),
      queue_index: k('queue-index'),
      queue_activity: k('queue-activity'),
      events: k('events'),
      idempotency_ttl: 60,
      call_ttl: 60,
      band: 1000,
      events_max: 1000,
    });
  });
  afterAll(() => queue.close());

  const run = (id: string, over: Partial<Record<string, string | number>> = {}) =>
    accept.run(
      redis,
      {
        intent: k(`intent:${id}`),
        idempotency: k(`idem:${over.idem ?? id}`),
        call: k('call:c1'),
        pending: k('call:c1:pending'),
        queue: k('queue:q'),
        client_rate: k(`rate:${over.second ?? 1}`),
        claim_queue: k('queue:from'),
        claim_queue_times: k('queue:from:since'),
        fair: k(`fair:${over.cls ?? 1}`),
        fair_open: k(`fair:${over.cls ?? 1}:open`),
        claim_queue_stats: k('queue:from:stats'),
        claim_queue_outcomes: k('queue:from:outcomes'),
      },
      {
        id,
        record: JSON.stringify({ id, status: 'queued', attempts: 0 }),
        body_hash: String(over.hash ?? 'h1'),
        has_key: over.idem ? '1' : '0',
        now_ms: 1000,
        budget: over.budget ?? 10,
        queue_name: over.queue_name ?? '',
        queue_max: over.queue_max ?? 0,
        rate_limit: over.rate_limit ?? 0,
        job_data: JSON.stringify({ intentId: id, callUuid: 'c1' }),
        claim_call: over.claim_call ?? '',
        claim_queue_name: over.claim_call ? 'from' : '',
        call_uuid: 'c1',
        client: over.client ?? 'desk',
        class_index: over.cls ?? 1,
        intent_type: 'hold',
        intent_queue: '',
      },
    );

  it('when an intent is accepted, then its record, line, unfinished entry and job are stored, numbered per call', async () => {
    const [a, b] = [randomUUID(), randomUUID()];
    // Lua's false is Redis's nil; the last value is the job's priority: class 1 of bands of 1000, turns 1 and 2.
    expect(await run(a)).toEqual({ status: 'created', values: [1, null, 1001] });
    expect(await run(b)).toEqual({ status: 'created', values: [2, null, 1002] });
    expect(JSON.parse((await redis.get(k(`intent:${b}`)))!)).toEqual({ seq: 2, id: b, status: 'queued', attempts: 0 });
    expect(await redis.zrange(k('call:c1:pending'), 0, -1, 'WITHSCORES')).toEqual([a, '1', b, '2']);
    expect(await redis.zscore(k('unfinished'), b)).toBe('1000');
    expect((await queue.getJob(b))?.data).toEqual({ intentId: b, callUuid: 'c1' });
    expect((await queue.getJob(b))?.priority).toBe(1002);
    expect(await queue.getJobState(b)).toBe('prioritized');
    expect(await redis.zrange(k('fair:1:open'), 0, -1)).toEqual([a, b].sort()); // equal scores: by id
  });

  it('when clients post in one class, then each takes its turn from the turn being served, never from behind it', async () => {
    const priority = async (client: string, cls = 2) => (await run(randomUUID(), { client, cls })).values[2];
    // A bulk client's burst takes turns 1, 2, 3; a desk client posting next is served in the first turn.
    expect([await priority('bulk'), await priority('bulk'), await priority('bulk')]).toEqual([2001, 2002, 2003]);
    expect(await priority('desk')).toBe(2001);
    // Turn 2 is being served (the gate said so): a client idle so far starts there, not at 1.
    await redis.hset(k('fair:2'), 'vt', 2);
    expect(await priority('late')).toBe(2003);
    expect(await priority('desk')).toBe(2003);
    expect(await priority('bulk')).toBe(2004);
    // Another class has turns of its own.
    expect(await priority('bulk', 3)).toBe(3001);
  });

  it('when turns reach the end of their band, then they stay there (first come, first served)', async () => {
    await redis.hset(k('fair:0'), 'c:flood', 998);
    expect((await run(randomUUID(), { client: 'flood', cls: 0 })).values[2]).toBe(999);
    expect((await run(randomUUID(), { client: 'flood', cls: 0 })).values[2]).toBe(999);
  });

  it('when the same Idempotency-Key comes again, then the entry comes back and nothing more is stored', async () => {
    const key = `idem-${randomUUID()}`;
    const id = randomUUID();
    expect((await run(id, { idem: key })).status).toBe('created');
    const again = await run(randomUUID(), { idem: key, hash: 'h2' });
    expect(again).toEqual({ status: 'replayed', values: [`${id} h1`] });
  });

  it('when a limit refuses, then the answer names it and nothing is stored', async () => {
    const before = await redis.zcard(k('unfinished'));
    expect((await run(randomUUID(), { budget: 0 })).status).toBe('budget_spent');
    await redis.zadd(k('queue:q'), 1, 'someone');
    expect((await run(randomUUID(), { queue_name: 'q', queue_max: 1 })).status).toBe('queue_full');
    expect((await run(randomUUID(), { rate_limit: 1, second: 7 })).status).toBe('created');
    expect((await run(randomUUID(), { rate_limit: 1, second: 7 })).status).toBe('rate_limited');
    expect((await run(randomUUID(), { claim_call: 'nobody' })).status).toBe('not_waiting');
    expect(await redis.zcard(k('unfinished'))).toBe(before + 1);
  });

  it('when a waiting caller is claimed, then it leaves its queue with the accept, and its join time comes back', async () => {
    await redis.zadd(k('queue:from'), 5, 'caller');
    await redis.zadd(k('queue:from:since'), 777, 'caller');
    expect(await run(randomUUID(), { claim_call: 'caller' })).toMatchObject({
      status: 'created',
      values: [expect.any(Number), '777', expect.any(Number)],
    });
    expect(await redis.zscore(k('queue:from'), 'caller')).toBeNull();
    expect(await redis.zscore(k('queue-activity'), 'from')).toBe('1000');
  });
});

describe('finish.lua', () => {
  beforeAll(fresh);
  const effect = (on: boolean) => ({
    call_uuid: 'c1',
    state: 'queued',
    queue: 'q',
    held_legs: '',
    since: '2026-01-01T00:00:00.000Z',
    queue_score: 42,
    old_queue_name: '',
    applied_seq: '1',
    intent_id: 'i1',
    effect: on ? '1' : '0',
    events_max: 1000,
    leave_reason: '',
    event: 'intent.completed',
    intent_type: 'enqueue',
    intent_queue: 'q',
    error: '',
  });
  const keys = (counted: string[]) => ({
    intent: k('intent:i1'),
    pending: k('call:c1:pending'),
    unfinished: k('unfinished'),
    dead: k('dead'),
    lock: k('call:c1:lock'),
    fair: k('fair:1'),
    fair_open: k('fair:1:open'),
    call: k('call:c1'),
    on_hold: k('onhold'),
    queue_index: k('queue-index'),
    queue_activity: k('queue-activity'),
    old_queue: k('queue:-'),
    old_queue_times: k('queue:-:since'),
    new_queue: k('queue:q'),
    new_queue_times: k('queue:q:since'),
    events: k('events'),
    old_queue_stats: k('queue:-:stats'),
    old_queue_outcomes: k('queue:-:outcomes'),
    new_queue_stats: k('queue:q:stats'),
    rest: counted,
  });

  it('when an intent finishes, then record, line, counts, state and lock land together, and the next intent comes back', async () => {
    await redis.zadd(k('call:c1:pending'), 1, 'i1', 2, 'i2');
    await redis.zadd(k('unfinished'), 1, 'i1');
    await redis.set(k('call:c1:lock'), 'tok');
    const reply = await FINISH.run(redis, keys([k('call:c1')]), {
      id: 'i1',
      record: '{"status":"completed"}',
      retention: 100,
      failed: '0',
      now_ms: 5000,
      lock_token: 'tok',
      call_ttl: 60,
      ...effect(true),
    });
    expect(reply).toEqual({ status: 'ok', values: ['i2'] });
    expect(await redis.ttl(k('intent:i1'))).toBeGreaterThan(90);
    expect(await redis.zrange(k('call:c1:pending'), 0, -1)).toEqual(['i2']);
    expect(await redis.zcard(k('unfinished'))).toBe(0);
    expect(await redis.hgetall(k('call:c1'))).toMatchObject({
      state: 'queued',
      queue: 'q',
      transfer_count: '1',
      applied_seq: '1',
      last_intent_id: 'i1',
    });
    expect(await redis.zscore(k('queue:q'), 'c1')).toBe('42');
    expect(await redis.exists(k('call:c1:lock'))).toBe(0);
  });

  it("when the last unfinished intent of a class finishes, then the class's turns start again; not before", async () => {
    await redis.zadd(k('fair:1:open'), 1, 'i1', 2, 'other');
    await redis.hset(k('fair:1'), 'vt', 7, 'c:desk', 9);
    // Each finish writes a record of its own (a real one carries its finished_at): the same bytes again would be a resend.
    let n = 0;
    const finishI1 = () =>
      FINISH.run(redis, keys([]), {
        id: 'i1',
        record: `{"finish":${++n}}`,
        retention: 100,
        failed: '0',
        now_ms: 5000,
        lock_token: '',
        call_ttl: 60,
        ...effect(false),
      });
    await finishI1();
    expect(await redis.zrange(k('fair:1:open'), 0, -1)).toEqual(['other']);
    expect(await redis.hgetall(k('fair:1'))).toEqual({ vt: '7', 'c:desk': '9' });
    await redis.zrem(k('fair:1:open'), 'other');
    await redis.zadd(k('fair:1:open'), 1, 'i1');
    await finishI1();
    expect(await redis.exists(k('fair:1'), k('fair:1:open'))).toBe(0);
  });

  it('when a run finishes after a repair finished its intent, then its own record lands and its lock is released', async () => {
    await redis.set(k('call:c1:lock'), 'late');
    const finishI3 = (record: string, lock_token: string) =>
      FINISH.run(redis, keys([]), {
        id: 'i3',
        record,
        retention: 100,
        failed: '0',
        now_ms: 7000,
        lock_token,
        call_ttl: 60,
        ...effect(false),
      });
    await finishI3('{"status":"failed","by":"repair"}', '');
    await finishI3('{"status":"completed","by":"run"}', 'late');
    expect(await redis.get(k('intent:i1'))).toBe('{"status":"completed","by":"run"}');
    expect(await redis.exists(k('call:c1:lock'))).toBe(0);
  });

  it('when a failed intent finishes with another run holding the lock, then it is a dead letter and the lock stays', async () => {
    await redis.set(k('call:c1:lock'), 'other');
    const reply = await FINISH.run(redis, keys([]), {
      id: 'i2',
      record: '{"status":"failed"}',
      retention: 100,
      failed: '1',
      now_ms: 6000,
      lock_token: 'tok',
      call_ttl: 60,
      ...effect(false),
    });
    expect(reply).toEqual({ status: 'ok', values: [null] });
    expect(await redis.zscore(k('dead'), 'i2')).toBe('6000');
    expect(await redis.get(k('call:c1:lock'))).toBe('other');
  });
});

describe('gate.lua and release-lock.lua', () => {
  beforeAll(fresh);
  const slot = {
    interval_us: 1000,
    max: 10,
    window_us: 1_000_000,
    margin_us: 30_000,
    member: 'm1',
    hold_us: 2_000_000,
    priority: 1,
    lease_us: 5_000_000,
    turn: 0,
  };
  const gate = (id: string, token: string, book: '0' | '1') =>
    GATE.run(
      redis,
      {
        pending: k('pending'),
        lock: k('lock'),
        call: k('call'),
        intent: k(`intent:${id}`),
        rate_tat: k('rate'),
        rate_plan: k('rate:window'),
        rate_sent: k('rate:sent'),
        rate_answer: k('rate:answer'),
        rate_pause: k('rate:pause'),
        rate_retry: k('rate:retry'),
        rate_line: k('rate:line'),
        rate_seen: k('rate:seen'),
        rate_seq: k('rate:seq'),
        rate_fair: k('fair:1'),
      },
      { id, token, lock_ms: 10_000, now_iso: '2026-01-01T00:00:00.000Z', book, ...slot },
    );

  it('when an older intent waits, then the gate is blocked; when the lock is held, locked; else it opens, marks the run and books a slot', async () => {
    await redis.zadd(k('pending'), 1, 'a', 2, 'b');
    await redis.set(
      k('intent:a'),
      '{"seq":1,"id":"a","client":"c","status":"queued","attempts":0,"created_at":"x","updated_at":"y","transfers":[]}',
    );
    expect(await gate('b', 't', '1')).toEqual({ status: 'blocked', values: ['a'] });
    const opened = await gate('a', 't', '1');
    expect(opened.status).toBe('ok');
    expect(JSON.parse(opened.values[0] as string)).toMatchObject({
      status: 'running',
      attempts: 1,
      updated_at: '2026-01-01T00:00:00.000Z',
    });
    expect(opened.values[2]).toBe(0);
    expect(await redis.zscore(k('rate:sent'), 'm1')).not.toBeNull();
    expect(await gate('a', 'other', '1')).toEqual({ status: 'locked', values: [] });
    expect(await RELEASE_LOCK.run(redis, { lock: k('lock') }, { token: 'other' })).toEqual({
      status: 'absent',
      values: [],
    });
    expect(await RELEASE_LOCK.run(redis, { lock: k('lock') }, { token: 't' })).toEqual({
      status: 'removed',
      values: [],
    });
    // A gate that does not book leaves the pacer alone.
    expect((await gate('a', 't2', '0')).values[2]).toBe(-1);
  });
});

describe('set-call-state.lua and call-seen.lua', () => {
  beforeAll(fresh);
  const effectKeys = {
    call: k('call:c'),
    on_hold: k('onhold'),
    queue_index: k('queue-index'),
    queue_activity: k('queue-activity'),
    old_queue: k('queue:-'),
    old_queue_times: k('queue:-:since'),
    new_queue: k('queue:q'),
    new_queue_times: k('queue:q:since'),
    events: k('events'),
    old_queue_stats: k('queue:-:stats'),
    old_queue_outcomes: k('queue:-:outcomes'),
    new_queue_stats: k('queue:q:stats'),
  };
  const set = (state: string, queue = '') =>
    SET_CALL_STATE.run(
      redis,
      {
        ...effectKeys,
        call: k('call:c'),
        new_queue: k(`queue:${queue || '-'}`),
        new_queue_times: k(`queue:${queue || '-'}:since`),
        new_queue_stats: k(`queue:${queue || '-'}:stats`),
      },
      {
        call_uuid: 'c',
        state,
        queue,
        held_legs: state === 'on_hold' ? 'aleg' : '',
        since: 'now',
        now_ms: 10,
        queue_score: 7,
        old_queue_name: '',
        applied_seq: '',
        intent_id: '',
        call_ttl: 60,
        events_max: 1000,
        leave_reason: '',
      },
    );
  const seen = (kind: string, queue = '') =>
    CALL_SEEN.run(
      redis,
      {
        call: k('call:c'),
        on_hold: k('onhold'),
        queue_index: k('queue-index'),
        queue_activity: k('queue-activity'),
        queue: k(`queue:${queue || '-'}`),
        queue_times: k(`queue:${queue || '-'}:since`),
        stats: k(`queue:${queue || '-'}:stats`),
        events: k('events'),
      },
      {
        call_uuid: 'c',
        kind,
        queue_name: queue,
        now_ms: 20,
        now_iso: 'later',
        back_score: 99,
        events_max: 1000,
        from_number: '',
      },
    );

  it('when a call holdq never moved is fetched, then nothing is written', async () => {
    expect(await seen('hold')).toEqual({ status: 'unchanged', values: [] });
    expect(await redis.exists(k('call:c'))).toBe(0);
  });

  it('when a state is set, then the call joins its queue; once ended, it stays ended', async () => {
    expect(await set('queued', 'q')).toEqual({ status: 'ok', values: [null] });
    expect(await redis.zscore(k('queue:q'), 'c')).toBe('7');
    await set('ended');
    await set('on_hold');
    expect(await redis.hget(k('call:c'), 'state')).toBe('ended');
    expect(await redis.zscore(k('onhold'), 'c')).toBeNull();
  });

  it('when a waiting caller hangs up, then one step takes it out: queue.left before the positions behind it move up, and its wait comes back', async () => {
    await redis.zadd(k('queue:h'), 1, 'x', 2, 'h1', 3, 'y');
    await redis.zadd(k('queue:h:since'), 1, 'x', 4, 'h1', 5, 'y');
    await redis.hset(k('call:h1'), 'state', 'queued', 'queue', 'h', 'queued_ms', 4);
    const after = (await redis.xrevrange(effectKeys.events, '+', '-', 'COUNT', 1))[0]?.[0] ?? '0-0';
    const reply = await SET_CALL_STATE.run(
      redis,
      {
        ...effectKeys,
        call: k('call:h1'),
        old_queue: k('queue:h'),
        old_queue_times: k('queue:h:since'),
        old_queue_stats: k('queue:h:stats'),
        old_queue_outcomes: k('queue:h:outcomes'),
      },
      {
        call_uuid: 'h1',
        state: 'ended',
        queue: '',
        held_legs: '',
        since: 'now',
        now_ms: 10,
        queue_score: 0,
        old_queue_name: 'h',
        applied_seq: '',
        intent_id: '',
        call_ttl: 60,
        events_max: 1000,
        leave_reason: '',
      },
    );
    expect(reply).toEqual({ status: 'ok', values: [6] });
    expect(await redis.zrange(k('queue:h'), 0, -1)).toEqual(['x', 'y']);
    expect(await redis.zrange(k('queue:h:since'), 0, -1)).toEqual(['x', 'y']);
    const events = (await redis.xrange(effectKeys.events, `(${after}`, '+')).map(([, f]) => ({
      type: f[1],
      data: JSON.parse(f[7]!) as Record<string, unknown>,
    }));
    expect(events.map((e) => e.type)).toEqual(['queue.left', 'queue.position', 'call.ended']);
    expect(events[0]!.data).toMatchObject({ call_uuid: 'h1', queue: 'h', reason: 'abandoned', wait_seconds: 0 });
    expect(events[1]!.data).toMatchObject({ call_uuid: 'y', queue: 'h', position: 2 });
    expect((await redis.zrange(k('queue:h:outcomes'), 0, -1))[0]).toMatch(/^10:abandoned:6:h1$/);
  });

  it('when a waiting caller gets a new priority in its queue, then it and those it passes are told their positions, nobody else', async () => {
    const q = (name: string) => k(`queue:${name}`);
    await redis.zadd(q('r'), 3, 'a', 4, 'b', 5, 'r1', 6, 'z');
    await redis.hset(k('call:r1'), 'state', 'queued', 'queue', 'r', 'queued_ms', 1);
    const after = (await redis.xrevrange(effectKeys.events, '+', '-', 'COUNT', 1))[0]?.[0] ?? '0-0';
    await SET_CALL_STATE.run(
      redis,
      {
        ...effectKeys,
        call: k('call:r1'),
        old_queue: q('r'),
        old_queue_times: k('queue:r:since'),
        old_queue_stats: k('queue:r:stats'),
        old_queue_outcomes: k('queue:r:outcomes'),
        new_queue: q('r'),
        new_queue_times: k('queue:r:since'),
        new_queue_stats: k('queue:r:stats'),
      },
      {
        call_uuid: 'r1',
        state: 'queued',
        queue: 'r',
        held_legs: '',
        since: 'now',
        now_ms: 10,
        queue_score: 1,
        old_queue_name: 'r',
        applied_seq: '',
        intent_id: '',
        call_ttl: 60,
        events_max: 1000,
        leave_reason: '',
      },
    );
    expect(await redis.zrange(q('r'), 0, -1)).toEqual(['r1', 'a', 'b', 'z']);
    const events = (await redis.xrange(effectKeys.events, `(${after}`, '+')).map(([, f]) => {
      const data = JSON.parse(f[7]!) as { call_uuid: string; position?: number };
      return [f[1], data.call_uuid, data.position];
    });
    expect(events).toEqual([
      ['queue.position', 'r1', 1],
      ['queue.position', 'a', 2],
      ['queue.position', 'b', 3],
    ]);
  });

  it('when a call is unknown, then a fetch of the hold document, a waiting room or a bridge settles it', async () => {
    await redis.hset(k('call:c'), 'state', 'unknown', 'held_legs', 'both');
    expect(await seen('hold')).toEqual({ status: 'changed', values: [] });
    expect(await redis.hgetall(k('call:c'))).toMatchObject({
      state: 'on_hold',
      held_legs: 'both',
      seen_kind: 'hold',
      seen_at: '20',
    });
    await redis.hset(k('call:c'), 'state', 'unknown', 'queue', 'q2', 'queue_score', '5');
    expect((await seen('queue', 'q2')).status).toBe('changed');
    expect(await redis.zscore(k('queue:q2'), 'c')).toBe('5');
    await redis.hset(k('call:c'), 'state', 'unknown');
    expect((await seen('queue', 'other')).status).toBe('changed');
    expect(await redis.zscore(k('queue:other'), 'c')).toBe('99');
    await redis.hset(k('call:c'), 'state', 'unknown');
    await seen('bridge');
    expect(await redis.hget(k('call:c'), 'state')).toBe('bridged');
    expect((await seen('hold')).status).toBe('unchanged');
  });
});

describe('the queue scripts', () => {
  beforeAll(fresh);
  const members = (q: string) => ({
    queue: k(`queue:${q}`),
    queue_times: k(`queue:${q}:since`),
    queue_index: k('queue-index'),
    queue_activity: k('queue-activity'),
    stats: k(`queue:${q}:stats`),
    events: k('events'),
  });
  const takeKeys = (q: string) => ({ ...members(q), callbacks: k(`queue:${q}:callbacks`) });

  it('when callers are taken and put back, then the queue and its index follow', async () => {
    await redis.zadd(k('queue:q'), 1, 'a', 2, 'b', 3, 'c');
    await redis.zadd(k('queue:q:since'), 11, 'a', 12, 'b', 13, 'c');
    expect(
      await QUEUE_TAKE.run(redis, takeKeys('q'), { call_uuid: '', queue_name: 'q', now_ms: 100, events_max: 1000 }),
    ).toEqual({
      status: 'taken',
      values: ['a', '1', 0],
    });
    expect(
      await QUEUE_TAKE.run(redis, takeKeys('q'), { call_uuid: 'c', queue_name: 'q', now_ms: 100, events_max: 1000 }),
    ).toEqual({
      status: 'taken',
      values: ['c', '3', 0],
    });
    expect(
      (await QUEUE_TAKE.run(redis, takeKeys('q'), { call_uuid: 'zz', queue_name: 'q', now_ms: 100, events_max: 1000 }))
        .status,
    ).toBe('empty');
    await QUEUE_PUT_BACK.run(redis, members('q'), {
      call_uuid: 'a',
      queue_name: 'q',
      now_ms: 200,
      events_max: 1000,
      score: 1,
      joined_ms: 11,
    });
    expect(await redis.zrange(k('queue:q'), 0, -1)).toEqual(['a', 'b']);
    expect(await redis.zscore(k('queue-activity'), 'q')).toBe('200');
    expect(await redis.zscore(k('queue-index'), 'q')).toBe('0');
  });

  it('when queues are idle, then only the empty on-demand ones are forgotten; depths list the busy ones', async () => {
    await redis.zadd(k('queue-index'), 0, 'empty', 0, 'configured', 0, 'busy');
    await redis.zadd(k('queue-activity'), 1, 'empty', 1, 'configured', 1, 'busy');
    await redis.zadd(k('queue:busy'), 1, 'x');
    await redis.zadd(k('queue:busy:since'), 50, 'x');
    const forget = await QUEUE_FORGET_IDLE.run(
      redis,
      { queue_index: k('queue-index'), queue_activity: k('queue-activity') },
      { before_ms: 10, batch: 100, queue_prefix: k('queue:'), now_ms: 1000, rest: ['configured'] },
    );
    expect(forget).toEqual({ status: 'ok', values: [1] });
    expect(await redis.zrange(k('queue-index'), 0, -1)).toEqual(expect.arrayContaining(['busy', 'configured']));
    expect(await redis.zscore(k('queue-index'), 'empty')).toBeNull();
    expect(await redis.zscore(k('queue-activity'), 'busy')).toBe('1000');
    const depths = await QUEUE_DEPTHS.run(redis, { queue_index: k('queue-index') }, { queue_prefix: k('queue:') });
    expect(depths.values).toEqual(['busy', 1, '50', 'q', 2, '11']);
  });

  it('when an older holdq left a plain set of names, then it becomes the index once', async () => {
    await redis.sadd(k('queues'), 'old1', 'old2');
    const keys = { legacy: k('queues'), queue_index: k('queue-index'), queue_activity: k('queue-activity') };
    expect(await QUEUE_MIGRATE.run(redis, keys, { now_ms: 5 })).toEqual({ status: 'ok', values: [2] });
    expect(await QUEUE_MIGRATE.run(redis, keys, { now_ms: 5 })).toEqual({ status: 'ok', values: [0] });
    expect(await redis.zscore(k('queue-index'), 'old1')).toBe('0');
  });
});

describe('the pacer scripts', () => {
  beforeAll(fresh);
  const keys = () => ({
    tat: k('rate'),
    plan: k('rate:window'),
    sent: k('rate:sent'),
    answer: k('rate:answer'),
    pause: k('rate:pause'),
    retry: k('rate:retry'),
    line: k('rate:line'),
    seen: k('rate:seen'),
    seq: k('rate:seq'),
    fair: k('fair:2'),
  });
  const slot = (member: string, turn = 0) => ({
    interval_us: 500_000,
    max: 2,
    window_us: 1_000_000,
    margin_us: 30_000,
    member,
    hold_us: 5_000_000,
    priority: 100,
    lease_us: 5_000_000,
    turn,
  });

  it('when slots are booked faster than the rate, then the first is due and the next waits about 1/rate', async () => {
    expect(await RATE_SLOT.run(redis, keys(), { op: 'reserve', ...slot('a') })).toEqual({ status: 'due', values: [] });
    const second = await RATE_SLOT.run(redis, keys(), { op: 'reserve', ...slot('b') });
    expect(second.status).toBe('wait');
    expect(Number(second.values[0])).toBeGreaterThan(400);
    expect(Number(second.values[0])).toBeLessThanOrEqual(500);
  });

  it('when the guard is full, then a request waits; a discarded one frees its place at once', async () => {
    fresh();
    const g = keys();
    expect((await RATE_SLOT.run(redis, g, { op: 'ask', ...slot('x') })).status).toBe('due');
    expect((await RATE_SLOT.run(redis, g, { op: 'ask', ...slot('y') })).status).toBe('due');
    expect((await RATE_SLOT.run(redis, g, { op: 'ask', ...slot('z') })).status).toBe('wait');
    expect(
      await RATE_RELEASE.run(
        redis,
        { sent: g.sent, answer: g.answer, line: g.line, seen: g.seen },
        { hold_us: 5_000_000, grace_us: 1_000_000, answered: 1, abandoned: 0, rest: ['x', 'y'] },
      ),
    ).toEqual({ status: 'ok', values: [] });
    // x was answered (it counts a while more), y discarded (gone): one place is free again.
    expect(await redis.zscore(g.sent, 'y')).toBeNull();
    expect(await redis.zscore(g.sent, 'x')).not.toBeNull();
    expect((await RATE_SLOT.run(redis, g, { op: 'ask', ...slot('z') })).status).toBe('due');
  });

  it("when a request is granted its slot, then its class's turn being served moves up to its turn, never down", async () => {
    fresh();
    expect((await RATE_SLOT.run(redis, keys(), { op: 'reserve', ...slot('t5', 5) })).status).toBe('due');
    expect(await redis.hget(k('fair:2'), 'vt')).toBe('5');
    // The next is granted a slot 1/rate (500 ms) away, at once: its turn is the one being served now.
    expect((await RATE_SLOT.run(redis, keys(), { op: 'reserve', ...slot('t3', 3) })).status).toBe('wait');
    expect(await redis.hget(k('fair:2'), 'vt')).toBe('5');
    expect(await redis.zscore(k('rate:line'), 't3')).toBeNull();
    // A third waits in the line, not granted: its turn is not served yet.
    expect((await RATE_SLOT.run(redis, keys(), { op: 'reserve', ...slot('t9', 9) })).status).toBe('wait');
    expect(await redis.zscore(k('rate:line'), 't9')).not.toBeNull();
    expect(await redis.hget(k('fair:2'), 'vt')).toBe('5');
  });

  it('when Plivo answered 429, then nobody is admitted until its Retry-After has passed', async () => {
    fresh();
    expect(await RATE_PENALIZE.run(redis, { pause: k('rate:pause'), tat: k('rate') }, { ms: 2000 })).toEqual({
      status: 'ok',
      values: [],
    });
    const held = await RATE_SLOT.run(redis, keys(), { op: 'ask', ...slot('p') });
    expect(held.status).toBe('wait');
    expect(Number(held.values[0])).toBeGreaterThan(1900);
  });
});
