import type { HeldCall, QueueDetail } from './api.js';
import { duration, percent, timeOfDay } from './format.js';

/** An event's data (SPEC §8): `type` and `at`, and the fields of its type. */
export interface HoldqEvent {
  type: string;
  at: string;
  call_uuid?: string;
  queue?: string;
  intent_type?: string;
  client?: string;
  reason?: string;
  position?: number;
  wait_seconds?: number;
  legs?: string;
  attempt?: number;
  number?: string;
  error?: { code?: string };
}

/** A queue's service-level target until its first snapshot says its own (the usual 80/20 of contact centres). */
const DEFAULT_SERVICE_LEVEL_TARGET = 0.8;
const EVENTS_SHOWN = 14;
/**
 * Routine steps are left off the list, which has room for few lines: an intent accepted or
 * completed (the change it makes shows as its own call.* or queue.* event) and a caller moving up
 * a place (the count says it). A failed or superseded intent stays.
 */
const UNLISTED = new Set(['intent.accepted', 'intent.completed', 'queue.position']);
const HELD_SHOWN = 10;

interface QueueState {
  name: string;
  /** Waiting callers: call UUID → when they joined (this browser's clock). */
  members: Map<string, number>;
  estimated: number | null;
  threshold: number | null;
  ratio: number | null;
  /** Its service_level_target: at or above it, the service level is on target. */
  target: number;
  answered: number;
  abandoned: number | null;
}

interface Card {
  root: HTMLElement;
  waiting: HTMLElement;
  oldest: HTMLElement;
  estimated: HTMLElement;
  serviceLevel: HTMLElement;
  serviceSub: HTMLElement;
  abandoned: HTMLElement;
}

/** Elements by tag, class and text: the board never writes HTML, since names and ids come from clients. */
function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls = '', text = ''): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text) e.textContent = text;
  return e;
}

function figure(parent: HTMLElement, label: string, field: string): HTMLElement {
  const box = el('div', 'figure');
  box.append(el('dt', '', label));
  const value = el('dd', 'figure-value');
  value.dataset.field = field;
  box.append(value);
  parent.append(box);
  return value;
}

function createCard(name: string): Card {
  const root = el('article', 'queue');
  root.dataset.queue = name;
  root.append(el('h3', 'queue-name', name));
  const big = el('div', 'waiting');
  const waiting = el('span', 'waiting-count');
  waiting.dataset.field = 'waiting';
  big.append(waiting, el('span', 'waiting-label', 'waiting'));
  root.append(big);
  const dl = el('dl', 'figures');
  const oldest = figure(dl, 'Oldest wait', 'oldest');
  const estimated = figure(dl, 'Est. wait', 'estimated');
  const serviceLevel = figure(dl, 'Service level', 'service-level');
  const serviceSub = el('dd', 'figure-sub');
  serviceLevel.parentElement!.append(serviceSub);
  const abandoned = figure(dl, 'Abandoned', 'abandoned');
  root.append(dl);
  return { root, waiting, oldest, estimated, serviceLevel, serviceSub, abandoned };
}

/** What an event says beyond its type, call and queue. */
function detail(e: HoldqEvent): string {
  if (e.reason) return e.wait_seconds !== undefined ? `${e.reason} after ${duration(e.wait_seconds)}` : e.reason;
  if (e.position !== undefined) return `position ${e.position}`;
  if (e.error?.code) return e.error.code;
  if (e.attempt !== undefined) return `attempt ${e.attempt}${e.number ? ` · ${e.number}` : ''}`;
  if (e.legs) return e.legs;
  if (e.intent_type) return e.intent_type + (e.client ? ` · ${e.client}` : '');
  return '';
}

export function createBoard(dom: {
  queues: HTMLElement;
  noQueues: HTMLElement;
  held: HTMLElement;
  heldCount: HTMLElement;
  heldMore: HTMLElement;
  events: HTMLElement;
}) {
  const queues = new Map<string, QueueState>();
  const cards = new Map<string, Card>();
  const held = new Map<string, { since: number; legs: string | null }>();
  let heldMore = false;
  const events: HoldqEvent[] = [];
  let eventsChanged = true;

  const queue = (name: string): QueueState => {
    let q = queues.get(name);
    if (!q) {
      q = {
        name,
        members: new Map(),
        estimated: null,
        threshold: null,
        ratio: null,
        target: DEFAULT_SERVICE_LEVEL_TARGET,
        answered: 0,
        abandoned: null,
      };
      queues.set(name, q);
    }
    return q;
  };
  const at = (e: HoldqEvent) => Math.min(Date.now(), Date.parse(e.at) || Date.now());

  function renderQueues(now: number) {
    const names = [...queues.keys()].sort();
    dom.noQueues.hidden = names.length > 0;
    for (const [name, card] of cards)
      if (!queues.has(name)) {
        card.root.remove();
        cards.delete(name);
      }
    for (const name of names) {
      const q = queues.get(name)!;
      let card = cards.get(name);
      if (!card) cards.set(name, (card = createCard(name)));
      dom.queues.append(card.root); // in name order: a card keeps its place on the wall
      const oldest = q.members.size > 0 ? (now - Math.min(...q.members.values())) / 1000 : null;
      card.waiting.textContent = String(q.members.size);
      card.oldest.textContent = duration(oldest);
      card.estimated.textContent = duration(q.estimated);
      card.serviceLevel.textContent = percent(q.ratio);
      card.serviceSub.textContent =
        q.threshold === null ? '' : `answered in ${q.threshold} s · target ${percent(q.target)}`;
      card.abandoned.textContent = percent(q.abandoned);
      const status = q.ratio === null ? 'none' : q.ratio >= q.target ? 'ok' : 'bad';
      card.root.dataset.serviceLevel = status;
      card.root.classList.toggle('has-callers', q.members.size > 0);
      card.oldest.classList.toggle('late', q.threshold !== null && oldest !== null && oldest > q.threshold);
    }
  }

  function renderHeld(now: number) {
    const calls = [...held.entries()].sort((a, b) => a[1].since - b[1].since);
    dom.heldCount.textContent = heldMore ? `${calls.length}+` : String(calls.length);
    const items = calls.slice(0, HELD_SHOWN).map(([uuid, h]) => {
      const li = el('li', 'held-call');
      li.dataset.call = uuid;
      li.append(el('span', 'held-id', uuid), el('span', 'held-time', duration((now - h.since) / 1000)));
      if (h.legs && h.legs !== 'aleg') li.append(el('span', 'held-legs', h.legs));
      return li;
    });
    dom.held.replaceChildren(...items);
    const more = calls.length - items.length;
    dom.heldMore.hidden = more <= 0 && !heldMore;
    dom.heldMore.textContent = `and ${more}${heldMore ? '+' : ''} more`;
  }

  function renderEvents() {
    if (!eventsChanged) return;
    eventsChanged = false;
    dom.events.replaceChildren(
      ...events.map((e) => {
        const li = el('li', 'event');
        li.dataset.type = e.type;
        li.dataset.kind = e.type.split('.')[0]!;
        li.append(
          el('span', 'event-time', timeOfDay(e.at)),
          el('span', 'event-type', e.type),
          el('span', 'event-call', e.call_uuid ?? ''),
          el('span', 'event-queue', e.queue ?? ''),
          el('span', 'event-detail', detail(e)),
        );
        return li;
      }),
    );
  }

  return {
    /** Replaces what the board knows with a snapshot of the API's state (the answers just read). */
    snapshot(details: QueueDetail[], calls: { items: HeldCall[]; more: boolean }) {
      const now = Date.now();
      queues.clear();
      for (const d of details) {
        const q = queue(d.name);
        for (const m of d.members) q.members.set(m.call_uuid, now - m.wait_seconds * 1000);
        q.estimated = d.estimated_wait_seconds;
        q.threshold = d.service_level.threshold_seconds;
        q.ratio = d.service_level.ratio;
        q.target = d.service_level.target;
        q.answered = d.service_level.answered;
        q.abandoned = d.abandoned_ratio;
      }
      held.clear();
      for (const c of calls.items) held.set(c.call_uuid, { since: now - c.held_seconds * 1000, legs: c.held_legs });
      heldMore = calls.more;
    },

    /** One event of the stream: the board follows it until the next snapshot corrects any drift. */
    apply(e: HoldqEvent) {
      if (!UNLISTED.has(e.type)) {
        events.unshift(e);
        events.length = Math.min(events.length, EVENTS_SHOWN);
        eventsChanged = true;
      }
      const uuid = e.call_uuid;
      if (!uuid) return;
      switch (e.type) {
        case 'queue.joined':
          queue(e.queue!).members.set(uuid, at(e));
          held.delete(uuid);
          break;
        case 'queue.left':
          queues.get(e.queue!)?.members.delete(uuid);
          break;
        case 'call.held':
          held.set(uuid, { since: at(e), legs: e.legs ?? null });
          break;
        case 'call.unheld':
        case 'call.bridged':
        case 'call.ended':
          held.delete(uuid);
          if (e.type === 'call.ended') for (const q of queues.values()) q.members.delete(uuid);
          break;
      }
    },

    clear() {
      queues.clear();
      held.clear();
      events.length = 0;
      eventsChanged = true;
    },

    render() {
      const now = Date.now();
      renderQueues(now);
      renderHeld(now);
      renderEvents();
    },
  };
}

export type Board = ReturnType<typeof createBoard>;
