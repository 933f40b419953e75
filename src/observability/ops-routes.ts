import { Router } from 'express';
import type { Registry } from 'prom-client';
import { z } from 'zod';

/** What /livez answers (the OpenAPI document's Live, generated from this). */
export const liveView = z
  .strictObject({ status: z.literal('ok'), service: z.literal('holdq'), instance: z.string() })
  .meta({ id: 'Live', description: 'The process is up; instance is a random id per process' });

/** What /readyz answers, 200 or 503 (the document's Ready). */
export const readyView = z
  .strictObject({
    status: z.enum(['ready', 'not_ready']),
    plivo: z.enum(['simulator', 'plivo']),
    checks: z
      .record(z.string(), z.string())
      .describe(
        'redis, shutdown, plivo and the start-up findings (public_base_url, redis_persistence, redis_eviction)',
      ),
  })
  .meta({ id: 'Ready', description: 'not_ready (503) while Redis is unreachable or shutdown has begun' });

export interface Readiness {
  /** Resolves to the checks' results; `ok` is false while Redis is unreachable or shutting down. */
  check(): Promise<{ ok: boolean; checks: Record<string, string>; mode: string }>;
}

/**
 * /livez, /readyz and /metrics: served by the API on PORT and by a lone worker on METRICS_PORT.
 * /livez names the service and this instance (a random id per started API or worker), so the
 * start-up check of PUBLIC_BASE_URL can tell this holdq from a replica and from anything else.
 */
export function createOpsRouter(registry: Registry, readiness: Readiness, instance: string): Router {
  const router = Router();
  const body: z.output<typeof liveView> = { status: 'ok', service: 'holdq', instance };
  const live = JSON.stringify(body);
  router.get('/livez', (_req, res) => {
    res.type('application/json').send(live);
  });
  router.get('/readyz', async (_req, res) => {
    const r = await readiness.check();
    const body: z.output<typeof readyView> = {
      status: r.ok ? 'ready' : 'not_ready',
      plivo: r.mode === 'simulator' ? 'simulator' : 'plivo',
      checks: r.checks,
    };
    res.status(r.ok ? 200 : 503).json(body);
  });
  router.get('/metrics', async (_req, res) => {
    res.set('content-type', registry.contentType).send(await registry.metrics());
  });
  return router;
}
