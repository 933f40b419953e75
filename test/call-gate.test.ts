import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import type { IntentRecord } from '../src/domain/intent.js';
import type { CallStore } from '../src/infra/call-state.js';
import type { IntentStore } from '../src/infra/intent-store.js';
import type { Keys } from '../src/infra/keys.js';
import { createPlivoPacer, type PlivoPacer } from '../src/infra/plivo-pacer.js';
import { until } from './helpers/stack.js';
import { openStores, type Stores } from './helpers/stores.js';

/**
 * The worker's gate marks a run (status running, one more attempt, updated_at) in its own
 * script by editing the record's JSON text (see MARK_RUNNING_FUNCTION). These tests pin
 * that edit: only those three fields change, whatever the rest of the record holds.
 */
describe('the call gate marks the run in the record it opens on', () => {
  let redis: Redis;
  let store: IntentStore;
  let calls: CallStore;
  let keys: Keys;
  let pacer: PlivoPacer;
  let stores: Stores;

  beforeAll(() => {
    ({ redis, keys, store, calls } = stores = openStores('gate'));
    pacer = createPlivoPacer(redis, keys.plivoRate(), 1000, { holdMs: 5000 });
  });
  afterAll(() => stores.close());

  async function accept(client = 'test', callUuid = `call-${randomUUID()}`) {
    const result = await store.accept({ client, request: { type: 'hold', call_uuid: callUuid, legs: 'aleg' } });
    if (result.kind !== 'created') throw new Error(`not created: ${result.kind}`);
    return { id: result.record.id, callUuid };
  }
  async function open(id: string, callUuid: string, withSlot = false) {
    const token = randomUUID();
    const gate = await calls.begin(callUuid, id, token, 30_000, withSlot ? pacer.booking() : undefined);
    if (gate.kind !== 'ok') throw new Error(`gate ${gate.kind}`);
    await calls.release(callUuid, token);
    return gate;
  }
  const raw = async (id: string) => (await redis.get(keys.intent(id)))!;

  it('when the gate opens on a queued intent, then the stored record says running, attempt 1, and nothing else changed', async () => {
    const { id, callUuid } = await accept();
    const before = JSON.parse(await raw(id)) as IntentRecord;
    const gate = await open(id, callUuid);
    const after = await raw(id);
    expect(gate.recordJson).toBe(after);
    const record = JSON.parse(after) as IntentRecord;
    expect(record).toEqual({ ...before, status: 'running', attempts: 1, updated_at: expect.any(String) });
    expect(Date.parse(record.updated_at)).toBeGreaterThanOrEqual(Date.parse(before.updated_at));
    // An empty list stays a list (a decode/encode in Lua would have made it an object).
    expect(after).toContain('"transfers":[]');
  });

  it('when a run starts again after a lapsed lock, then the attempt count goes on from the stored one', async () => {
    const { id, callUuid } = await accept();
    await open(id, callUuid);
    await open(id, callUuid);
    expect(JSON.parse(await raw(id))).toMatchObject({ status: 'running', attempts: 2 });
  });

  it('when the client name looks like the fields being edited, then only the real fields change', async () => {
    const client = 'x","status":"queued","attempts":7,"updated_at":"1999';
    const { id, callUuid } = await accept(client);
    await open(id, callUuid);
    const record = JSON.parse(await raw(id)) as IntentRecord;
    expect(record.client).toBe(client);
    expect(record).toMatchObject({ status: 'running', attempts: 1 });
    expect(record.updated_at).not.toBe('1999');
  });

  it('when the intent is finished already, then the gate opens without touching its record or booking a rate slot', async () => {
    const { id, callUuid } = await accept();
    const record = JSON.parse(await raw(id)) as IntentRecord;
    await store.finish(record, 'completed');
    const finished = await raw(id);
    const gate = await open(id, callUuid, true);
    expect(await raw(id)).toBe(finished);
    expect(gate.recordJson).toBe(finished);
    expect(gate.slot).toBeNull();
  });

  it("when the gate marks a run, then it books and admits the first transfer's rate slot in the same script", async () => {
    const { id, callUuid } = await accept();
    // MONITOR lists every command this Redis runs, in order, a script's own commands (source
    // "lua") right after the EVALSHA that ran them.
    const base = new Redis(process.env.HOLDQ_TEST_REDIS_URL!);
    const monitor = await base.monitor(); // a connection of its own
    const seen: { source: string; command: string; args: string[] }[] = [];
    monitor.on('monitor', (_time: string, args: string[], source: string) =>
      seen.push({ source, command: String(args[0]).toLowerCase(), args: args.slice(1) }),
    );
    const sentinel = `gate-done-${randomUUID()}`;
    try {
      const gate = await open(id, callUuid, true);
      const permit = await gate.slot!;
      await redis.echo(sentinel);
      await until(
        () => seen.some((c) => c.command === 'echo' && c.args[0] === sentinel),
        'MONITOR to show the sentinel',
      );
      permit.discard();

      const begin = seen.findIndex((c) => c.command === 'evalsha' && c.args.includes(keys.pending(callUuid)));
      expect(begin).toBeGreaterThanOrEqual(0);
      const client = seen[begin]!.source;
      // What this client sent, from the gate to the sentinel: the gate's script and the lock release. No third round trip.
      const sent = seen.slice(begin).filter((c) => c.source === client && c.command !== 'echo');
      expect(sent.map((c) => c.command)).toEqual(['evalsha', 'evalsha']);
      expect(sent[1]!.args).toContain(keys.lock(callUuid));
      // The gate's script took the lock, marked the record and put the slot in the plan and in the guard's set.
      const end = seen.findIndex((c, i) => i > begin && c.source !== 'lua');
      const inScript = seen.slice(begin + 1, end).map((c) => `${c.command} ${c.args[0]}`);
      expect(inScript).toEqual(
        expect.arrayContaining([
          `set ${keys.lock(callUuid)}`,
          `set ${keys.intent(id)}`,
          `zadd ${keys.plivoRate()}:window`,
          `zadd ${keys.plivoRate()}:sent`,
        ]),
      );
      const touchingRate = seen.filter((c) => c.source !== 'lua' && c.args.some((a) => a.startsWith(keys.plivoRate())));
      expect(touchingRate).toEqual([seen[begin]]);
      expect(await redis.zcard(`${keys.plivoRate()}:sent`)).toBeGreaterThanOrEqual(1);
    } finally {
      monitor.disconnect();
      base.disconnect();
    }
  });

  it('when a newer intent of the call has taken effect, then the record is left for the worker to supersede', async () => {
    const { id, callUuid } = await accept();
    const queued = await raw(id);
    await redis.hset(keys.call(callUuid), 'applied_seq', 5);
    const gate = await open(id, callUuid);
    expect(await raw(id)).toBe(queued);
    expect(gate.call.applied_seq).toBe(5);
  });
});
