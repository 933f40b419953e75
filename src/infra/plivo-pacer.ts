import type { Redis } from 'ioredis';
import { RATE_PENALIZE, RATE_RELEASE, RATE_SLOT } from './scripts.js';
import { priorityClass, type IntentClass } from '../domain/intent-class.js';

export const WINDOW_MS = 1000;
/** The plan's least slack beyond the window (the measured answer time replaces it when longer). */
export const WINDOW_MARGIN_MS = 30;
/**
 * Releases leave in batches this often: one command for many answers instead of one each.
 * A request then counts up to this much longer than it must (later, never earlier: safe).
 */
const RELEASE_BATCH_MS = 10;

/**
 * The global pacer for Plivo requests, shared by every worker through Redis (lua/rate-*.lua and
 * lua/includes/rate-slots.lua; docs/architecture.md, "The Plivo pacer"). Time comes from Redis, so
 * workers with skewed clocks still agree; microseconds keep 1/rate exact. Two parts:
 * - the guard, which makes the cap hold where Plivo counts, at arrival: a request is
 *   admitted, at the moment it is sent, only while fewer than `rate` others may still
 *   arrive inside the trailing WINDOW_MS. A request is sure to have arrived once its
 *   answer is back, so each admitted request holds its place until it is released
 *   after the answer (or, should its worker die or Plivo not answer, until `hold` has
 *   passed). A request that waits after admission (a busy event loop, a slow network)
 *   then never crowds a second at Plivo.
 * - the plan (GCRA), which keeps the guard from being the one to say no: each request
 *   books a send time 1/rate after the last, and no planned window holds more than
 *   `rate`. The planned window is WINDOW_MS plus the time answers take (an average the
 *   releases keep, at least WINDOW_MARGIN_MS): what a place at the guard really lasts.
 *   So a burst leaves as a steady stream, in the order it was booked, at the rate the
 *   guard can admit, and requests do not crowd the guard waiting for the same place.
 * After a 429 nobody is admitted before its Retry-After has passed.
 */

/** The pacer's keys, as lua/includes/rate-slots.lua names them. */
export interface PacerKeys {
  tat: string;
  plan: string;
  sent: string;
  answer: string;
  pause: string;
  retry: string;
  line: string;
  seen: string;
  seq: string;
  /** The turns of the request's class (lua/accept.lua): a grant moves its 'vt' to the request's turn. */
  fair: string;
}

/** One request's slot, as rate-slots.lua's `p` names it. */
export interface SlotArgs {
  interval_us: number;
  max: number;
  window_us: number;
  margin_us: number;
  member: string;
  hold_us: number;
  priority: number;
  lease_us: number;
  /** The request's turn in its class (0: none). */
  turn: number;
}

/**
 * How long a request waiting in the pacer's line keeps its place without asking again: the
 * script never tells a waiter to sleep more than a second, so only a waiter whose worker is gone
 * (or stuck that long) loses it.
 */
export const LINE_LEASE_MS = 5000;
/** The priority of a request nothing ranks: the middle of the interactive class's band. */
export const DEFAULT_SLOT_PRIORITY = 2 ** 19;

/** What a slot script answered, as ms to wait (0: admitted now). */
const waitOf = (reply: { status: 'due' | 'wait'; values: unknown[] }) =>
  reply.status === 'due' ? 0 : Number(reply.values[0]);

/** Leave to send one request. Idempotent; after one of them the others do nothing. */
export interface Permit {
  /** How long the request waited for this permit, from its booking. */
  waitedMs: number;
  /** The request was sent and answered: it counts for one more window. */
  release(): void;
  /** The request will not be sent: its place is freed at once. */
  discard(): void;
  /** The request was sent but no answer came (a timeout, a broken connection): it may still be on its way, so it counts a while longer. */
  abandon(): void;
}

/** A slot for another script to book (the gate does, with rate-slots.lua): its keys, its arguments, and the wait once booked. */
export interface SlotBooking {
  keys: PacerKeys;
  args: SlotArgs;
  /** Waits out the booked slot (`waitMs`, what reserve_slot answered); resolves when the request may be sent. */
  settle(waitMs: number): Promise<Permit>;
  /** The slot will not be used: a wait still under way stops, and an admitted permit is discarded. */
  cancel(): void;
}

export interface PlivoPacer {
  /**
   * Waits for a slot; resolves when the request may be sent. `priority`: lower is served first
   * when requests wait (the intent job's BullMQ priority: its class, then its client's turn).
   */
  acquire(priority?: number): Promise<Permit>;
  /** A slot to book inside another script, saving the round trip acquire() makes. */
  booking(priority?: number): SlotBooking;
  penalize(ms: number): Promise<void>;
}

/**
 * `holdMs`: how long a request never released (its worker died, or Plivo did not answer
 * in time) keeps counting: at least the request timeout. `leaseMs`: LINE_LEASE_MS unless told.
 * `fairKey`: the key of a class's turns (Keys.fair), which a grant moves on.
 */
export function createPlivoPacer(
  redis: Redis,
  key: string,
  maxPerSecond: number,
  opts: { holdMs: number; leaseMs?: number; fairKey?: (cls: IntentClass) => string },
): PlivoPacer {
  const intervalUs = Math.ceil(1_000_000 / maxPerSecond);
  const holdUs = Math.ceil(opts.holdMs) * 1000;
  const leaseUs = Math.ceil(opts.leaseMs ?? LINE_LEASE_MS) * 1000;
  // The same keys for every booking (but the class's turns).
  const slotKeys: PacerKeys = {
    tat: key,
    plan: `${key}:window`,
    sent: `${key}:sent`,
    answer: `${key}:answer`,
    pause: `${key}:pause`,
    retry: `${key}:retry`,
    line: `${key}:line`,
    seen: `${key}:seen`,
    seq: `${key}:seq`,
    // A key of the pacer's own for requests of no class: never written (their turn is 0).
    fair: `${key}:fair`,
  };
  const fairKey = opts.fairKey ?? ((cls: IntentClass) => `${key}:fair:${cls}`);
  let seq = 0;
  const tag = Math.random().toString(36).slice(2, 10);
  let answered: string[] = [];
  let abandoned: string[] = [];
  let discarded: string[] = [];
  let flushing: NodeJS.Timeout | null = null;
  function flush() {
    flushing = null;
    const lists = [answered, abandoned, discarded];
    [answered, abandoned, discarded] = [[], [], []];
    // A lost release only makes its request count until its hold runs out: later sends
    // wait longer, none goes early.
    RATE_RELEASE.run(
      redis,
      { sent: slotKeys.sent, answer: slotKeys.answer, line: slotKeys.line, seen: slotKeys.seen },
      {
        hold_us: holdUs,
        grace_us: WINDOW_MS * 1000,
        answered: lists[0]!.length,
        abandoned: lists[1]!.length,
        rest: lists.flat(),
      },
    ).catch(() => undefined);
  }
  function later(list: string[], member: string) {
    list.push(member);
    flushing ??= setTimeout(flush, RELEASE_BATCH_MS).unref();
  }

  function permit(member: string, waitedMs: number): Permit {
    let open = true;
    return {
      waitedMs,
      release() {
        if (open) later(answered, member);
        open = false;
      },
      discard() {
        if (open) later(discarded, member);
        open = false;
      },
      abandon() {
        if (open) later(abandoned, member);
        open = false;
      },
    };
  }
  function booking(priority = DEFAULT_SLOT_PRIORITY): SlotBooking {
    const member = `${tag}:${seq++}`;
    const served = priorityClass(priority);
    const booked = performance.now();
    let cancelled = false;
    let admitted: Permit | null = null;
    let wake: (() => void) | null = null;
    const args: SlotArgs = {
      interval_us: intervalUs,
      max: maxPerSecond,
      window_us: WINDOW_MS * 1000,
      margin_us: WINDOW_MARGIN_MS * 1000,
      member,
      hold_us: holdUs,
      priority,
      lease_us: leaseUs,
      turn: served?.turn ?? 0,
    };
    const keys = served ? { ...slotKeys, fair: fairKey(served.cls) } : slotKeys;
    return {
      keys,
      args,
      async settle(waitMs) {
        // No deadline: every place at the guard frees within hold + a window, and the plan
        // spaces requests at the rate the guard admits, so a wait ends; a failed intent would not be better.
        while (waitMs > 0 && !cancelled) {
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, waitMs);
            wake = () => (clearTimeout(timer), resolve());
          });
          if (cancelled) break;
          waitMs = waitOf(await RATE_SLOT.run(redis, keys, { op: 'ask', ...args }));
        }
        admitted = permit(member, performance.now() - booked);
        if (cancelled) admitted.discard();
        return admitted;
      },
      cancel() {
        if (cancelled) return;
        cancelled = true;
        wake?.();
        // A wait under way may still hold a place in the line: the discard frees it too.
        if (admitted) admitted.discard();
        else later(discarded, member);
      },
    };
  }
  return {
    booking,
    async acquire(priority) {
      const slot = booking(priority);
      return slot.settle(waitOf(await RATE_SLOT.run(redis, slot.keys, { op: 'reserve', ...slot.args })));
    },
    async penalize(ms) {
      await RATE_PENALIZE.run(redis, { pause: slotKeys.pause, tat: slotKeys.tat }, { ms: Math.ceil(ms) });
    },
  };
}
