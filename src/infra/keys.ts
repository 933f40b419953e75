/**
 * Every Redis key holdq writes, in one place. All start with QUEUE_PREFIX, so with
 * a `{holdq}` prefix they share one Redis Cluster slot with BullMQ's own keys and
 * multi-key scripts stay legal.
 */
/** Call state outlives any real call (Plivo's conference time limit is 24 h). */
export const CALL_TTL_SECONDS = 2 * 24 * 3600;

/** How many events the stream keeps (EVENTS_RETENTION) unless told. */
export const DEFAULT_EVENTS_RETENTION = 100_000;

export interface Keys {
  prefix: string;
  /** The event stream's length: scripts trim it to about this many entries as they write (EVENTS_RETENTION). */
  eventsMax: number;
  /** The event stream (SPEC §8): every script that changes a call or a queue writes its events here. */
  events(): string;
  intent(id: string): string;
  idempotency(client: string, keyHash: string): string;
  call(callUuid: string): string;
  pending(callUuid: string): string;
  lock(callUuid: string): string;
  deadLetters(): string;
  /** A queue's members, scored by priority then enqueue time (service order). */
  queue(name: string): string;
  /** The same members scored by enqueue time alone, for the oldest wait. */
  queueTimes(name: string): string;
  /** What a queue knows of its past, for the estimated wait (lua/includes/queue-events.lua): a hash. */
  queueStats(name: string): string;
  /** How a queue's callers left (answered, abandoned, …), by time, for its service level: a sorted set. */
  queueOutcomes(name: string): string;
  /** A queue's callback members (SPEC §10), scored by when they may next be offered (ms; 0: now). */
  queueCallbacks(name: string): string;
  /** Every queue name holdq knows (a sorted set of equal scores: name order, for listing page by page). */
  queueIndex(): string;
  /** The same names scored by when their membership last changed (ms), to forget queues left empty. */
  queueActivity(): string;
  /** Before queue names were indexed: a plain set of them, read once at start and then removed. */
  legacyQueues(): string;
  /** Calls on hold, scored by when the hold began. */
  onHold(): string;
  /** A client's count of intents posted in one second (the per-client rate limit). */
  intentRate(client: string, second: number): string;
  /** Every accepted intent not yet finished, scored by acceptance time (the job sweeper reads it). */
  unfinished(): string;
  plivoRate(): string;
  /** The reconciler's lease (lua/lease.lua): which worker lists the account's live calls. */
  reconcileLease(): string;
  /** A class's turns (a hash: 'vt', the turn being served, and 'c:<client>', each client's last; lua/accept.lua). */
  fair(cls: string): string;
  /** A class's unfinished intents, by acceptance time: when none are left, its turns start again. */
  fairOpen(cls: string): string;
}

/**
 * A wallboard session (api/wallboard-sessions.ts), by the SHA-256 of its cookie's id: a string of
 * JSON with a TTL. Sessions are not an account's (a person signs in before holdq knows which
 * account the key is of), so they sit under QUEUE_PREFIX itself, beside the accounts' namespaces.
 */
export const wallboardSessionKey = (prefix: string, idHash: string) => `${prefix}:wallboard:session:${idHash}`;
/** Failed wallboard sign-ins from one address in one minute (the sign-in's rate limit). */
export const wallboardSignInFailuresKey = (prefix: string, address: string, minute: number) =>
  `${prefix}:wallboard:signin-failures:${address}:${minute}`;

export function createKeys(prefix: string, eventsMax = DEFAULT_EVENTS_RETENTION): Keys {
  return {
    prefix,
    eventsMax,
    events: () => `${prefix}:events`,
    intent: (id) => `${prefix}:intent:${id}`,
    idempotency: (client, keyHash) => `${prefix}:idem:${client}:${keyHash}`,
    call: (callUuid) => `${prefix}:call:${callUuid}`,
    pending: (callUuid) => `${prefix}:call:${callUuid}:pending`,
    lock: (callUuid) => `${prefix}:call:${callUuid}:lock`,
    deadLetters: () => `${prefix}:dead`,
    queue: (name) => `${prefix}:queue:${name}`,
    queueTimes: (name) => `${prefix}:queue:${name}:since`,
    queueStats: (name) => `${prefix}:queue:${name}:stats`,
    queueOutcomes: (name) => `${prefix}:queue:${name}:outcomes`,
    queueCallbacks: (name) => `${prefix}:queue:${name}:callbacks`,
    queueIndex: () => `${prefix}:queue-index`,
    queueActivity: () => `${prefix}:queue-activity`,
    legacyQueues: () => `${prefix}:queues`,
    onHold: () => `${prefix}:onhold`,
    unfinished: () => `${prefix}:unfinished`,
    intentRate: (client, second) => `${prefix}:ratelimit:intents:${client}:${second}`,
    plivoRate: () => `${prefix}:rate:plivo`,
    reconcileLease: () => `${prefix}:reconcile:lease`,
    fair: (cls) => `${prefix}:fair:${cls}`,
    fairOpen: (cls) => `${prefix}:fair:${cls}:open`,
  };
}
