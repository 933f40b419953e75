import type { Server } from 'node:http';
import express from 'express';
import type { Registry } from 'prom-client';
import { listen } from '../lifecycle.js';
import { createOpsRouter, type Readiness } from './ops-routes.js';

/**
 * A lone worker's ops port (METRICS_PORT): /livez, /readyz and /metrics, the same routes the API
 * serves on its own port (ops-routes.ts). It closes last, so /readyz answers 503 while the worker
 * drains.
 */
export async function startOpsServer(opts: {
  port: number;
  registry: Registry;
  readiness: Readiness;
  instance: string;
}) {
  const app = express();
  app.disable('x-powered-by');
  app.use(createOpsRouter(opts.registry, opts.readiness, opts.instance));
  const server: Server = await listen(app, opts.port);
  return {
    port: (server.address() as { port: number }).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
