/**
 * Every event type of GET /v1/events (SPEC §8; the names are fixed). Pure and import-free: the
 * API's event stream and the wallboard page (built by Vite for the browser) both read it.
 */
export const EVENT_TYPES = [
  'intent.accepted',
  'intent.completed',
  'intent.failed',
  'intent.superseded',
  'call.held',
  'call.unheld',
  'call.bridged',
  'call.ended',
  'queue.joined',
  'queue.position',
  'queue.left',
  'callback.requested',
  'callback.dialing',
  'callback.connected',
  'callback.failed',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];
