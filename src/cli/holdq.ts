#!/usr/bin/env node
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { createHoldqClient, HoldqError, type HoldqClient, type Intent, type IntentRequest } from '../client/index.js';
import { HOLDQ_VERSION } from '../version.js';

/**
 * `holdq`: holdq from a shell (SPEC §13), built on the typed client. HOLDQ_URL and HOLDQ_API_KEY
 * say where and as whom (or --url, --key). Readable tables by default, the API's JSON with
 * --json. Exit codes a script can rely on:
 *   0  done (with --wait: the intent completed)
 *   1  with --wait: the intent finished failed or superseded
 *   2  usage: an unknown command, a missing argument, a bad option
 *   3  holdq refused the request (4xx: invalid, unauthorised, not found, conflict)
 *   4  holdq could not be reached, or answered 5xx
 *   5  with --wait: the intent had not finished in --timeout seconds
 */
export const EXIT = { ok: 0, notCompleted: 1, usage: 2, refused: 3, unavailable: 4, timeout: 5 } as const;

class Exit extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

const positiveInt = (name: string) => (v: string) => {
  if (!/^\d+$/.test(v) || Number(v) < 1) throw new InvalidArgumentError(`${name} must be a positive integer`);
  return Number(v);
};
const integer = (name: string) => (v: string) => {
  if (!/^-?\d+$/.test(v)) throw new InvalidArgumentError(`${name} must be an integer`);
  return Number(v);
};

/** Rows as aligned columns, with a header. */
export function table(headers: string[], rows: (string | number | null | undefined)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map((c) => (c === null || c === undefined ? '-' : String(c))))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n');
}

const seconds = (s: number | null | undefined) => (s === null || s === undefined ? '-' : `${Math.round(s)}s`);

function intentLine(i: Intent): string {
  const err = i.error ? ` (${i.error.code}: ${i.error.message})` : '';
  return `${i.type} ${i.id} ${i.status}${err}`;
}

export function buildProgram(out: { stdout: (s: string) => void; stderr: (s: string) => void }) {
  const program = new Command('holdq')
    .description('holdq from the command line: post intents, follow them, look at queues and calls')
    .version(HOLDQ_VERSION)
    .addOption(new Option('--url <url>', 'holdq base URL').env('HOLDQ_URL').default('http://127.0.0.1:3000'))
    .addOption(new Option('--key <key>', 'API key').env('HOLDQ_API_KEY'))
    .option('--json', "print the API's JSON instead of a table")
    .exitOverride()
    .configureOutput({ writeOut: out.stdout, writeErr: out.stderr })
    .showHelpAfterError('(holdq <command> --help for its options)');

  const client = (): HoldqClient => {
    const o = program.opts<{ url: string; key?: string }>();
    if (!o.key) {
      out.stderr('holdq: no API key: set HOLDQ_API_KEY or pass --key\n');
      throw new Exit(EXIT.usage);
    }
    return createHoldqClient({ baseUrl: o.url, apiKey: o.key });
  };
  const json = () => Boolean(program.opts<{ json?: boolean }>().json);
  const print = (value: unknown, text: () => string) =>
    out.stdout(`${json() ? JSON.stringify(value, null, 2) : text()}\n`);

  /** Posts an intent; with --wait, follows it to its end with a progress line on stderr. */
  async function post(body: IntentRequest, o: { wait?: boolean; timeout?: number; idempotencyKey?: string }) {
    const c = client();
    const accepted = await c.postIntent(body, o.idempotencyKey ? { idempotencyKey: o.idempotencyKey } : {});
    if (!o.wait) return print(accepted, () => `accepted ${intentLine(accepted)}`);
    const started = Date.now();
    const tty = process.stderr.isTTY;
    let done: Intent;
    try {
      done = await c.waitForIntent(accepted.id, {
        timeoutMs: (o.timeout ?? 60) * 1000,
        onProgress: (i) => {
          const line = `… ${i.type} ${i.id}: ${i.status} (${((Date.now() - started) / 1000).toFixed(1)} s, attempt ${i.attempts})`;
          out.stderr(tty ? `\r${line}` : `${line}\n`);
        },
      });
    } catch (err) {
      if (err instanceof HoldqError) throw err;
      out.stderr(`${tty ? '\n' : ''}holdq: ${(err as Error).message}\n`);
      throw new Exit(EXIT.timeout);
    }
    if (tty) out.stderr('\n');
    print(done, () => intentLine(done));
    if (done.status !== 'completed') throw new Exit(EXIT.notCompleted);
  }

  const intentCommand = (name: string, description: string) =>
    program
      .command(name)
      .description(description)
      .option('--wait', 'wait until the intent is finished; exit 1 unless it completed')
      .option('--timeout <seconds>', 'with --wait: how long to wait', positiveInt('--timeout'), 60)
      .option('--idempotency-key <key>', 'a retry with the same key answers the same intent')
      .option('--callback-url <url>', 'POST the final record there');
  type Common = { wait?: boolean; timeout?: number; idempotencyKey?: string; callbackUrl?: string };
  const callback = (o: Common) => (o.callbackUrl ? { callback_url: o.callbackUrl } : {});

  intentCommand('hold', 'put a call on hold')
    .argument('<call_uuid>')
    .addOption(new Option('--legs <legs>', 'which legs hold').choices(['aleg', 'bleg', 'both']).default('aleg'))
    .option('--music <profile>', 'the hold-music profile')
    .action((call: string, o: Common & { legs: 'aleg' | 'bleg' | 'both'; music?: string }) =>
      post({ type: 'hold', call_uuid: call, legs: o.legs, ...(o.music ? { music: o.music } : {}), ...callback(o) }, o),
    );
  intentCommand('unhold', 'take a call off hold')
    .argument('<call_uuid>')
    .action((call: string, o: Common) => post({ type: 'unhold', call_uuid: call, ...callback(o) }, o));
  intentCommand('enqueue', 'send a caller to a queue')
    .argument('<call_uuid>')
    .argument('<queue>')
    .option('--priority <n>', 'higher is served first (-1000..1000)', integer('--priority'))
    .option('--max-wait <seconds>', 'then overflow', positiveInt('--max-wait'))
    .option('--overflow <target>', 'a queue name or a URL, after --max-wait')
    .action((call: string, queue: string, o: Common & { priority?: number; maxWait?: number; overflow?: string }) =>
      post(
        {
          type: 'enqueue',
          call_uuid: call,
          queue,
          ...(o.priority !== undefined ? { priority: o.priority } : {}),
          ...(o.maxWait !== undefined ? { max_wait_seconds: o.maxWait } : {}),
          ...(o.overflow ? { overflow: o.overflow } : {}),
          ...callback(o),
        },
        o,
      ),
    );
  intentCommand('dequeue', "connect a queue's next caller to an agent's call")
    .argument('<queue>')
    .argument('<agent_call_uuid>')
    .option('--caller <call_uuid>', 'this waiting caller instead of the first')
    .action((queue: string, agent: string, o: Common & { caller?: string }) =>
      post({ type: 'dequeue', queue, agent_call_uuid: agent, ...(o.caller ? { call_uuid: o.caller } : {}) }, o),
    );
  intentCommand('callback', 'let a waiting caller hang up and be called back, keeping its place')
    .argument('<call_uuid>')
    .argument('<queue>')
    .option('--number <e164>', 'where to call back (default: the number Plivo reported as the caller)')
    .action((call: string, queue: string, o: Common & { number?: string }) =>
      post({ type: 'callback', call_uuid: call, queue, ...(o.number ? { number: o.number } : {}), ...callback(o) }, o),
    );
  intentCommand('transfer', "redirect a call's legs to XML URLs (on TRANSFER_URL_ALLOWLIST)")
    .argument('<call_uuid>')
    .addOption(new Option('--legs <legs>').choices(['aleg', 'bleg', 'both']).default('aleg'))
    .option('--aleg-url <url>')
    .option('--bleg-url <url>')
    .action((call: string, o: Common & { legs: 'aleg' | 'bleg' | 'both'; alegUrl?: string; blegUrl?: string }) =>
      post(
        {
          type: 'transfer',
          call_uuid: call,
          legs: o.legs,
          ...(o.alegUrl ? { aleg_url: o.alegUrl } : {}),
          ...(o.blegUrl ? { bleg_url: o.blegUrl } : {}),
          ...callback(o),
        } as IntentRequest,
        o,
      ),
    );

  program
    .command('intent')
    .description('an intent and its transfers')
    .argument('<id>')
    .action(async (id: string) => {
      const i = await client().getIntent(id);
      print(i, () =>
        [
          intentLine(i),
          `call ${'call_uuid' in i ? (i.call_uuid ?? '-') : '-'}, sequence ${i.sequence}, class ${i.class}, attempts ${i.attempts}`,
          `created ${i.created_at}, finished ${i.finished_at ?? '-'}`,
          i.transfers.length > 0
            ? table(
                ['legs', 'status', 'at', 'error'],
                i.transfers.map((t) => [t.legs, t.status_code, t.at, t.error]),
              )
            : 'no transfers yet',
        ].join('\n'),
      );
    });
  program
    .command('queues')
    .description('queues with their callers, oldest and estimated wait')
    .option('--limit <n>', 'queues per page', positiveInt('--limit'))
    .option('--cursor <name>', 'the next page after this name')
    .action(async (o: { limit?: number; cursor?: string }) => {
      const page = await client().listQueues(o);
      print(page, () =>
        [
          table(
            ['queue', 'waiting', 'oldest', 'estimated', 'configured'],
            page.items.map((q) => [
              q.name,
              q.waiting,
              seconds(q.oldest_wait_seconds),
              seconds(q.estimated_wait_seconds),
              q.configured ? 'yes' : 'no',
            ]),
          ),
          ...(page.next_cursor ? [`more: --cursor ${page.next_cursor}`] : []),
        ].join('\n'),
      );
    });
  program
    .command('held')
    .description('calls on hold, longest held first')
    .option('--limit <n>', 'calls per page', positiveInt('--limit'))
    .option('--cursor <cursor>', 'the next page (as the last page said)')
    .action(async (o: { limit?: number; cursor?: string }) => {
      const page = await client().listHeldCalls(o);
      print(page, () =>
        [
          table(
            ['call', 'held', 'legs', 'since'],
            page.items.map((c) => [c.call_uuid, seconds(c.held_seconds), c.held_legs ?? '-', c.since]),
          ),
          ...(page.next_cursor ? [`more: --cursor ${page.next_cursor}`] : []),
        ].join('\n'),
      );
    });
  program
    .command('queue')
    .description('a queue: its callers in service order, service level, abandonment')
    .argument('<name>')
    .action(async (name: string) => {
      const q = await client().getQueue(name);
      const sl = q.service_level;
      print(q, () =>
        [
          `${q.name}: ${q.waiting} waiting, oldest ${seconds(q.oldest_wait_seconds)}, a caller joining now waits ${seconds(q.estimated_wait_seconds)}`,
          `service level ${sl.ratio === null ? '-' : `${Math.round(sl.ratio * 100)} %`} (${sl.answered_within} of ${sl.answered} within ${sl.threshold_seconds}s), abandoned ${q.abandoned_ratio === null ? '-' : `${Math.round(q.abandoned_ratio * 100)} %`}`,
          table(
            ['position', 'call', 'priority', 'waited', 'estimated', 'call back'],
            q.members.map((m) => [
              m.position,
              m.call_uuid,
              m.priority,
              seconds(m.wait_seconds),
              seconds(m.estimated_wait_seconds),
              m.callback ? 'yes' : '',
            ]),
          ),
        ].join('\n'),
      );
    });
  program
    .command('call')
    .description('what holdq knows of a call')
    .argument('<call_uuid>')
    .action(async (uuid: string) => {
      const c = await client().getCall(uuid);
      print(c, () =>
        table(
          ['call', 'state', 'queue', 'position', 'since', 'transfers', 'held legs'],
          [
            [
              c.call_uuid,
              c.state,
              c.queue,
              c.position,
              c.since,
              `${c.transfer_count}/${c.transfer_budget}`,
              c.held_legs,
            ],
          ],
        ),
      );
    });
  program
    .command('dead-letters')
    .description('failed intents, newest first')
    .option('--limit <n>', 'per page', positiveInt('--limit'))
    .option('--cursor <n>', 'offset of the page', integer('--cursor'))
    .action(async (o: { limit?: number; cursor?: number }) => {
      const page = await client().deadLetters(o);
      print(page, () =>
        [
          table(
            ['id', 'type', 'call', 'error', 'finished'],
            page.items.map((i) => [i.id, i.type, 'call_uuid' in i ? i.call_uuid : '-', i.error?.code, i.finished_at]),
          ),
          `${page.total} in all${page.next_cursor ? `; more: --cursor ${page.next_cursor}` : ''}`,
        ].join('\n'),
      );
    });
  program
    .command('retry')
    .description('run a failed intent again (ADMIN_KEYS)')
    .argument('<id>')
    .action(async (id: string) => {
      const i = await client().retry(id);
      print(i, () => `re-queued ${intentLine(i)}`);
    });
  program
    .command('watch')
    .description('follow the event stream, one line per event (resumes by itself after a drop)')
    .option('--queue <name>')
    .option('--call <call_uuid>')
    .option('--types <types>', 'comma-separated event types')
    .option('--last-event-id <id>', 'resume after this id')
    .option('--count <n>', 'stop after this many events', positiveInt('--count'))
    .action(async (o: { queue?: string; call?: string; types?: string; lastEventId?: string; count?: number }) => {
      const controller = new AbortController();
      process.once('SIGINT', () => controller.abort());
      let n = 0;
      for await (const { id, event } of client().events({
        ...(o.queue ? { queue: o.queue } : {}),
        ...(o.call ? { callUuid: o.call } : {}),
        ...(o.types ? { types: o.types.split(',') } : {}),
        ...(o.lastEventId ? { lastEventId: o.lastEventId } : {}),
        signal: controller.signal,
      })) {
        if (json()) out.stdout(`${JSON.stringify({ id, ...event })}\n`);
        else {
          const { type, at, ...rest } = event as Record<string, unknown> & { type: string; at: string };
          const fields = Object.entries(rest)
            .map(([k, v]) => `${k}=${typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v)}`)
            .join(' ');
          out.stdout(`${at} ${type} ${fields}\n`);
        }
        if (o.count && ++n >= o.count) break;
      }
    });
  return program;
}

/** Runs the command line; resolves with the exit code. */
export async function main(
  argv: string[],
  out = { stdout: (s: string) => process.stdout.write(s), stderr: (s: string) => process.stderr.write(s) },
) {
  const program = buildProgram({ stdout: (s) => void out.stdout(s), stderr: (s) => void out.stderr(s) });
  try {
    await program.parseAsync(argv, { from: 'user' });
    return EXIT.ok;
  } catch (err) {
    if (err instanceof Exit) return err.code;
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    if (err instanceof HoldqError) {
      out.stderr(`holdq: ${err.message}\n`);
      for (const e of err.problem?.errors ?? []) out.stderr(`  ${e.field}: ${e.message}\n`);
      return err.status >= 500 ? EXIT.unavailable : EXIT.refused;
    }
    out.stderr(
      `holdq: ${(err as Error).message}${(err as { cause?: Error }).cause ? ` (${(err as { cause: Error }).cause.message})` : ''}\n`,
    );
    return EXIT.unavailable;
  }
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('/holdq')) {
  process.exitCode = await main(process.argv.slice(2));
}
