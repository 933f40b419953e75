import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { failTimes, startRedisProxy } from './helpers/redis-proxy.js';
import { redisUrl, startStack, type IntentView, type Stack } from './helpers/stack.js';
import { openStores, type Stores } from './helpers/stores.js';

/**
 * When BullMQ fails an intent job itself (its last attempt threw, or it stalled too often),
 * the intent must still end, and say what holdq knows: never stay `running` for ever, never
 * block its call, never claim a call state holdq did not see.
 */
const READONLY = "READONLY You can't write against a read only replica.";
/** holdq's finish script: the only script whose fourth key is the dead-letter index. */
const isFinish = (prefix: string) => (argv: string[]) =>
  /^evalsha$/i.test(argv[0] ?? '') && argv[6] === `${prefix}:dead`;

interface CallView {
  state: string | null;
  held_legs: string | null;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const logLines = (stack: Stack) =>
  stack.logs.map((l) => JSON.parse(l) as { msg: string; err?: { stack?: string }; intentId?: string; level: string });

describe('a finish that Redis refuses on the last attempt', () => {
  let proxy: Awaited<ReturnType<typeof startRedisProxy>>;
  let stack: Stack;
  beforeAll(async () => {
    proxy = await startRedisProxy({ port: Number(new URL(redisUrl()).port) });
  });
  afterEach(async () => {
    proxy.setRule(() => 'forward');
    await stack?.stop();
  });
  afterAll(() => proxy.stop());

  const start = (opts: { fetchXml: boolean }) =>
    startStack({
      env: { REDIS_URL: proxy.url, TRANSFER_MAX_ATTEMPTS: '1' },
      simulator: { fetchXml: opts.fetchXml },
      workerTiming: { reviveGraceMs: 0 },
    });
  const callView = async (uuid: string) => (await (await stack.get(`/v1/calls/${uuid}`)).json()) as CallView;

  it('when the failed-job handler meets READONLY too, then it logs the stack, tries again, and the intent ends outcome_unknown with the call unknown; an unhold still works', async () => {
    stack = await start({ fetchXml: false });
    // The run's own finish and the handler's first two tries answer READONLY, as in a failover.
    const faults = failTimes(isFinish(stack.config.QUEUE_PREFIX), 3, READONLY);
    proxy.setRule(faults.rule);
    const call = `ro-${randomUUID()}`;
    const { id } = (await (await stack.post({ type: 'hold', call_uuid: call })).json()) as IntentView;

    const done = await stack.waitForIntent(id);
    expect(done).toMatchObject({ status: 'failed', error: { code: 'outcome_unknown' } });
    expect(faults.state.faulted).toBe(3);
    // Plivo did accept the hold; holdq never saw it recorded, so it says it does not know.
    expect(
      stack.sim
        .received()
        .filter((t) => t.call_uuid === call)
        .map((t) => t.status),
    ).toEqual([202]);
    expect(await callView(call)).toMatchObject({ state: 'unknown', held_legs: 'aleg' });
    const retried = logLines(stack).filter(
      (l) => l.msg === 'could not finish the intent of a failed job; trying again',
    );
    expect(retried).toHaveLength(2);
    expect(retried[0]!.err?.stack).toMatch(/READONLY/);

    const unhold = (await (await stack.post({ type: 'unhold', call_uuid: call })).json()) as IntentView;
    expect(await stack.waitForIntent(unhold.id)).toMatchObject({ status: 'completed' });
    expect(await callView(call)).toMatchObject({ state: 'bridged' });
  });

  it('when Plivo fetched the hold document, then the call is on hold, as the fetch shows, though the intent says its outcome was not seen', async () => {
    stack = await start({ fetchXml: true });
    proxy.setRule(failTimes(isFinish(stack.config.QUEUE_PREFIX), 2, READONLY).rule);
    const call = `seen-${randomUUID()}`;
    const { id } = (await (await stack.post({ type: 'hold', call_uuid: call })).json()) as IntentView;
    expect(await stack.waitForIntent(id)).toMatchObject({ status: 'failed', error: { code: 'outcome_unknown' } });
    // The simulator fetched the hold XML after its 202; whichever came first, fetch or repair, the call ends on hold.
    await until('the call on hold', async () => ((await callView(call)).state === 'on_hold' ? true : undefined));
    expect(await callView(call)).toMatchObject({ state: 'on_hold', held_legs: 'aleg' });
  });

  it('when the handler gives up too, then the sweeper finishes the intent whose job is in the failed set', async () => {
    stack = await start({ fetchXml: false });
    const faults = failTimes(isFinish(stack.config.QUEUE_PREFIX), 6, READONLY); // the run's finish and all five of the handler's tries
    proxy.setRule(faults.rule);
    const { id } = (await (
      await stack.post({ type: 'hold', call_uuid: `swept-${randomUUID()}` })
    ).json()) as IntentView;
    await until('the handler to give up', async () =>
      logLines(stack).some((l) => l.msg.startsWith('could not finish the intent of a failed job; the job sweeper will'))
        ? true
        : undefined,
    );
    expect((await stack.waitForIntent(id, () => true)).status).toBe('running');
    expect(await stack.worker!.sweep()).toBe(1);
    expect(await stack.waitForIntent(id)).toMatchObject({ status: 'failed', error: { code: 'outcome_unknown' } });
  });

  it('when the worker is stopped while the handler is still trying, then shutdown waits for it and the intent is finished', async () => {
    stack = await start({ fetchXml: false });
    const faults = failTimes(isFinish(stack.config.QUEUE_PREFIX), 4, READONLY);
    proxy.setRule(faults.rule);
    const { id } = (await (await stack.post({ type: 'hold', call_uuid: `term-${randomUUID()}` })).json()) as IntentView;
    await until('the handler to be retrying', async () => (faults.state.faulted >= 2 ? true : undefined));
    await stack.worker!.stop();
    const redis = new Redis(redisUrl());
    try {
      const record = JSON.parse((await redis.get(`${stack.config.QUEUE_PREFIX}:intent:${id}`))!) as {
        status: string;
        error: { code: string };
      };
      expect(record).toMatchObject({ status: 'failed', error: { code: 'outcome_unknown' } });
    } finally {
      redis.disconnect();
    }
  });
});

describe('a worker lost in the middle of a run', () => {
  let stack: Stack;
  let stores: Stores;
  let zombieRedis: Redis;
  beforeAll(async () => {
    // A stall fails the job at once (no second chance), and is looked for every 250 ms.
    stack = await startStack({ workerTiming: { stalledIntervalMs: 250, maxStalledCount: 0, reviveGraceMs: 0 } });
    stores = openStores('lost', { prefix: stack.config.QUEUE_PREFIX });
    zombieRedis = new Redis(redisUrl(), { maxRetriesPerRequest: null });
  });
  afterAll(async () => {
    await stack.stop();
    await stores.close();
    zombieRedis.disconnect();
  });

  /**
   * A worker takes the job and begins the run as holdq's does (the gate marks the record running,
   * a dequeue takes its caller), then is lost: its lock is no longer renewed.
   */
  async function loseWorkerOn(intentId: string, begin: (token: string) => Promise<void>) {
    let taken!: () => void;
    const took = new Promise<void>((resolve) => (taken = resolve));
    const zombie = new Worker(
      'intent-jobs',
      async (job, token) => {
        if (job.id !== intentId) throw new Error('not the job under test');
        await begin(token!);
        taken();
        return new Promise(() => undefined); // never answers
      },
      {
        connection: zombieRedis,
        prefix: stack.config.QUEUE_PREFIX,
        lockDuration: 500,
        skipStalledCheck: true,
        drainDelay: 1,
      },
    );
    await took;
    await zombie.close(true); // no more lock renewals: the job stalls
  }

  it('when a hold stalls for good, then BullMQ fails it, the intent ends outcome_unknown, and the unhold behind it runs', async () => {
    await stack.worker!.worker.pause();
    const call = `lost-${randomUUID()}`;
    const hold = (await (await stack.post({ type: 'hold', call_uuid: call })).json()) as IntentView;
    await loseWorkerOn(hold.id, async (token) => {
      const gate = await stores.calls.begin(call, hold.id, token, 300);
      expect(gate.kind).toBe('ok');
    });
    const unhold = (await (await stack.post({ type: 'unhold', call_uuid: call })).json()) as IntentView;
    stack.worker!.worker.resume();

    expect(await stack.waitForIntent(hold.id)).toMatchObject({
      status: 'failed',
      error: { code: 'outcome_unknown', message: expect.stringMatching(/stalled/) },
    });
    expect(await stack.waitForIntent(unhold.id)).toMatchObject({ status: 'completed' });
    expect(((await (await stack.get(`/v1/calls/${call}`)).json()) as CallView).state).toBe('bridged');
  });

  it('when a dequeue that had taken a caller stalls for good, then the caller is back in its place and the intent fails', async () => {
    const queue = `lost-${randomUUID().slice(0, 8)}`;
    const callers = [`first-${randomUUID()}`, `second-${randomUUID()}`];
    for (const caller of callers) {
      const { id } = (await (await stack.post({ type: 'enqueue', call_uuid: caller, queue })).json()) as IntentView;
      await stack.waitForIntent(id);
    }
    const line = async () =>
      ((await (await stack.get(`/v1/queues/${queue}`)).json()) as { members: { call_uuid: string }[] }).members.map(
        (m) => m.call_uuid,
      );
    expect(await line()).toEqual(callers);

    await stack.worker!.worker.pause();
    const agent = `agent-${randomUUID()}`;
    const dequeue = (await (await stack.post({ type: 'dequeue', queue, agent_call_uuid: agent })).json()) as IntentView;
    const before = stack.sim.received().length;
    await loseWorkerOn(dequeue.id, async (token) => {
      const gate = await stores.calls.begin(agent, dequeue.id, token, 300);
      if (gate.kind !== 'ok' || !gate.recordJson) throw new Error(gate.kind);
      // What the run does first: take the first caller and save it on the record.
      const record = JSON.parse(gate.recordJson) as Parameters<Stores['store']['save']>[0];
      record.member = await stores.queues.take(queue);
      await stores.store.save(record);
    });
    expect(await line()).toEqual([callers[1]]);
    stack.worker!.worker.resume();

    expect(await stack.waitForIntent(dequeue.id)).toMatchObject({
      status: 'failed',
      error: { code: 'outcome_unknown' },
    });
    expect(await line()).toEqual(callers);
    // The caller was never moved, so nothing had to bring it back to the waiting room.
    expect(stack.sim.received().length).toBe(before);
  });
});
