import { EventEmitter } from 'node:events';
import http, { type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Delivery {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** What the receiver answered. */
  status: number;
}

export type Answer = { status: number; headers?: Record<string, string> };

/**
 * A receiver of completion callbacks on a port of its own. `answer` decides each reply from
 * how many deliveries came before (200 by default); every delivery is kept, and `waitFor`
 * resolves on the delivery event, not on a poll.
 */
export async function startReceiver(answer: (before: number) => Answer = () => ({ status: 200 })) {
  const deliveries: Delivery[] = [];
  const events = new EventEmitter();
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const reply = answer(deliveries.length);
      deliveries.push({
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body,
        status: reply.status,
      });
      res.writeHead(reply.status, reply.headers).end();
      events.emit('delivery');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://127.0.0.1:${port}/hook`,
    deliveries,
    waitFor(n: number, timeoutMs = 15_000): Promise<Delivery[]> {
      if (deliveries.length >= n) return Promise.resolve(deliveries);
      return new Promise((resolve, reject) => {
        const onDelivery = () => {
          if (deliveries.length < n) return;
          cleanup();
          resolve(deliveries);
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`only ${deliveries.length} of ${n} callbacks arrived in ${timeoutMs} ms`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          events.off('delivery', onDelivery);
        };
        events.on('delivery', onDelivery);
      });
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export type Receiver = Awaited<ReturnType<typeof startReceiver>>;
