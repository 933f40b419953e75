/**
 * Pure builders for the Plivo XML documents that holdq's transfers point at.
 * Every text and attribute value goes through `escapeXml`, so the output is
 * well-formed whatever a caller managed to put in a URL or a name.
 */

const XML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };

/** Escapes text and attribute values, and drops characters XML 1.0 cannot carry at all. */
export function escapeXml(value: string): string {
  return value
    .replace(/[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, '')
    .replace(/[&<>"']/g, (c) => XML_ESCAPES[c] ?? c);
}

type Attrs = Record<string, string | number | boolean | undefined>;

function element(name: string, attrs: Attrs, body = ''): string {
  const rendered = Object.entries(attrs)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => ` ${k}="${escapeXml(String(v))}"`)
    .join('');
  return body === '' ? `<${name}${rendered}/>` : `<${name}${rendered}>${body}</${name}>`;
}

const response = (...children: string[]) =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<Response>${children.join('')}</Response>\n`;

/** Hold music: `loop="0"` is "forever" in Plivo's engine, so the leg stays here until the next transfer. */
export function holdXml(musicUrl: string): string {
  return response(element('Play', { loop: 0 }, escapeXml(musicUrl)));
}

/**
 * The parked agent (B) leg: silence that never ends, so the agent stays connected
 * while the caller hears music. The Redirect re-fetches this document, which keeps
 * the leg alive without relying on how long a single <Wait> may be.
 */
export function parkXml(selfUrl: string, waitSeconds = 300): string {
  return response(
    element('Wait', { length: waitSeconds }),
    element('Redirect', { method: 'POST' }, escapeXml(selfUrl)),
  );
}

/**
 * The per-call bridge that reunites two legs. Both members start the conference
 * and either one leaving ends it, so nobody is left alone in a room.
 */
export function bridgeXml(room: string, opts: { callbackUrl?: string } = {}): string {
  return response(
    element(
      'Conference',
      {
        startConferenceOnEnter: true,
        endConferenceOnExit: true,
        stayAlone: false,
        maxMembers: 2,
        callbackUrl: opts.callbackUrl,
        callbackMethod: opts.callbackUrl ? 'POST' : undefined,
      },
      escapeXml(room),
    ),
  );
}

export interface QueueRoom {
  musicUrl: string;
  selfUrl: string;
  /** The call-back offer (SPEC §10): pressing 1 during the pass posts to this URL. */
  callbackOfferUrl?: string;
  /** 1 = served next; omitted when unknown or when announcements are off. */
  position?: number;
  /** The caller's estimated wait in seconds (announce_wait); omitted when holdq has none. */
  waitSeconds?: number;
  announcement?: string;
}

/** An estimated wait as a caller hears it: "less than a minute", "about 1 minute", "about N minutes". */
export function spokenWait(seconds: number): string {
  if (seconds < 60) return 'less than a minute';
  const minutes = Math.round(seconds / 60);
  return minutes === 1 ? 'about 1 minute' : `about ${minutes} minutes`;
}

/**
 * A queue's waiting room: an optional announcement and position, one pass of
 * the music, then a Redirect back to itself, so every loop re-reads the queue
 * and the position stays current (the same trick as Twilio's waitUrl).
 */
export function queueXml(room: QueueRoom): string {
  const parts: string[] = [];
  if (room.announcement) parts.push(element('Speak', {}, escapeXml(room.announcement)));
  if (room.position !== undefined) {
    const text = room.position === 1 ? 'You are next in line.' : `You are number ${room.position} in line.`;
    parts.push(element('Speak', {}, text));
  }
  if (room.waitSeconds !== undefined)
    parts.push(element('Speak', {}, `Your estimated wait is ${spokenWait(room.waitSeconds)}.`));
  const music = element('Play', { loop: 1 }, escapeXml(room.musicUrl));
  if (room.callbackOfferUrl) {
    // The offer, then the music, inside one <GetDigits>: a caller may press 1 at any time of the pass.
    parts.push(
      element(
        'GetDigits',
        {
          action: room.callbackOfferUrl,
          method: 'POST',
          numDigits: 1,
          validDigits: CALLBACK_DIGIT,
          timeout: 1,
          retries: 1,
          redirect: true,
        },
        element('Speak', {}, CALLBACK_OFFER) + music,
      ),
    );
  } else parts.push(music);
  parts.push(element('Redirect', { method: 'POST' }, escapeXml(room.selfUrl)));
  return response(...parts);
}

/** The key a waiting caller presses for a call back, and what it hears about it. */
export const CALLBACK_DIGIT = '1';
export const CALLBACK_OFFER =
  'To hang up and be called back when it is your turn, without losing your place in line, press 1.';

/** Digits spoken one by one, so a text-to-speech engine reads "0 1 0 0", not "one hundred". */
const spokenDigits = (digits: string) => digits.split('').join(' ');

/** A caller who asked for a call back: the number it will be called at (its last 4 digits), then the line closes. */
export function callbackConfirmedXml(lastDigits: string): string {
  return response(
    element(
      'Speak',
      {},
      `Thank you. We will call you back at the number ending in ${spokenDigits(lastDigits)} when it is your turn. You keep your place in line. Goodbye.`,
    ),
    element('Hangup', {}),
  );
}

/**
 * The agent's room while holdq calls a customer back: a word, then the conference the customer
 * joins on answering. Not `stayAlone="false"`: the agent waits alone in it while the call rings.
 */
export function connectingXml(room: string): string {
  return response(
    element('Speak', {}, 'Calling back a customer who asked for it. Please hold.'),
    element('Conference', { startConferenceOnEnter: true, endConferenceOnExit: true, maxMembers: 2 }, escapeXml(room)),
  );
}

/** The customer who answered a call back: a greeting, then the agent's room. */
export function callbackAnswerXml(room: string): string {
  return bridgeXml(room).replace(
    '<Response>',
    `<Response>${element('Speak', {}, 'Hello, this is the call back you asked for. Connecting you now.')}`,
  );
}

/** An optional word, then on to `url` (back to the waiting room, say). */
export function redirectXml(url: string, message?: string): string {
  return response(
    ...(message ? [element('Speak', {}, escapeXml(message))] : []),
    element('Redirect', { method: 'POST' }, escapeXml(url)),
  );
}

/** Where an agent waits when nobody was left to connect: a word once, then silence, re-fetched. */
export function idleXml(selfUrl: string, message?: string): string {
  return response(
    ...(message ? [element('Speak', {}, escapeXml(message))] : []),
    element('Wait', { length: 300 }),
    element('Redirect', { method: 'POST' }, escapeXml(selfUrl)),
  );
}

/** What a leg hears when holdq has nothing better for it (an unknown queue room, say): an optional word, then a hangup. */
export function hangupXml(reason?: string): string {
  return response(...(reason ? [element('Speak', {}, escapeXml(reason))] : []), element('Hangup', {}));
}
