import { Router } from 'express';
import type { Registry } from 'prom-client';

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
  const live = JSON.stringify({ status: 'ok', service: 'holdq', instance });
  router.get('/livez', (_req, res) => {
    res.type('application/json').send(live);
  });
  router.get('/readyz', async (_req, res) => {
    const r = await readiness.check();
    res.status(r.ok ? 200 : 503).json({ status: r.ok ? 'ready' : 'not_ready', plivo: r.mode, checks: r.checks });
  });
  router.get('/metrics', async (_req, res) => {
    res.set('content-type', registry.contentType).send(await registry.metrics());
  });
  return router;
}
