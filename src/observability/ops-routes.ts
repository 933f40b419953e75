import { Router } from 'express';
import type { Registry } from 'prom-client';

export interface Readiness {
  /** Resolves to the checks' results; `ok` is false while Redis is unreachable or shutting down. */
  check(): Promise<{ ok: boolean; checks: Record<string, string>; mode: string }>;
}

/** /livez, /readyz and /metrics: served by the API on PORT and by a lone worker on METRICS_PORT. */
export function createOpsRouter(registry: Registry, readiness: Readiness): Router {
  const router = Router();
  router.get('/livez', (_req, res) => {
    res.json({ status: 'ok' });
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
