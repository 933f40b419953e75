import type { Redis } from 'ioredis';
import type { Readiness } from './ops-routes.js';

/** Ready = not shutting down and Redis answers a PING within a second. */
export function createReadiness(opts: { redis: Redis; simulated: boolean; isShuttingDown: () => boolean }): Readiness {
  const mode = opts.simulated ? 'simulator' : 'plivo';
  return {
    async check() {
      const checks: Record<string, string> = {};
      let ok = true;
      if (opts.isShuttingDown()) {
        checks.shutdown = 'in progress';
        ok = false;
      }
      try {
        if (opts.redis.status !== 'ready') throw new Error(opts.redis.status);
        await Promise.race([
          opts.redis.ping(),
          new Promise((_, reject) => setTimeout(() => reject(new Error('ping timeout')), 1000).unref()),
        ]);
        checks.redis = 'ok';
      } catch (err) {
        checks.redis = `unreachable (${(err as Error).message})`;
        ok = false;
      }
      if (opts.simulated) checks.plivo = 'SIMULATOR: transfers go to the built-in Plivo simulator, not to Plivo';
      return { ok, checks, mode };
    },
  };
}
