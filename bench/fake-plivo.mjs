// A minimal, fast stand-in for Plivo's Transfer endpoint, for benchmarks: 202 after an
// optional latency, the receive time of every request, and a rate limit: 429 with
// `Retry-After: 1` when more than `limit.max` requests (refused ones included) arrived in the
// trailing `limit.windowMs`. `limitPerSecond: N` is `limit: { max: N, windowMs: 1000 }`;
// Plivo's own account limit is `limit: { max: 300, windowMs: 5000 }`. No limit by default.
// `jitterMs` adds a uniform random 0…jitterMs to each answer's latency.
import http from 'node:http';

export async function startFakePlivo({ latencyMs = 0, jitterMs = 0, limitPerSecond = Infinity, limit } = {}) {
  const { max, windowMs } = limit ?? { max: limitPerSecond, windowMs: 1000 };
  const received = []; // [receivedAtMs, callUuid, status]
  const window = [];
  const server = http.createServer((req, res) => {
    const at = performance.timeOrigin + performance.now();
    const callUuid = /\/Call\/([^/]+)\/$/.exec(req.url ?? '')?.[1] ?? '';
    req.resume();
    req.on('end', () => {
      while (window.length > 0 && window[0] <= at - windowMs) window.shift();
      window.push(at);
      const status = window.length > max ? 429 : 202;
      received.push([at, callUuid, status]);
      const send = () => {
        res.writeHead(status, {
          'content-type': 'application/json',
          ...(status === 429 ? { 'retry-after': '1' } : {}),
        });
        res.end(status === 202 ? '{"message":"call transferred","api_id":"bench"}' : '{"error":"too many requests"}');
      };
      const delay = latencyMs + (jitterMs > 0 ? Math.random() * jitterMs : 0);
      if (delay > 0) setTimeout(send, delay);
      else send();
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    received,
    reset: () => (received.length = 0),
    stop: () => new Promise((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  };
}
