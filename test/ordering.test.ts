import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startFakePlivo } from './helpers/fake-plivo.js';
import { startStack, type IntentView, type Stack } from './helpers/stack.js';

type View = IntentView & { sequence: number };

describe('per-call order under concurrency, latency and upstream failures', () => {
  let fake: Awaited<ReturnType<typeof startFakePlivo>>;
  let stack: Stack;
  beforeAll(async () => {
    fake = await startFakePlivo({ latencyMs: [0, 15], failureRate: 0.15, seed: 7 });
    stack = await startStack({
      env: {
        PLIVO_BASE_URL: fake.url,
        TRANSFER_MAX_ATTEMPTS: '25',
        TRANSFER_BACKOFF_MS: '10',
        WORKER_CONCURRENCY: '20',
      },
    });
  });
  afterAll(async () => {
    await stack.stop();
    await fake.stop();
  });

  it('when hundreds of hold/unhold/enqueue intents race on a few calls, then each call ends on its newest intent and never has two transfers in flight', async () => {
    const calls = ['order-a', 'order-b', 'order-c', 'order-d', 'order-e', 'order-f', 'order-g', 'order-h'];
    const types = ['hold', 'unhold', 'enqueue'] as const;
    const bodies = Array.from({ length: 320 }, (_, i) => {
      const type = types[(i * 7 + Math.floor(i / 3)) % 3]!;
      return { type, call_uuid: calls[i % calls.length]!, ...(type === 'enqueue' ? { queue: `q${i % 5}` } : {}) };
    });
    const accepted: View[] = [];
    for (let i = 0; i < bodies.length; i += 40) {
      const batch = await Promise.all(bodies.slice(i, i + 40).map((b) => stack.post(b)));
      for (const res of batch) {
        expect(res.status).toBe(202);
        accepted.push((await res.json()) as View);
      }
    }
    const finished: View[] = [];
    for (const a of accepted) finished.push((await stack.waitForIntent(a.id, undefined, 60_000)) as View);

    expect(fake.overlaps).toEqual([]);
    for (const call of calls) {
      const mine = finished.filter((v) => v.call_uuid === call).sort((a, b) => a.sequence - b.sequence);
      expect(mine.map((v) => v.sequence)).toEqual(mine.map((_, i) => i + 1));
      // Every intent ends; unhold of a call that is not on hold fails by design, nothing else does.
      for (const v of mine) {
        if (v.status !== 'completed')
          expect(v).toMatchObject({ type: 'unhold', status: 'failed', error: { code: 'not_on_hold' } });
      }
      // What Plivo accepted for this call, in time order, is exactly the completed intents' transfers in accept order.
      const sawAccepted = fake.transfers
        .filter((t) => t.callUuid === call && t.status === 202)
        .sort((a, b) => a.endedAt - b.endedAt);
      const expected = mine
        .filter((v) => v.status === 'completed')
        .flatMap((v) => v.transfers.filter((t) => t.status_code === 202));
      expect(sawAccepted.map((t) => t.body.aleg_url)).toEqual(expected.map((t) => t.aleg_url));
      const newest = mine.filter((v) => v.status === 'completed').at(-1)!;
      expect(sawAccepted.at(-1)!.body.aleg_url).toBe(newest.transfers.at(-1)!.aleg_url);
    }
    // The run did meet failures: retries happened and were absorbed.
    expect(fake.transfers.some((t) => t.status >= 500)).toBe(true);
  }, 120_000);
});
