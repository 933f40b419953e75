import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startStack, TEST_KEY, type Stack } from './helpers/stack.js';

/** A stopping API must stop taking intents, also on keep-alive connections that stay busy. */
describe('an API that is stopping', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ worker: false, env: { SHUTDOWN_TIMEOUT_MS: '20000' } });
  });
  afterAll(() => stack.stop());

  it('when clients keep posting on busy keep-alive connections, then no intent sent after the stop began is accepted, and the API stops at once', async () => {
    let stopAt = 0;
    let acceptedAfterStop = 0;
    // Twenty clients (fetch keeps its connections alive), each posting again the moment an answer comes.
    const client = async () => {
      for (let i = 0; i < 5000; i++) {
        const sentAt = Date.now();
        try {
          const res = await fetch(`${stack.apiUrl}/v1/intents`, {
            method: 'POST',
            headers: { authorization: `Bearer ${TEST_KEY}`, 'content-type': 'application/json' },
            body: JSON.stringify({ type: 'hold', call_uuid: `ka-${randomUUID()}` }),
          });
          await res.text();
          if (stopAt && sentAt > stopAt && res.status === 202) acceptedAfterStop++;
        } catch {
          return; // refused: the API is gone
        }
      }
    };
    const clients = Array.from({ length: 20 }, client);
    await new Promise((r) => setTimeout(r, 300)); // every connection is busy by now
    stopAt = Date.now();
    await stack.api!.stop();
    const stoppedIn = Date.now() - stopAt;
    await Promise.all(clients);
    expect(acceptedAfterStop).toBe(0);
    expect(stoppedIn).toBeLessThan(5_000);
  });
});
