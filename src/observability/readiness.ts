import type { Redis } from 'ioredis';
import type { Readiness } from './ops-routes.js';

/**
 * Ready = not shutting down and Redis answers a PING within a second. `advisories` are shown
 * with the checks (start-up findings such as PUBLIC_BASE_URL's) but never make holdq unready.
 */
export function createReadiness(opts: {
  redis: Redis;
  simulated: boolean;
  isShuttingDown: () => boolean;
  advisories?: () => Record<string, string>;
}): Readiness {
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
      Object.assign(checks, opts.advisories?.());
      return { ok, checks, mode };
    },
  };
}
