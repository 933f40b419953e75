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
  parts.push(element('Play', { loop: 1 }, escapeXml(room.musicUrl)));
  parts.push(element('Redirect', { method: 'POST' }, escapeXml(room.selfUrl)));
  return response(...parts);
}

/** What a leg hears when holdq has nothing better for it (an unknown queue room, say): an optional word, then a hangup. */
export function hangupXml(reason?: string): string {
  return response(...(reason ? [element('Speak', {}, escapeXml(reason))] : []), element('Hangup', {}));
}
