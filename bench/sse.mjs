// A minimal Server-Sent Events client for the bench (`GET /v1/events`): one plain node:http
// request on a socket of its own (no pool, so N streams are N TCP connections), parsed as the
// HTML standard says for what holdq sends (`id:`, `event:`, `data:` lines, `:` comments, a blank
// line ending each event). Nothing of holdq's own code is used to read it. Loopback only.
import http from 'node:http';
import { clearTimeout, setTimeout } from 'node:timers';

/**
 * Opens `url` (http://127.0.0.1:…/v1/events?…) and resolves once the answer's head arrived
 * (any status). `onEvent(e, receivedAtMs)` gets each event as { id, event, data } (data the
 * raw JSON text; parse it yourself if you need it), receivedAtMs being Date.now() when the chunk
 * holding it arrived. `onComment(text)` gets comment lines.
 */
export function openSse(url, { headers = {}, onEvent = () => {}, onComment = () => {}, timeoutMs = 15_000 } = {}) {
  return new Promise((resolve, reject) => {
    let settled = false;
    const req = http.get(url, { agent: false, headers: { accept: 'text/event-stream', ...headers } }, (res) => {
      const stream = {
        status: res.status ?? res.statusCode,
        events: 0,
        comments: 0,
        ended: false,
        error: null,
        closed: null,
        close: () => req.destroy(),
      };
      stream.closed = new Promise((r) => res.once('close', () => ((stream.ended = true), r())));
      res.on('error', (err) => (stream.error = err));
      settled = true;
      clearTimeout(timer);
      if (stream.status !== 200) {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ ...stream, body }));
        return;
      }
      res.setEncoding('utf8');
      let buf = '';
      res.on('data', (chunk) => {
        const at = Date.now();
        buf += chunk;
        let end;
        while ((end = buf.indexOf('\n\n')) !== -1) {
          const block = buf.slice(0, end);
          buf = buf.slice(end + 2);
          let id = null;
          let event = 'message';
          let data = null;
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) {
              stream.comments++;
              onComment(line.slice(1).trim());
              continue;
            }
            const colon = line.indexOf(':');
            const field = colon === -1 ? line : line.slice(0, colon);
            const value = colon === -1 ? '' : line.slice(colon + (line[colon + 1] === ' ' ? 2 : 1));
            if (field === 'id') id = value;
            else if (field === 'event') event = value;
            else if (field === 'data') data = data === null ? value : `${data}\n${value}`;
          }
          if (data !== null) {
            stream.events++;
            onEvent({ id, event, data }, at);
          }
        }
      });
      resolve(stream);
    });
    const timer = setTimeout(() => {
      if (!settled) {
        req.destroy();
        reject(new Error(`no answer from ${url} in ${timeoutMs} ms`));
      }
    }, timeoutMs);
    req.on('error', (err) => {
      clearTimeout(timer);
      if (!settled) {
        settled = true;
        reject(err);
      }
    });
  });
}

/** The Redis time (ms) of a stream id `<ms>-<seq>`: when the change was written. */
export const idMs = (id) => Number(id.slice(0, id.indexOf('-')));
