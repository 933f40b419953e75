import type { IntentRecord, IntentType } from './intent.js';

/**
 * When work waits for Plivo's rate, it is served by class, then fairly across clients
 * (docs/architecture.md, "Classes and fairness"). `urgent`: a person waits on the line for it
 * (take a caller to an agent, take a call off hold); `interactive`: an agent asked for it
 * (hold); `queueing`: a caller joins a queue; `bulk`: raw transfers (campaigns, re-routes).
 * API_KEY_CLASSES can put every intent of a client in one class.
 */
export const INTENT_CLASSES = ['urgent', 'interactive', 'queueing', 'bulk'] as const;
export type IntentClass = (typeof INTENT_CLASSES)[number];

const CLASS_OF: Record<IntentType, IntentClass> = {
  dequeue: 'urgent',
  unhold: 'urgent',
  hold: 'interactive',
  callback: 'interactive',
  enqueue: 'queueing',
  transfer: 'bulk',
};

export function intentClass(type: IntentType, clientClass?: IntentClass): IntentClass {
  return clientClass ?? CLASS_OF[type];
}

/** The class a record is served in: its own, or for a record from before classes, its type's. */
export function recordClass(record: Pick<IntentRecord, 'class' | 'request'>): IntentClass {
  return record.class ?? CLASS_OF[record.request.type];
}

/**
 * A class's band of BullMQ job priorities (lower runs first; BullMQ takes 1 to 2^21). Within a
 * band the priority is the intent's turn: start-time fair queuing across the class's clients
 * (lua/accept.lua), so while clients wait they are served in turn, and one client's backlog
 * never holds another's next intent back more than a turn.
 */
export const CLASS_BAND = 2 ** 19;

export function classIndex(cls: IntentClass): number {
  return INTENT_CLASSES.indexOf(cls);
}

/** The first priority of a class's band: an intent put back in line (a retry, a repair) goes to its front. */
export function classFront(cls: IntentClass): number {
  return classIndex(cls) * CLASS_BAND + 1;
}

/** A job priority's class and turn (priority 0: a job from before classes, or no intent). */
export function priorityClass(priority: number): { cls: IntentClass; turn: number } | null {
  if (!(priority > 0)) return null;
  const cls = INTENT_CLASSES[Math.floor(priority / CLASS_BAND)];
  return cls ? { cls, turn: priority % CLASS_BAND } : null;
}
