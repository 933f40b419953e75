import { Router } from 'express';
import type { Config } from '../config.js';
import type { PlivoAccount } from '../domain/account.js';
import type { CallView, HeldCallPage, QueuePage, QueueView } from './responses.js';
import { AppError } from './errors.js';
import { CLIENT_PARSE, fieldErrors } from './problem.js';
import { z } from 'zod';
import { queueName, SAFE_ID } from '../domain/intent.js';
import { resolveQueue } from '../domain/queue-config.js';
import type { CallStore } from '../infra/call-state.js';
import { HELD_CURSOR, type HeldCalls } from '../infra/held-calls.js';
import type { QueueStore } from '../infra/queue-store.js';

export interface StateRoutesDeps {
  config: Readonly<Config>;
  /** The account whose calls and queues these are (its transfer budget). */
  account: PlivoAccount;
  calls: CallStore;
  queues: QueueStore;
  held: HeldCalls;
}

const round = (n: number) => Math.round(n * 10) / 10;
// Plain code-unit order, as Redis orders the names of its index.
const byCodeUnit = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

const queueListQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(500).default(100),
  /** The last name of the previous page (next_cursor). */
  cursor: queueName.optional(),
});

const callListQuery = z.strictObject({
  state: z.literal('held'),
  limit: z.coerce.number().int().min(1).max(500).default(100),
  /** next_cursor of the previous page: `<hold start ms>.<call_uuid>`. */
  cursor: z.string().regex(HELD_CURSOR, 'next_cursor of the previous page').optional(),
});

function safeName(raw: unknown, what: string): string {
  const name = String(raw);
  if (!SAFE_ID.test(name)) throw new AppError('not_found', `no ${what} ${name.slice(0, 64)}`);
  return name;
}

const roundRatio = (x: number | null) => (x === null ? null : Math.round(x * 1000) / 1000);

/** What holdq knows of calls and queues: read-only views of the Redis state. */
export function createStateRoutes(deps: StateRoutesDeps): Router {
  const { config, calls, queues } = deps;
  const router = Router();

  // Calls on hold, longest held first, page by page (the wallboard's list, SPEC §13).
  router.get('/calls', async (req, res) => {
    const query = callListQuery.safeParse(req.query, CLIENT_PARSE);
    if (!query.success)
      throw new AppError('validation_failed', 'the query is not valid', fieldErrors(query.error.issues));
    const page = await deps.held.page(query.data.cursor ?? null, query.data.limit);
    const now = Date.now();
    const view: HeldCallPage = {
      items: page.items.map((c) => ({ ...c, held_seconds: round(Math.max(0, now - Date.parse(c.since)) / 1000) })),
      next_cursor: page.next,
    };
    res.json(view);
  });

  router.get('/calls/:callUuid', async (req, res) => {
    const uuid = safeName(req.params.callUuid, 'call');
    const call = await calls.get(uuid);
    if (!call.state && call.transfer_count === 0 && !call.last_intent_id)
      throw new AppError('not_found', `holdq has not moved call ${uuid}`);
    const position = call.state === 'queued' && call.queue ? await queues.position(call.queue, uuid) : null;
    const view: CallView = {
      call_uuid: uuid,
      state: call.state,
      queue: call.queue,
      position,
      since: call.since,
      transfer_count: call.transfer_count,
      transfer_budget: deps.account.transferBudget,
      last_intent_id: call.last_intent_id,
      held_legs: call.held_legs,
      bleg_uuid: call.bleg_uuid,
    };
    res.json(view);
  });

  // Queues page by page in name order: the configured ones, and those created on demand
  // that have not been forgotten (QUEUE_IDLE_SECONDS after they were left empty).
  const configured = Object.keys(config.QUEUES).sort(byCodeUnit);
  router.get('/queues', async (req, res) => {
    const query = queueListQuery.safeParse(req.query);
    if (!query.success)
      throw new AppError('validation_failed', 'the query is not valid', fieldErrors(query.error.issues));
    const { limit, cursor } = query.data;
    const after = cursor ?? null;
    const known = await queues.names(after, limit + 1);
    const names = [...new Set([...known, ...configured.filter((n) => after === null || n > after)])]
      .sort(byCodeUnit)
      .slice(0, limit + 1);
    const page = names.slice(0, limit);
    const [depths, stats] = await Promise.all([
      queues.depths(page),
      // The listing shows estimates only: the outcomes are not read.
      Promise.all(page.map((name) => queues.stats(name, { outcomes: false }))),
    ]);
    const items = depths.map((q, i) => ({
      ...q,
      oldest_wait_seconds: round(q.oldest_wait_seconds),
      estimated_wait_seconds: stats[i]!.estimated_wait_seconds,
      configured: Object.hasOwn(config.QUEUES, q.name),
    }));
    const view: QueuePage = { items, next_cursor: names.length > limit ? page.at(-1)! : null };
    res.json(view);
  });

  router.get('/queues/:name', async (req, res) => {
    const name = safeName(req.params.name, 'queue');
    const members = await queues.members(name);
    const settings = resolveQueue(config.QUEUES, name, config.HOLD_MUSIC_URL);
    if (members.length === 0 && !settings.configured && !(await queues.known(name))) {
      throw new AppError('not_found', `no queue ${name}`);
    }
    const stats = await queues.stats(name, { limit: members.length });
    const view: QueueView = {
      name,
      waiting: members.length,
      oldest_wait_seconds: round(Math.max(0, ...members.map((m) => m.wait_seconds))),
      estimated_wait_seconds: stats.estimated_wait_seconds,
      service_level: {
        ...stats.service_level,
        ratio: roundRatio(stats.service_level.ratio),
        target: settings.service_level_target,
      },
      abandoned_ratio: roundRatio(stats.abandoned_ratio),
      max_size: settings.max_size,
      configured: settings.configured,
      members: members.map((m) => ({
        ...m,
        wait_seconds: round(m.wait_seconds),
        estimated_wait_seconds: stats.members.get(m.call_uuid) ?? null,
      })),
    };
    res.json(view);
  });

  return router;
}
