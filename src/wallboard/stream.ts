import { EVENT_TYPES } from '../domain/event-types.js';
import type { HoldqEvent } from './board.js';

export type StreamState = 'connecting' | 'live' | 'reconnecting';

export interface StreamHandlers {
  event(e: HoldqEvent): void;
  /** The stream (re)opened after a gap, or holdq said `reset`: what the board shows may be stale. */
  stale(): void;
  state(s: StreamState): void;
  /** The browser gave up on the stream (a refused reconnection: the API answered other than 200). */
  closed(): void;
}

/**
 * GET /v1/events through EventSource, which reconnects by itself and sends Last-Event-ID, so
 * nothing is missed across an API restart. When it gives up (an answer other than 200, e.g. a 503
 * while the API drains, or a 401 once the session is over) `closed` decides what next, and
 * `reopen` starts a new one, resuming after the last id seen (last_event_id: a new EventSource
 * sends no Last-Event-ID).
 */
export function openStream(handlers: StreamHandlers) {
  let source: EventSource | null = null;
  let lastId = '';
  let everOpen = false;
  let gap = false;

  const onEvent = (m: MessageEvent<string>) => {
    if (m.lastEventId) lastId = m.lastEventId;
    try {
      handlers.event(JSON.parse(m.data) as HoldqEvent);
    } catch {
      // Not JSON: nothing a board can show.
    }
  };

  function open() {
    const url = lastId ? `/v1/events?last_event_id=${encodeURIComponent(lastId)}` : '/v1/events';
    const es = new EventSource(url);
    source = es;
    handlers.state(everOpen ? 'reconnecting' : 'connecting');
    es.onopen = () => {
      handlers.state('live');
      if (!everOpen || gap) handlers.stale();
      everOpen = true;
      gap = false;
    };
    es.onerror = () => {
      gap = true;
      handlers.state('reconnecting');
      if (es.readyState === EventSource.CLOSED) {
        es.close();
        if (source === es) source = null;
        handlers.closed();
      }
    };
    // EventSource delivers each type only to its own listener: one for every type of GET /v1/events.
    for (const type of EVENT_TYPES) es.addEventListener(type, onEvent);
    es.addEventListener('reset', (m: MessageEvent<string>) => {
      if (m.lastEventId) lastId = m.lastEventId;
      handlers.stale();
    });
  }

  open();
  return {
    /** A new EventSource after the last one gave up (see `closed`). */
    reopen() {
      if (!source) open();
    },
    close() {
      source?.close();
      source = null;
    },
  };
}
