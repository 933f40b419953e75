import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Queue } from 'bullmq';
import type { RequestHandler, Router } from 'express';
import { AppError } from '../domain/errors.js';
import { createKeyMatcher } from './middleware.js';

export const ADMIN_PATH = '/admin/queues';

/**
 * The admin UI takes the same keys as the API. Browsers cannot send a bearer
 * token, so HTTP Basic works too: user = the key's name, password = its secret.
 */
export function adminAuth(keys: readonly { name: string; secret: string }[]): RequestHandler {
  const match = createKeyMatcher(keys);
  return (req, res, next) => {
    const header = req.get('authorization') ?? '';
    let name: string | null = null;
    let secret: string | null = null;
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(header);
    const basic = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
    if (bearer) secret = bearer[1]!;
    if (basic) {
      const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
      const i = decoded.indexOf(':');
      if (i > 0) [name, secret] = [decoded.slice(0, i), decoded.slice(i + 1)];
    }
    const client = secret === null ? undefined : match(secret, name);
    if (!client) {
      next(
        new AppError('unauthorized', 'the admin UI needs an API key (HTTP Basic: key name and secret, or Bearer)', [{ field: 'Authorization', message: 'missing or unknown key' }], {
          headers: { 'www-authenticate': 'Basic realm="holdq admin", charset="UTF-8"' },
        }),
      );
      return;
    }
    res.locals.client = client;
    next();
  };
}

/** Bull Board over holdq's job queues, mounted under ADMIN_PATH. */
export function createAdminRouter(queues: Queue[]): Router {
  const adapter = new ExpressAdapter();
  adapter.setBasePath(ADMIN_PATH);
  createBullBoard({ queues: queues.map((q) => new BullMQAdapter(q, { readOnlyMode: false })), serverAdapter: adapter, options: { uiConfig: { boardTitle: 'holdq' } } });
  return adapter.getRouter() as Router;
}
