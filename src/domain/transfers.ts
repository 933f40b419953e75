import type { CallEffect, CallState } from './call.js';
import type { HttpMethod, IntentError, IntentInput, Legs } from './intent.js';
import type { XmlLinks } from './xml-links.js';

/**
 * Plivo hangs a call up on its 71st transfer ("Loop detected"): holdq counts them per call and
 * keeps TRANSFER_BUDGET below this (docs/plivo.md).
 */
export const PLIVO_TRANSFER_CAP = 70;

/** One request to Plivo's Transfer a call API (docs/plivo.md). */
export interface TransferRequest {
  call_uuid: string;
  legs: Legs;
  aleg_url?: string;
  aleg_method?: HttpMethod;
  bleg_url?: string;
  bleg_method?: HttpMethod;
}

/** The bridge room that reunites the parties of one call. */
export const bridgeRoom = (callUuid: string) => `holdq-${callUuid}`;

export type TransferPlan =
  { ok: true; transfers: TransferRequest[]; effect: CallEffect } | { ok: false; error: IntentError };

export interface PlanContext {
  links: XmlLinks;
  /** The music profile of a hold that names none. */
  defaultMusicProfile: string;
  /** For dequeue: the caller taken from the queue. */
  member?: string | null;
}

/**
 * Maps an intent to the Transfer requests it needs, given what holdq knows of the call.
 * Pure: no I/O, so every rule here is tested directly.
 */
export function planTransfers(intent: IntentInput, call: CallState, ctx: PlanContext): TransferPlan {
  const { links } = ctx;
  switch (intent.type) {
    case 'hold': {
      // A bridged call is held with legs=both in ONE request: moving the A leg alone
      // would end the <Dial> and drop the agent (plivo-node#61).
      const music = links.hold(intent.call_uuid, intent.music ?? ctx.defaultMusicProfile);
      const park = links.park(intent.call_uuid);
      const t: TransferRequest = { call_uuid: intent.call_uuid, legs: intent.legs };
      if (intent.legs !== 'bleg') Object.assign(t, { aleg_url: music, aleg_method: 'POST' });
      if (intent.legs !== 'aleg') Object.assign(t, { bleg_url: park, bleg_method: 'POST' });
      return ok([t], { state: 'on_hold', queue: null, held_legs: intent.legs });
    }
    case 'unhold': {
      // A hold whose outcome holdq could not learn (state unknown) may be undone too: it kept the legs it would have held.
      if ((call.state !== 'on_hold' && call.state !== 'unknown') || !call.held_legs) {
        return fail('not_on_hold', `call ${intent.call_uuid} is not on hold (state: ${call.state ?? 'unknown'})`);
      }
      const bridge = links.bridge(bridgeRoom(intent.call_uuid));
      // Once moved, each leg is a call of its own for Plivo, so each is moved by its own UUID.
      const moves: string[] = [];
      if (call.held_legs !== 'bleg') moves.push(intent.call_uuid);
      if (call.held_legs !== 'aleg') {
        if (!call.bleg_uuid) {
          return fail(
            'bleg_unknown',
            `the B leg of call ${intent.call_uuid} never fetched the park XML, so its UUID is unknown; holdq will not guess`,
          );
        }
        moves.push(call.bleg_uuid);
      }
      const transfers = moves.map((uuid) => ({
        call_uuid: uuid,
        legs: 'aleg' as const,
        aleg_url: bridge,
        aleg_method: 'POST' as const,
      }));
      return ok(transfers, { state: 'bridged', queue: null, held_legs: null });
    }
    case 'enqueue': {
      const room = links.queue(intent.queue, intent.call_uuid);
      return ok([{ call_uuid: intent.call_uuid, legs: 'aleg', aleg_url: room, aleg_method: 'POST' }], {
        state: 'queued',
        queue: intent.queue,
        held_legs: null,
        priority: intent.priority,
      });
    }
    case 'dequeue': {
      if (!ctx.member) return fail('queue_empty', `queue ${intent.queue} has no waiting caller`);
      // The caller moves first: if it hung up (404) the agent is untouched and the next caller is tried.
      const bridge = links.bridge(bridgeRoom(ctx.member));
      return ok(
        [
          { call_uuid: ctx.member, legs: 'aleg', aleg_url: bridge, aleg_method: 'POST' },
          { call_uuid: intent.agent_call_uuid, legs: 'aleg', aleg_url: bridge, aleg_method: 'POST' },
        ],
        { state: 'bridged', queue: null, held_legs: null },
      );
    }
    case 'callback': {
      // The caller hears its number (masked) and is hung up; it keeps its place as a callback member.
      const confirmed = links.callbackConfirmed(intent.queue, intent.call_uuid);
      return ok([{ call_uuid: intent.call_uuid, legs: 'aleg', aleg_url: confirmed, aleg_method: 'POST' }], {
        state: 'callback',
        queue: intent.queue,
        held_legs: null,
      });
    }
    case 'transfer': {
      const t: TransferRequest = { call_uuid: intent.call_uuid, legs: intent.legs };
      if (intent.legs !== 'bleg') Object.assign(t, { aleg_url: intent.aleg_url, aleg_method: intent.aleg_method });
      if (intent.legs !== 'aleg') Object.assign(t, { bleg_url: intent.bleg_url, bleg_method: intent.bleg_method });
      return ok([t], { state: 'transferred', queue: null, held_legs: null });
    }
  }
}

/** A URL's host is allowed when the list names it, with or without its port. */
export function hostAllowed(url: string, allowedHosts: readonly string[]): boolean {
  const u = new URL(url);
  return allowedHosts.some(
    (h) => h.toLowerCase() === u.host.toLowerCase() || h.toLowerCase() === u.hostname.toLowerCase(),
  );
}

/** Hosts a `transfer` intent may send a call to; returns the offending fields. */
export function disallowedTransferUrls(intent: IntentInput, allowedHosts: readonly string[]): string[] {
  if (intent.type !== 'transfer') return [];
  return (['aleg_url', 'bleg_url'] as const).filter((field) => {
    const url = intent[field];
    return url !== undefined && !hostAllowed(url, allowedHosts);
  });
}

const ok = (transfers: TransferRequest[], effect: CallEffect): TransferPlan => ({ ok: true, transfers, effect });
const fail = (code: IntentError['code'], message: string): TransferPlan => ({ ok: false, error: { code, message } });
