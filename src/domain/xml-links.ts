/**
 * Where holdq serves the Plivo XML its transfers point at (docs/plivo.md): the routes the API
 * defines (api/xml-routes.ts mounts them) and the links the worker puts in Transfer requests,
 * built from the same paths. Pure.
 */
export const XML_MOUNT = '/plivo/xml';

/** The documents, as routes under XML_MOUNT. */
export const XML_ROUTES = {
  hold: '/hold',
  park: '/park',
  bridge: '/bridge/:room',
  queue: '/queue/:name',
  /** The waiting room's call-back offer: <GetDigits>'s action (SPEC §10). */
  callbackOffer: '/callback/offer/:name',
  /** What a caller hears once a callback intent made it a callback member: the number, masked, then goodbye. */
  callbackConfirmed: '/callback/confirmed/:name',
  /** The agent's room while holdq calls the customer back. */
  connecting: '/connecting/:room',
  /** Make Call's answer_url: the customer picked up. */
  callbackAnswer: '/callback/answer/:name',
  /** Where an agent waits when the dequeue that moved it found nobody left to connect. */
  idle: '/idle',
} as const;

/** Plivo's callbacks, under the account's mount (api/event-routes.ts). */
export const EVENT_ROUTES = {
  hangup: '/hangup',
  /** Make Call's hangup_url: the call-back attempt ended (answered or not). */
  callbackHangup: '/callback-hangup/:name',
} as const;

export interface XmlLinks {
  hold(callUuid: string, profile: string): string;
  park(callUuid: string): string;
  bridge(room: string): string;
  queue(name: string, callUuid: string): string;
  callbackOffer(name: string, callUuid: string): string;
  callbackConfirmed(name: string, callUuid: string): string;
  connecting(room: string): string;
  callbackAnswer(name: string, callUuid: string, attempt: number): string;
  callbackHangup(name: string, callUuid: string, attempt: number): string;
  idle(): string;
}

/**
 * Links to holdq's documents on PUBLIC_BASE_URL, for the account whose Plivo routes are at `mount`
 * (domain/account.ts, plivoMount: `/plivo` for the default account): the path names the account,
 * so holdq knows whose token signs Plivo's fetch.
 */
export function createXmlLinks(publicBaseUrl: string, mount = '/plivo'): XmlLinks {
  const root = `${publicBaseUrl.replace(/\/+$/, '')}${mount}`;
  const base = `${root}${XML_MOUNT.slice('/plivo'.length)}`;
  const q = (params: Record<string, string>) => new URLSearchParams(params).toString();
  const path = (route: string, param: string) => route.replace(/:\w+$/, encodeURIComponent(param));
  return {
    hold: (callUuid, profile) => `${base}${XML_ROUTES.hold}?${q({ call: callUuid, music: profile })}`,
    park: (callUuid) => `${base}${XML_ROUTES.park}?${q({ call: callUuid })}`,
    bridge: (room) => `${base}${path(XML_ROUTES.bridge, room)}`,
    queue: (name, callUuid) => `${base}${path(XML_ROUTES.queue, name)}?${q({ call: callUuid })}`,
    callbackOffer: (name, callUuid) => `${base}${path(XML_ROUTES.callbackOffer, name)}?${q({ call: callUuid })}`,
    callbackConfirmed: (name, callUuid) =>
      `${base}${path(XML_ROUTES.callbackConfirmed, name)}?${q({ call: callUuid })}`,
    connecting: (room) => `${base}${path(XML_ROUTES.connecting, room)}`,
    callbackAnswer: (name, callUuid, attempt) =>
      `${base}${path(XML_ROUTES.callbackAnswer, name)}?${q({ call: callUuid, attempt: String(attempt) })}`,
    callbackHangup: (name, callUuid, attempt) =>
      `${root}/events${path(EVENT_ROUTES.callbackHangup, name)}?${q({ call: callUuid, attempt: String(attempt) })}`,
    idle: () => `${base}${XML_ROUTES.idle}`,
  };
}
