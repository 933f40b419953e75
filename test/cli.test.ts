import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { holdqBuild } from './helpers/holdq-build.js';
import { ADMIN_KEY, startStack, TEST_KEY, type Stack } from './helpers/stack.js';

/**
 * The `holdq` command as a person runs it: the real binary (`node dist/cli/holdq.js`, or the same
 * file of a build of the current sources), in a process of its own, against a running holdq
 * (API, worker and the Plivo simulator), with HOLDQ_URL and HOLDQ_API_KEY in its environment.
 */
let cli: string;
let stack: Stack;

function holdq(args: string[], env: Record<string, string> = {}, timeoutMs = 20_000) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [cli, ...args], {
      env: { PATH: process.env.PATH ?? '', HOLDQ_URL: stack.apiUrl, HOLDQ_API_KEY: TEST_KEY, ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

beforeAll(async () => {
  cli = join(dirname(await holdqBuild()), 'cli', 'holdq.js');
  stack = await startStack({ env: { TRANSFER_URL_ALLOWLIST: 'example.com' } });
}, 120_000);
afterAll(() => stack.stop());

describe('the holdq command', () => {
  it('when a call is held with --wait, then it prints the completed intent and exits 0; --json prints the API JSON', async () => {
    const r = await holdq(['hold', 'cli-call-1', '--wait']);
    expect(r).toMatchObject({ code: 0 });
    expect(r.stdout).toMatch(/^hold [0-9a-f-]{36} completed\n$/);
    // The progress line, on stderr (not a terminal here: one line per state seen).
    expect(r.stderr).toMatch(/… hold [0-9a-f-]{36}: (queued|running|completed)/);
    const id = r.stdout.split(' ')[1]!;
    const j = await holdq(['--json', 'intent', id]);
    expect(j.code).toBe(0);
    expect(JSON.parse(j.stdout)).toMatchObject({ id, type: 'hold', status: 'completed', call_uuid: 'cli-call-1' });
    const held = await holdq(['held']);
    expect(held.stdout).toMatch(/^call\s+held\s+legs\s+since\n/);
    expect(held.stdout).toMatch(/cli-call-1\s+\d+s\s+aleg\s+\d{4}-/);
    const text = await holdq(['intent', id]);
    expect(text.stdout).toMatch(/^hold .* completed\ncall cli-call-1, sequence 1/);
    expect(text.stdout).toMatch(/legs\s+status\s+at/);
  });

  it('when callers are queued, then queues, queue and call print readable tables', async () => {
    for (const c of ['cli-q1', 'cli-q2'])
      expect((await holdq(['enqueue', c, 'cli-sales', '--priority', '5', '--wait'])).code).toBe(0);
    const queues = await holdq(['queues']);
    expect(queues.stdout).toMatch(/^queue\s+waiting\s+oldest\s+estimated\s+configured\n/);
    expect(queues.stdout).toMatch(/cli-sales\s+2\s+\d+s\s+-\s+no/);
    const queue = await holdq(['queue', 'cli-sales']);
    expect(queue.stdout).toMatch(/^cli-sales: 2 waiting/);
    expect(queue.stdout).toMatch(/1\s+cli-q1\s+5\s+\d+s/);
    const call = await holdq(['call', 'cli-q2']);
    expect(call.stdout).toMatch(/cli-q2\s+queued\s+cli-sales\s+2/);
    const dq = await holdq(['dequeue', 'cli-sales', 'cli-agent', '--wait']);
    expect(dq.code).toBe(0);
    expect(JSON.parse((await holdq(['--json', 'queue', 'cli-sales'])).stdout)).toMatchObject({ waiting: 1 });
  });

  it('when an intent fails, then --wait exits 1; dead-letters lists it and retry (with an admin key) runs it again', async () => {
    const r = await holdq(['dequeue', 'cli-nobody', 'cli-agent-2', '--wait']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/dequeue [0-9a-f-]{36} failed \(queue_empty: /);
    const id = r.stdout.split(' ')[1]!;
    const dead = await holdq(['dead-letters']);
    expect(dead.stdout).toContain(id);
    expect((await holdq(['retry', id])).code).toBe(3); // an API key may not retry
    const again = await holdq(['retry', id], { HOLDQ_API_KEY: ADMIN_KEY });
    expect(again).toMatchObject({ code: 0 });
    expect(again.stdout).toMatch(/^re-queued dequeue/);
  });

  it('when the input is wrong, the key is bad or holdq is away, then it says so and exits 2, 3 or 4', async () => {
    const usage = await holdq(['hold']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/missing required argument 'call_uuid'/);
    expect((await holdq(['teleport', 'x'])).code).toBe(2);
    expect((await holdq(['hold', 'x', '--legs', 'all'])).code).toBe(2);
    expect((await holdq(['hold', 'x'], { HOLDQ_API_KEY: '' })).code).toBe(2);
    const invalid = await holdq(['hold', '../etc']);
    expect(invalid.code).toBe(3);
    expect(invalid.stderr).toMatch(/call_uuid: call UUID must be/);
    expect((await holdq(['hold', 'x'], { HOLDQ_API_KEY: 'wrong-key-0123456789' })).code).toBe(3);
    expect((await holdq(['queue', 'no-such-queue'])).code).toBe(3);
    expect((await holdq(['queues'], { HOLDQ_URL: 'http://127.0.0.1:9' })).code).toBe(4);
    const badNumber = await holdq(['callback', 'x', 'cli-sales', '--number', '555-0100']);
    expect(badNumber.code).toBe(3);
    expect(badNumber.stderr).toMatch(/number: must be a phone number in E\.164 form/);
    const help = await holdq(['enqueue', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/--priority <n>/);
  });

  it('when watching, then it prints one line per event, and --count stops it', async () => {
    const watching = holdq(['watch', '--call', 'cli-watch', '--count', '3']);
    await new Promise((r) => setTimeout(r, 500));
    expect((await holdq(['hold', 'cli-watch', '--wait'])).code).toBe(0);
    const r = await watching;
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^\d{4}-\d\d-\d\dT\S+ intent.accepted .*call_uuid=cli-watch/);
    expect(lines[1]).toMatch(/ call.held .*legs=aleg/);
    expect(lines[2]).toMatch(/ intent.completed /);
  });
});
