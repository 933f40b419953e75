import { eventView } from '../../src/api/responses.js';

/**
 * A Server-Sent Events client for tests: it reads a `GET /v1/events` answer as it streams (fetch's
 * body reader), parses events as the HTML standard says (id, event, data; comment lines apart),
 * and lets a test wait for what it expects. Nothing of holdq's own code is used to read it; each
 * event's data is checked against the document's Event schema (responses.ts), strictly, and a
 * wait fails on the first that does not match.
 */
export interface SseEvent {
  id: string | null;
  event: string;
  data: string;
  json: Record<string, unknown>;
}

export interface SseStream {
  status: number;
  headers: Headers;
  events: SseEvent[];
  comments: string[];
  /** Resolves once `count` events that `match` accepts have arrived (all of them, in order). */
  waitFor(match: (e: SseEvent) => boolean, count?: number, timeoutMs?: number): Promise<SseEvent[]>;
  /** Resolves when the server ends the stream. */
  ended: Promise<void>;
  close(): void;
}

export async function openStream(
  url: string,
  opts: { key?: string | null; lastEventId?: string; headers?: Record<string, string> } = {},
): Promise<SseStream> {
  const controller = new AbortController();
  const headers: Record<string, string> = { accept: 'text/event-stream', ...opts.headers };
  if (opts.key !== null) headers.authorization = `Bearer ${opts.key ?? 'test-secret-0123456789'}`;
  if (opts.lastEventId) headers['last-event-id'] = opts.lastEventId;
  const res = await fetch(url, { headers, signal: controller.signal });
  const events: SseEvent[] = [];
  const comments: string[] = [];
  const waiters = new Set<() => void>();
  const mismatches: string[] = [];
  let endedResolve!: () => void;
  const ended = new Promise<void>((r) => (endedResolve = r));

  const stream: SseStream = {
    status: res.status,
    headers: res.headers,
    events,
    comments,
    ended,
    close: () => controller.abort(),
    waitFor(match, count = 1, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (mismatches.length > 0) {
            waiters.delete(check);
            clearTimeout(timer);
            reject(new Error(`an event does not match the document: ${mismatches[0]}`));
            return;
          }
          const found = events.filter(match);
          if (found.length >= count) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(found);
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(
            new Error(
              `${events.filter(match).length} of ${count} events in ${timeoutMs} ms; the last: ${events
                .slice(-5)
                .map((e) => `${e.event} ${e.data}`)
                .join(' | ')}`,
            ),
          );
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
  };
  if (res.status !== 200 || !res.body) {
    endedResolve();
    return stream;
  }
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  void (async () => {
    let buffer = '';
    let id: string | null = null;
    let event = '';
    let data: string[] = [];
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let nl: number;
        while ((nl = buffer.indexOf('\n')) >= 0) {
          const line = buffer.slice(0, nl).replace(/\r$/, '');
          buffer = buffer.slice(nl + 1);
          if (line === '') {
            if (data.length > 0) {
              const text = data.join('\n');
              const json = JSON.parse(text) as Record<string, unknown>;
              const checked = eventView.safeParse(json);
              if (!checked.success)
                mismatches.push(
                  `${event} ${text}: ${checked.error.issues.map((x) => `${x.path.join('.')}: ${x.message}`).join('; ')}`,
                );
              else if (json.type !== (event || 'message'))
                mismatches.push(`event: ${event} carries type ${String(json.type)}`);
              events.push({ id, event: event || 'message', data: text, json });
              for (const w of [...waiters]) w();
            }
            event = '';
            data = [];
            continue;
          }
          if (line.startsWith(':')) {
            comments.push(line.slice(1).trim());
            continue;
          }
          const colon = line.indexOf(':');
          const field = colon < 0 ? line : line.slice(0, colon);
          const val = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
          if (field === 'id') id = val;
          else if (field === 'event') event = val;
          else if (field === 'data') data.push(val);
        }
      }
    } catch {
      // aborted, or the server went away
    } finally {
      endedResolve();
    }
  })();
  return stream;
}
