import type { Redis } from 'ioredis';
import type { Logger } from '../observability/logger.js';
import { doublingBackoffMs } from '../infra/backoff.js';

/**
 * The live event stream (SPEC §8), read from Redis once per process and fanned out. The scripts
 * that change calls and queues write their events to each account's stream (lua/includes/
 * queue-events.lua); this hub reads every account's stream with one blocking XREAD on a
 * connection of its own, and hands each entry to the streams of that account that want it. A
 * client that resumes (`Last-Event-ID`) first reads what it missed with XRANGE on the shared
 * command connection, while the live entries that arrive meanwhile wait in its buffer; then it
 * is live, with nothing missing or repeated (ids only go up).
 */

export { EVENT_TYPES } from '../domain/event-types.js';

/** A stream entry as the hub hands it on. */
export interface StreamEvent {
  id: string;
  type: string;
  call: string;
  queue: string;
  /**
   * The whole SSE frame, its `data:` the stored JSON with the type and the time first; encoded once
   * and shared: every stream that sends the event writes this same Buffer, so a thousand streams
   * hold one copy of it while their sockets drain.
   */
  frame: Buffer;
}

export interface EventFilter {
  types?: ReadonlySet<string>;
  queue?: string;
  call_uuid?: string;
}

export function matches(filter: EventFilter, e: StreamEvent): boolean {
  return (
    (!filter.types || filter.types.has(e.type)) &&
    (filter.queue === undefined || filter.queue === e.queue) &&
    (filter.call_uuid === undefined || filter.call_uuid === e.call)
  );
}

/** A stream id (`<ms>-<seq>`), as the two numbers it orders by. */
export const STREAM_ID = /^(\d{1,15})-(\d{1,15})$/;

export function compareIds(a: string, b: string): number {
  const [, am = '0', as = '0'] = STREAM_ID.exec(a) ?? [];
  const [, bm = '0', bs = '0'] = STREAM_ID.exec(b) ?? [];
  return Number(am) - Number(bm) || Number(as) - Number(bs);
}

/** An entry of XREAD/XRANGE ([id, [field, value, …]]) as a StreamEvent. */
export function toEvent(id: string, fields: string[]): StreamEvent {
  const f: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) f[fields[i]!] = fields[i + 1]!;
  const type = f.type ?? 'unknown';
  const at = new Date(Number(id.split('-')[0])).toISOString();
  const stored = f.data && f.data.startsWith('{') ? f.data : '{}';
  const head = `{"type":${JSON.stringify(type)},"at":"${at}"`;
  const data = stored === '{}' ? `${head}}` : `${head},${stored.slice(1)}`;
  return {
    id,
    type,
    call: f.call ?? '',
    queue: f.queue ?? '',
    frame: Buffer.from(`id: ${id}\nevent: ${type}\ndata: ${data}\n\n`),
  };
}

/** Entries read together: a stream sends those it wants as one write. */
export interface EventBatch {
  events: readonly StreamEvent[];
  /** Every frame of the batch in one Buffer, made once and shared by the streams that want them all. */
  all(): Buffer;
}

export interface Subscriber {
  account: string;
  /** Called with each batch of live entries of its account, in id order. */
  deliver(batch: EventBatch): void;
}

/** Entries per XREAD: a batch every stream holds as one write while its socket drains. */
const BATCH = 200;

export interface EventHub {
  subscribe(s: Subscriber): () => void;
  /** How many streams this process serves now. */
  size(): number;
  /** Stops reading; live streams end (their clients resume elsewhere). */
  close(): Promise<void>;
  /** Ends every stream at shutdown, so the HTTP server can close. */
  onClose(fn: () => void): () => void;
}

/**
 * `reader` is a connection of its own (its XREAD blocks it); `streams` each account's stream key.
 * The hub reads only while somebody listens; it starts from each stream's last entry then.
 */
export function createEventHub(opts: {
  reader: Redis;
  streams: ReadonlyMap<string, string>;
  logger: Logger;
  blockMs?: number;
}): EventHub {
  const { reader, streams, logger } = opts;
  const accounts = [...streams.keys()];
  const keys = accounts.map((a) => streams.get(a)!);
  const subscribers = new Set<Subscriber>();
  const closers = new Set<() => void>();
  let running: Promise<void> | null = null;
  let closed = false;
  let failures = 0;

  async function lastIds(): Promise<string[]> {
    return Promise.all(
      keys.map(async (key) => {
        const last = (await reader.xrevrange(key, '+', '-', 'COUNT', 1)) as [string, string[]][];
        return last[0]?.[0] ?? '0-0';
      }),
    );
  }

  async function loop(): Promise<void> {
    let ids: string[] | null = null;
    while (!closed && subscribers.size > 0) {
      try {
        ids ??= await lastIds();
        const reply = (await reader.xread(
          'COUNT',
          BATCH,
          'BLOCK',
          opts.blockMs ?? 5000,
          'STREAMS',
          ...keys,
          ...ids,
        )) as [string, [string, string[]][]][] | null;
        failures = 0;
        for (const [key, entries] of reply ?? []) {
          const i = keys.indexOf(key);
          const account = accounts[i]!;
          const events = entries.map(([id, fields]) => toEvent(id, fields));
          let all: Buffer | null = null;
          const batch: EventBatch = { events, all: () => (all ??= Buffer.concat(events.map((e) => e.frame))) };
          for (const s of subscribers) if (s.account === account) s.deliver(batch);
          if (entries.length > 0) ids[i] = entries.at(-1)![0];
        }
        // Let the sockets drain before the next batch is read.
        await new Promise((r) => setImmediate(r));
      } catch (err) {
        if (closed) return;
        logger.warn({ err }, 'event stream: reading failed; trying again');
        await new Promise((r) => setTimeout(r, doublingBackoffMs(failures++, 100)));
      }
    }
  }

  function ensureRunning() {
    if (running || closed) return;
    running = loop().finally(() => {
      running = null;
      // Somebody subscribed as the loop was ending.
      if (subscribers.size > 0) ensureRunning();
    });
  }

  return {
    subscribe(s) {
      subscribers.add(s);
      ensureRunning();
      return () => subscribers.delete(s);
    },
    size: () => subscribers.size,
    onClose(fn) {
      closers.add(fn);
      return () => closers.delete(fn);
    },
    async close() {
      closed = true;
      for (const fn of [...closers]) fn();
      subscribers.clear();
      // The connection is the hub's alone: closing it ends the blocking read at once.
      reader.disconnect();
      await running?.catch(() => undefined);
    },
  };
}
