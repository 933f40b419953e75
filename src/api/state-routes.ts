import { Router } from 'express';
import type { Config } from '../config.js';
import { AppError } from './errors.js';
import { SAFE_ID } from '../domain/intent.js';
import { resolveQueue } from '../domain/queue-config.js';
import type { CallStore } from '../infra/call-state.js';
import type { QueueStore } from '../infra/queue-store.js';

export interface StateRoutesDeps {
  config: Readonly<Config>;
  calls: CallStore;
  queues: QueueStore;
}

const round = (n: number) => Math.round(n * 10) / 10;

function safeName(raw: unknown, what: string): string {
  const name = String(raw);
  if (!SAFE_ID.test(name)) throw new AppError('not_found', `no ${what} ${name.slice(0, 64)}`);
  return name;
}

/** What holdq knows of calls and queues (SPEC §2): read-only views of the Redis state. */
export function createStateRoutes(deps: StateRoutesDeps): Router {
  const { config, calls, queues } = deps;
  const router = Router();

  router.get('/calls/:callUuid', async (req, res) => {
    const uuid = safeName(req.params.callUuid, 'call');
    const call = await calls.get(uuid);
    if (!call.state && call.transfer_count === 0 && !call.last_intent_id) throw new AppError('not_found', `holdq has not moved call ${uuid}`);
    const position = call.state === 'queued' && call.queue ? await queues.position(call.queue, uuid) : null;
    res.json({
      call_uuid: uuid,
      state: call.state,
      queue: call.queue,
      position,
      since: call.since,
      transfer_count: call.transfer_count,
      transfer_budget: config.TRANSFER_BUDGET,
      last_intent_id: call.last_intent_id,
      held_legs: call.held_legs,
      bleg_uuid: call.bleg_uuid,
    });
  });

  router.get('/queues', async (_req, res) => {
    const seen = await queues.summary();
    const byName = new Map(seen.map((q) => [q.name, q]));
    // Configured queues are listed even before their first caller.
    for (const name of Object.keys(config.QUEUES)) if (!byName.has(name)) byName.set(name, { name, waiting: 0, oldest_wait_seconds: 0 });
    const items = [...byName.values()]
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((q) => ({ ...q, oldest_wait_seconds: round(q.oldest_wait_seconds), configured: Object.hasOwn(config.QUEUES, q.name) }));
    res.json({ items });
  });

  router.get('/queues/:name', async (req, res) => {
    const name = safeName(req.params.name, 'queue');
    const members = await queues.members(name);
    const settings = resolveQueue(config.QUEUES, name, config.HOLD_MUSIC_URL);
    if (members.length === 0 && !settings.configured && !(await queues.summary()).some((q) => q.name === name)) {
      throw new AppError('not_found', `no queue ${name}`);
    }
    res.json({
      name,
      waiting: members.length,
      oldest_wait_seconds: round(Math.max(0, ...members.map((m) => m.wait_seconds))),
      max_size: settings.max_size,
      configured: settings.configured,
      members: members.map((m) => ({ ...m, wait_seconds: round(m.wait_seconds) })),
    });
  });

  return router;
}
