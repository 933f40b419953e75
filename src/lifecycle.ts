import type { Server } from 'node:http';
import type { Express } from 'express';
import type { Logger } from './observability/logger.js';

/**
 * One shutdown path (graphile-worker's withReleasers): each start step registers
 * how to undo itself; `release` runs them once, newest first, each bounded by
 * the overall deadline, and never lets one failure skip the rest.
 */
export interface Releasers {
  add(name: string, release: () => Promise<void> | void): void;
  release(timeoutMs: number): Promise<void>;
}

export function createReleasers(logger: Logger): Releasers {
  const stack: { name: string; release: () => Promise<void> | void }[] = [];
  let released: Promise<void> | null = null;
  return {
    add(name, release) {
      stack.push({ name, release });
    },
    release(timeoutMs) {
      released ??= (async () => {
        const deadline = Date.now() + timeoutMs;
        while (stack.length > 0) {
          const { name, release } = stack.pop()!;
          const left = Math.max(deadline - Date.now(), 1);
          let timer: NodeJS.Timeout | undefined;
          try {
            await Promise.race([
              Promise.resolve().then(release),
              new Promise((_, reject) => {
                timer = setTimeout(() => reject(new Error(`timed out after ${left} ms`)), left);
              }),
            ]);
          } catch (err) {
            logger.error({ err, step: name }, 'shutdown step failed');
          } finally {
            clearTimeout(timer);
          }
        }
      })();
      return released;
    },
  };
}

/**
 * Starts an app's HTTP server (both roles use it; the worker for its ops port). It lives here,
 * not with the API, so the worker does not load the API's modules (bull-board, helmet, the
 * OpenAPI document): each role's heap holds only its own code.
 */
export function listen(app: Express, port: number, host?: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = app.listen(port, host ?? '::', (err?: Error) => (err ? reject(err) : resolve(server)));
    server.once('error', reject);
  });
}
