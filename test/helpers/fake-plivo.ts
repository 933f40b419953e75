import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeTransfer {
  /** The auth id in the request's path (/v1/Account/{auth_id}/Call/…). */
  authId: string;
  callUuid: string;
  body: Record<string, string>;
  status: number;
  startedAt: number;
  endedAt: number;
  /** When the request arrived, in ms with a fraction (performance.timeOrigin + performance.now()). */
  receivedAt: number;
}

/** Plivo's rate limit, as a fake enforces it: more than `max` requests in the trailing `windowMs` (refused ones included) get a 429. */
export interface FakeLimit {
  max: number;
  windowMs: number;
}

/**
 * A small stand-in for Plivo's Transfer endpoint with random latency and random
 * 5xx, that notices when two transfers for one call overlap in time. With `limit`, it
 * answers 429 (`Retry-After: 1`) to a request past the limit, as Plivo does; `received`
 * holds every request's arrival time, answered or not; `setFailureRate` changes the share
 * of 5xx from now on.
 */
export async function startFakePlivo(opts: {
  latencyMs: [number, number];
  failureRate: number;
  seed?: number;
  limit?: FakeLimit;
}) {
  let seed = opts.seed ?? 42;
  let failureRate = opts.failureRate;
  const received: number[] = [];
  const window: number[] = [];
  const random = () => {
    // mulberry32: a seeded generator, so a failing run can be replayed
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const inFlight = new Map<string, number>();
  const transfers: FakeTransfer[] = [];
  const overlaps: string[] = [];
  // The live-call list (GET …/Call/?status=live): the calls given to setLive, or an error status.
  let live: string[] | number = [];
  const liveRequests: number[] = [];
  const madeCalls: {
    authId: string;
    authorization: string | null;
    contentType: string | null;
    body: Record<string, unknown>;
  }[] = [];
  const server = http.createServer((req, res) => {
    if (req.method === 'GET' && /^\/v1\/Account\/[^/]+\/Call\/\?status=live$/.test(req.url ?? '')) {
      liveRequests.push(Date.now());
      received.push(performance.timeOrigin + performance.now());
      if (typeof live === 'number') res.writeHead(live, { 'content-type': 'application/json' }).end('{"error":"fake"}');
      else
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ api_id: 'fake', calls: live }));
      return;
    }
    const match = /^\/v1\/Account\/([^/]+)\/Call\/([^/]+)\/$/.exec(req.url ?? '');
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      // Make Call (POST …/Call/): 201 "call fired"; the fake places nothing, it records the request.
      const placing = /^\/v1\/Account\/([^/]+)\/Call\/$/.exec(req.url ?? '');
      if (placing && req.method === 'POST') {
        received.push(performance.timeOrigin + performance.now());
        madeCalls.push({
          authId: decodeURIComponent(placing[1]!),
          authorization: req.headers.authorization ?? null,
          contentType: req.headers['content-type'] ?? null,
          body: JSON.parse(raw || '{}') as Record<string, unknown>,
        });
        res
          .writeHead(201, { 'content-type': 'application/json' })
          .end(JSON.stringify({ message: 'call fired', request_uuid: `fake-${madeCalls.length}`, api_id: 'fake' }));
        return;
      }
      if (!match || req.method !== 'POST') {
        res.writeHead(404).end();
        return;
      }
      const authId = decodeURIComponent(match[1]!);
      const callUuid = decodeURIComponent(match[2]!);
      const startedAt = Date.now();
      const receivedAt = performance.timeOrigin + performance.now();
      received.push(receivedAt);
      let limited = false;
      if (opts.limit) {
        while (window.length > 0 && window[0]! <= receivedAt - opts.limit.windowMs) window.shift();
        window.push(receivedAt);
        limited = window.length > opts.limit.max;
      }
      const now = (inFlight.get(callUuid) ?? 0) + 1;
      inFlight.set(callUuid, now);
      if (now > 1) overlaps.push(callUuid);
      const [lo, hi] = opts.latencyMs;
      const status = limited ? 429 : random() < failureRate ? (random() < 0.5 ? 500 : 503) : 202;
      setTimeout(
        () => {
          inFlight.set(callUuid, (inFlight.get(callUuid) ?? 1) - 1);
          transfers.push({
            authId,
            callUuid,
            body: JSON.parse(raw || '{}') as Record<string, string>,
            status,
            startedAt,
            endedAt: Date.now(),
            receivedAt,
          });
          res
            .writeHead(status, {
              'content-type': 'application/json',
              ...(status === 429 ? { 'retry-after': '1' } : {}),
            })
            .end(
              JSON.stringify(
                status === 202 ? { api_id: 'fake', message: 'call transferred' } : { error: 'fake failure' },
              ),
            );
        },
        lo + Math.floor(random() * (hi - lo)),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    transfers,
    overlaps,
    received,
    setFailureRate: (rate: number) => {
      failureRate = rate;
    },
    /** What the live-call list answers from now on: these calls, or an error status. */
    setLive: (calls: string[] | number) => {
      live = calls;
    },
    /** When each live-call list request came (ms). */
    liveRequests,
    /** Make Call requests, as they came. */
    madeCalls,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
