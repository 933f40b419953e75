import { Router } from 'express';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { queueName, SAFE_ID } from '../domain/intent.js';
import type { Keys } from '../infra/keys.js';
import { caller } from './auth.js';
import { AppError } from './errors.js';
import {
  compareIds,
  EVENT_TYPES,
  matches,
  STREAM_ID,
  toEvent,
  type EventFilter,
  type EventHub,
  type StreamEvent,
} from './event-stream.js';
import { fieldErrors } from './problem.js';
import { requestLog } from './request-observer.js';

/**
 * A stream whose client falls this far behind (about 250 events unsent) is ended: it resumes with
 * Last-Event-ID and loses nothing. Frames are shared between streams, but each queued write costs
 * its socket a little, and a thousand slow readers must not take the API's heap.
 */
const MAX_UNSENT_BYTES = 64 * 1024;
/** Live events held for a stream while it catches up; past it, the stream ends and resumes. */
const MAX_BUFFERED = 20_000;
/** Events read per XRANGE while a stream catches up. */
const PAGE = 500;

const eventTypes = new Set<string>(EVENT_TYPES);

export const eventsQuery = z.strictObject({
  queue: queueName.optional(),
  call_uuid: z.string().regex(SAFE_ID, 'a call UUID: 1-64 characters of A-Z a-z 0-9 _ -').optional(),
  types: z
    .string()
    .max(1000)
    .transform((s) => s.split(',').filter(Boolean))
    .pipe(
      z
        .array(z.string().refine((t) => eventTypes.has(t), { message: `event types are ${EVENT_TYPES.join(', ')}` }))
        .min(1, 'at least one event type'),
    )
    .optional(),
  last_event_id: z.string().regex(STREAM_ID, 'an event id as the stream sent it (<ms>-<seq>)').optional(),
});

export interface EventsRouteDeps {
  hub: EventHub;
  /** The command connection, for catching up (XRANGE, XINFO). */
  redis: Redis;
  keys: Keys;
  account: { name: string };
  maxStreams: number;
  /** Streams one key may hold open on this API process (EVENTS_MAX_STREAMS_PER_KEY). */
  maxStreamsPerKey: number;
  keepAliveMs: number;
}

/**
 * Whether events after `from` may be gone, so the client must start over: answers the id the
 * stream is at (its reset's id), or null when nothing after `from` is missing. Something is
 * missing when the stream is gone, or when `from` comes before the first entry kept: entries were
 * trimmed (`entries-added` above `length`; Redis 7.0's `max-deleted-entry-id` does not follow
 * MAXLEN trimming), or the stream was lost and began again (a Redis that kept nothing), so the id
 * the client saw is no longer there. An id at time 0 (`0-0`, `0-1`: no event has one) asks for
 * everything kept: only trimming makes it stale.
 */
async function lostSince(redis: Redis, key: string, from: string): Promise<string | null> {
  let info: unknown[];
  try {
    info = (await redis.xinfo('STREAM', key)) as unknown[];
  } catch (err) {
    if (err instanceof Error && /no such key/i.test(err.message)) return '0-0';
    throw err;
  }
  const field = (name: string) => info[info.indexOf(name) + 1];
  const first = field('first-entry') as [string, string[]] | null;
  const trimmed = Number(field('entries-added')) > Number(field('length'));
  const before = first === null ? trimmed : compareIds(from, first[0]) < 0 && (trimmed || !from.startsWith('0-'));
  return before ? String(field('last-generated-id')) : null;
}

/**
 * GET /v1/events (SPEC §8): Server-Sent Events of the caller's account, filtered by queue, call
 * and type, resumed after `Last-Event-ID` (the header, or `last_event_id` for clients that cannot
 * set one; the header wins, as EventSource sends it on reconnect).
 */
export function createEventsRoutes(deps: EventsRouteDeps): Router {
  const router = Router();
  const stream = deps.keys.events();
  /** Open streams per key on this process: one key cannot take every stream. */
  const perKey = new Map<string, number>();
  router.get('/events', async (req, res) => {
    const query = eventsQuery.safeParse(req.query);
    if (!query.success)
      throw new AppError('validation_failed', 'the query is not valid', fieldErrors(query.error.issues));
    const header = req.get('last-event-id');
    if (header !== undefined && !STREAM_ID.test(header.trim()))
      throw new AppError('validation_failed', 'Last-Event-ID is not an event id', [
        { field: 'Last-Event-ID', message: 'an event id as the stream sent it (<ms>-<seq>)' },
      ]);
    if (deps.hub.size() >= deps.maxStreams)
      throw new AppError('unavailable', `this API serves ${deps.maxStreams} event streams already`, [], {
        headers: { 'retry-after': '5' },
      });
    const client = caller(res).client;
    const mine = perKey.get(client) ?? 0;
    if (mine >= deps.maxStreamsPerKey)
      throw new AppError('rate_limited', `this key has ${mine} event streams open on this API already`, [], {
        headers: { 'retry-after': '5' },
      });
    perKey.set(client, mine + 1);
    const from = header?.trim() || query.data.last_event_id;
    const filter: EventFilter = {
      ...(query.data.types ? { types: new Set(query.data.types) } : {}),
      ...(query.data.queue ? { queue: query.data.queue } : {}),
      ...(query.data.call_uuid ? { call_uuid: query.data.call_uuid } : {}),
    };
    const log = requestLog(res);

    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.write('retry: 2000\n: holdq events\n\n');

    let ended = false;
    let live = from === undefined;
    let lastSent: string | null = from ?? null;
    const buffer: StreamEvent[] = [];
    const end = (why: string) => {
      if (ended) return;
      ended = true;
      const left = (perKey.get(client) ?? 1) - 1;
      if (left > 0) perKey.set(client, left);
      else perKey.delete(client);
      clearInterval(keepAlive);
      unsubscribe();
      offClose();
      log.debug({ why }, 'event stream ended');
      res.end();
    };
    /** Sends what the stream wants of `events` (those after the last it saw, matching its filter) in one write. */
    const sendAll = (events: readonly StreamEvent[], all?: () => Buffer) => {
      if (ended || events.length === 0) return;
      const fresh = lastSent === null ? events : events.filter((e) => compareIds(e.id, lastSent!) > 0);
      if (fresh.length === 0) return;
      lastSent = fresh.at(-1)!.id;
      const wanted = fresh.filter((e) => matches(filter, e));
      if (wanted.length === 0) return;
      // The batch's shared Buffer when the stream wants every entry of it, else one of its own.
      res.write(all && wanted.length === events.length ? all() : Buffer.concat(wanted.map((e) => e.frame)));
      if (res.writableLength > MAX_UNSENT_BYTES) end('the client reads too slowly');
    };
    const unsubscribe = deps.hub.subscribe({
      account: deps.account.name,
      deliver(batch) {
        if (live) sendAll(batch.events, batch.all);
        else if (buffer.push(...batch.events) > MAX_BUFFERED) end('too far behind while catching up');
      },
    });
    const offClose = deps.hub.onClose(() => end('shutdown'));
    const keepAlive = setInterval(() => {
      if (!ended) res.write(': keep-alive\n\n');
    }, deps.keepAliveMs);
    req.on('close', () => end('the client left'));

    if (from === undefined) return;
    try {
      const resetAt = await lostSince(deps.redis, stream, from);
      if (resetAt !== null) {
        // The reset carries the id the stream is at: a client that drops right after it resumes
        // from there, with no second reset, and gets every event after it.
        res.write(
          `id: ${resetAt}\nevent: reset\ndata: ${JSON.stringify({ type: 'reset', at: new Date().toISOString(), after: from })}\n\n`,
        );
        lastSent = resetAt;
      } else {
        let cursor = from;
        for (;;) {
          if (ended) return;
          const page = (await deps.redis.xrange(stream, `(${cursor}`, '+', 'COUNT', PAGE)) as [string, string[]][];
          sendAll(page.map(([id, fields]) => toEvent(id, fields)));
          if (page.length < PAGE) break;
          cursor = page.at(-1)![0];
        }
      }
      live = true;
      sendAll(buffer.splice(0));
    } catch (err) {
      log.warn({ err }, 'event stream: catching up failed; the client will resume');
      end('catching up failed');
    }
  });
  return router;
}
