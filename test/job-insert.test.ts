import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { CLASS_BAND } from '../src/domain/intent-class.js';
import { INTENT_JOB, type IntentJobData, type IntentJobs } from '../src/infra/intent-queue.js';
import type { IntentStore } from '../src/infra/intent-store.js';
import { createJobInsert } from '../src/infra/job-insert.js';
import { openStores, type Stores } from './helpers/stores.js';

/**
 * The accept script queues an intent's job with BullMQ's own insert (job-insert.ts).
 * These tests pin that contract: a job queued by the accept is stored exactly like one
 * from `queue.add`, in every state of the queue BullMQ distinguishes, and a BullMQ
 * worker runs it. A BullMQ upgrade that changes the insert fails here.
 */
describe('the job an accept queues is a BullMQ job like any other', () => {
  let redis: Redis;
  let queue: IntentJobs;
  let store: IntentStore;
  let prefix: string;
  let stores: Stores;

  beforeAll(() => {
    ({ redis, prefix, queue, store } = stores = openStores('jobinsert'));
  });
  afterAll(() => stores.close());

  const jobKey = (id: string) => `${prefix}:intent-jobs:${id}`;
  /** What BullMQ stored for a job, without what differs between any two jobs (ids, times). */
  async function stored(id: string) {
    const hash = await redis.hgetall(jobKey(id));
    const { timestamp, opts, data, ...rest } = hash;
    const { jobId, ...options } = JSON.parse(opts!) as Record<string, unknown>;
    const { intentId, ...payload } = JSON.parse(data!) as Record<string, unknown>;
    return {
      hash: rest,
      options,
      payload,
      jobIdMatches: jobId === id && intentId === id,
      timestamp: Number(timestamp),
    };
  }
  async function eventsFor(id: string) {
    const entries = await redis.xrange(`${prefix}:intent-jobs:events`, '-', '+');
    return entries
      .map(([, fields]) => fields)
      .filter((f) => f[f.indexOf('jobId') + 1] === id)
      .map((f) => f[f.indexOf('event') + 1]);
  }
  async function acceptOne(callUuid: string) {
    const result = await store.accept({ client: 'test', request: { type: 'hold', call_uuid: callUuid, legs: 'aleg' } });
    if (result.kind !== 'created') throw new Error(`not created: ${result.kind}`);
    return result.record.id;
  }
  /** The job `queue.add` stores for the same intent at the same priority. */
  async function addLike(acceptedId: string, callUuid: string) {
    const id = randomUUID();
    const priority = (await queue.getJob(acceptedId))!.priority;
    await queue.add(INTENT_JOB, { intentId: id, callUuid }, { jobId: id, priority });
    return id;
  }

  it('when an intent is accepted, then its job is stored, listed and announced exactly as queue.add would', async () => {
    const call = `call-${randomUUID()}`;
    const before = Date.now();
    const viaAccept = await acceptOne(call);
    const viaAdd = await addLike(viaAccept, call);

    const [a, b] = await Promise.all([stored(viaAccept), stored(viaAdd)]);
    expect(a.jobIdMatches).toBe(true);
    expect(b.jobIdMatches).toBe(true);
    expect(a.hash).toEqual(b.hash);
    expect(a.options).toEqual(b.options);
    expect(a.payload).toEqual(b.payload);
    expect(a.payload).toEqual({ callUuid: call });
    expect(a.timestamp).toBeGreaterThanOrEqual(before);
    expect(await eventsFor(viaAccept)).toEqual(await eventsFor(viaAdd));
    expect(await eventsFor(viaAccept)).toEqual(['added', 'waiting']);
    // Every intent job has a priority (its class and turn, domain/intent-class.ts).
    expect((await queue.getJob(viaAccept))!.priority).toBe(CLASS_BAND + 1);
    const prioritized = await redis.zrange(`${prefix}:intent-jobs:prioritized`, 0, -1);
    expect(prioritized).toEqual(expect.arrayContaining([viaAccept, viaAdd]));
    expect(await queue.getJobState(viaAccept)).toBe('prioritized');
    expect(await redis.exists(`${prefix}:intent-jobs:marker`)).toBe(1);
  });

  it('when the queue is paused, then an accepted job waits as an added one does, marker and all', async () => {
    const marker = `${prefix}:intent-jobs:marker`;
    await queue.pause();
    try {
      // Each insert on its own, from no marker: whatever one leaves, the other must too.
      await redis.del(marker);
      const viaAccept = await acceptOne(`call-${randomUUID()}`);
      const markerAfterAccept = await redis.zrange(marker, 0, -1, 'WITHSCORES');
      await redis.del(marker);
      const viaAdd = await addLike(viaAccept, 'x');
      const markerAfterAdd = await redis.zrange(marker, 0, -1, 'WITHSCORES');
      expect(markerAfterAccept).toEqual(markerAfterAdd);
      expect(await queue.getJobState(viaAccept)).toBe(await queue.getJobState(viaAdd));
    } finally {
      await queue.resume();
    }
  });

  it("when holdq names BullMQ's keys, then it names them in the order BullMQ's own insert takes them", () => {
    // BullMQ builds addPrioritizedJob's keys in a protected method; reading them from it pins a swap too.
    const backend = (
      queue as unknown as { backend: { addPrioritizedJobArgs(job: object, opts: unknown, args: unknown[]): unknown[] } }
    ).backend;
    const bullmqKeys = backend.addPrioritizedJobArgs({ data: '{}' }, Buffer.alloc(0), []).slice(0, 9);
    expect(createJobInsert(queue).keys).toEqual(bullmqKeys);
  });

  it('when Redis has forgotten the accept script, then the next accept sends it again and still queues its job', async () => {
    await redis.script('FLUSH');
    const id = await acceptOne(`call-${randomUUID()}`);
    expect(await queue.getJobState(id)).toBe('prioritized');
  });

  it('when a worker runs, then it takes an accepted job with its data and options', async () => {
    await queue.drain();
    const call = `call-${randomUUID()}`;
    const id = await acceptOne(call);
    let taken: (job: Job<IntentJobData>) => void = () => undefined;
    const seen = new Promise<Job<IntentJobData>>((resolve) => (taken = resolve));
    const connection = redis.duplicate({ maxRetriesPerRequest: null });
    const worker = new Worker<IntentJobData>('intent-jobs', async (job) => taken(job), { connection, prefix });
    const job = await seen;
    await worker.close();
    connection.disconnect();
    expect(job.id).toBe(id);
    expect(job.name).toBe('intent');
    expect(job.data).toEqual({ intentId: id, callUuid: call });
    expect(job.opts).toMatchObject({
      attempts: 5,
      backoff: { type: 'transfer' },
      removeOnComplete: true,
      jobId: id,
    });
    // A hold is interactive (the class after urgent); the client's turn follows its earlier intents here.
    expect(Math.floor(job.priority / CLASS_BAND)).toBe(1);
  });

  it('when an accept is refused, then no job is queued for it', async () => {
    const call = `call-${randomUUID()}`;
    await redis.hset(`${prefix}:call:${call}`, 'transfer_count', 60);
    const jobsBefore = await redis.zcard(`${prefix}:intent-jobs:prioritized`);
    const result = await store.accept({
      client: 'test',
      request: { type: 'hold', call_uuid: call, legs: 'aleg' },
      limits: { transferBudget: 60 },
    });
    expect(result.kind).toBe('budget_spent');
    expect(await redis.zcard(`${prefix}:intent-jobs:prioritized`)).toBe(jobsBefore);
  });
});
