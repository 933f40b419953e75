import { describe, expect, it } from '@jest/globals';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { bridgeXml, escapeXml, hangupXml, holdXml, parkXml, queueXml, spokenWait } from '../src/domain/plivo-xml.js';

const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@' });
function parse(xml: string) {
  expect(XMLValidator.validate(xml)).toBe(true);
  return parser.parse(xml) as { Response: Record<string, unknown> };
}

const HOSTILE = `https://x.example/a.mp3?a=1&b=<script>"'</script>\u0000\u0007`;

describe('Plivo XML documents', () => {
  it('when holding, then the music plays forever with loop="0"', () => {
    const doc = parse(holdXml('https://cdn.example/hold.mp3?x=1&y=2'));
    expect(doc.Response.Play).toEqual({ '#text': 'https://cdn.example/hold.mp3?x=1&y=2', '@loop': '0' });
  });

  it('when parking the agent leg, then it waits and redirects to itself so it never hangs up', () => {
    const doc = parse(parkXml('https://holdq.example/plivo/xml/park?call=abc'));
    expect(doc.Response.Wait).toEqual({ '@length': '300' });
    expect(doc.Response.Redirect).toEqual({
      '#text': 'https://holdq.example/plivo/xml/park?call=abc',
      '@method': 'POST',
    });
  });

  it('when bridging, then both parties start the conference and leaving ends it', () => {
    const doc = parse(bridgeXml('holdq-abc'));
    expect(doc.Response.Conference).toMatchObject({
      '#text': 'holdq-abc',
      '@startConferenceOnEnter': 'true',
      '@endConferenceOnExit': 'true',
      '@maxMembers': '2',
    });
  });

  it('when rendering a waiting room with a position, then it announces, plays once and loops back', () => {
    const xml = queueXml({
      musicUrl: 'https://cdn.example/q.mp3',
      selfUrl: 'https://h/plivo/xml/queue/support?call=c',
      position: 3,
      announcement: 'Thanks for waiting',
    });
    const doc = parse(xml);
    expect(doc.Response.Speak).toEqual(['Thanks for waiting', 'You are number 3 in line.']);
    expect(doc.Response.Play).toEqual({ '#text': 'https://cdn.example/q.mp3', '@loop': '1' });
    expect(doc.Response.Redirect).toMatchObject({ '#text': 'https://h/plivo/xml/queue/support?call=c' });
    expect(xml.indexOf('<Speak>')).toBeLessThan(xml.indexOf('<Play')); // order matters to Plivo
    expect(xml.indexOf('<Play')).toBeLessThan(xml.indexOf('<Redirect'));
  });

  it('when first in line, then the caller hears "next in line"', () => {
    expect(queueXml({ musicUrl: 'https://m', selfUrl: 'https://s', position: 1 })).toContain('You are next in line.');
    // announce_wait: the estimate as a caller hears it, after the position; none without one.
    expect(queueXml({ musicUrl: 'https://m', selfUrl: 'https://s', position: 2, waitSeconds: 150 })).toMatch(
      /number 2 in line\.<\/Speak><Speak>Your estimated wait is about 3 minutes\.<\/Speak><Play/,
    );
    expect(queueXml({ musicUrl: 'https://m', selfUrl: 'https://s' })).not.toContain('estimated wait');
    expect([0, 59, 60, 89, 90, 600].map(spokenWait)).toEqual([
      'less than a minute',
      'less than a minute',
      'about 1 minute',
      'about 1 minute',
      'about 2 minutes',
      'about 10 minutes',
    ]);
  });

  it('when values carry markup, quotes or control characters, then every document stays well-formed and escaped', () => {
    for (const xml of [
      holdXml(HOSTILE),
      parkXml(HOSTILE),
      bridgeXml(HOSTILE),
      queueXml({ musicUrl: HOSTILE, selfUrl: HOSTILE, announcement: HOSTILE }),
      hangupXml(HOSTILE),
    ]) {
      parse(xml);
      expect(xml).not.toContain('<script>');
      expect(xml).not.toContain('\u0000');
    }
    expect(escapeXml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&apos;&amp;&apos;&lt;/a&gt;');
  });
});
