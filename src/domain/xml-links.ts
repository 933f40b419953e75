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
} as const;

export interface XmlLinks {
  hold(callUuid: string, profile: string): string;
  park(callUuid: string): string;
  bridge(room: string): string;
  queue(name: string, callUuid: string): string;
}

/**
 * Links to holdq's documents on PUBLIC_BASE_URL, for the account whose Plivo routes are at `mount`
 * (domain/account.ts, plivoMount: `/plivo` for the default account): the path names the account,
 * so holdq knows whose token signs Plivo's fetch.
 */
export function createXmlLinks(publicBaseUrl: string, mount = '/plivo'): XmlLinks {
  const base = `${publicBaseUrl.replace(/\/+$/, '')}${mount}${XML_MOUNT.slice('/plivo'.length)}`;
  const q = (params: Record<string, string>) => new URLSearchParams(params).toString();
  const path = (route: string, param: string) => route.replace(/:\w+$/, encodeURIComponent(param));
  return {
    hold: (callUuid, profile) => `${base}${XML_ROUTES.hold}?${q({ call: callUuid, music: profile })}`,
    park: (callUuid) => `${base}${XML_ROUTES.park}?${q({ call: callUuid })}`,
    bridge: (room) => `${base}${path(XML_ROUTES.bridge, room)}`,
    queue: (name, callUuid) => `${base}${path(XML_ROUTES.queue, name)}?${q({ call: callUuid })}`,
  };
}
