import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { Redis } from 'ioredis';
import { signV3 } from '../src/domain/plivo-signature.js';
import { startStack, type Stack } from './helpers/stack.js';

const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@' });

describe('the XML holdq serves to Plivo', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      worker: false,
      env: {
        HOLD_MUSIC_PROFILES: 'jazz=https://cdn.example/jazz.mp3',
        HOLD_MUSIC_URL: 'https://cdn.example/default.mp3',
      },
    });
  });
  afterAll(() => stack.stop());

  const plivo = (path: string, opts?: Parameters<Stack['plivo']>[1]) => stack.plivo(path, opts);

  async function xml(res: Response) {
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/xml/);
    const text = await res.text();
    expect(XMLValidator.validate(text)).toBe(true);
    return parser.parse(text) as { Response: Record<string, unknown> };
  }

  it('when Plivo fetches the hold XML by POST or GET, then it plays the profile music forever', async () => {
    const post = await xml(await plivo('/plivo/xml/hold?call=c1&music=jazz', { form: { CallUUID: 'c1' } }));
    expect(post.Response.Play).toEqual({ '#text': 'https://cdn.example/jazz.mp3', '@loop': '0' });
    const get = await xml(await plivo('/plivo/xml/hold?call=c1&music=unknown&CallUUID=c1', { method: 'GET' }));
    expect(get.Response.Play).toEqual({ '#text': 'https://cdn.example/default.mp3', '@loop': '0' });
    const proto = await xml(await plivo('/plivo/xml/hold?call=c1&music=toString', { form: {} }));
    expect(proto.Response.Play).toEqual({ '#text': 'https://cdn.example/default.mp3', '@loop': '0' });
  });

  it('when the B leg fetches the park XML, then holdq records its UUID for unhold', async () => {
    const doc = await xml(
      await plivo('/plivo/xml/park?call=ca-park', { form: { CallUUID: 'cb-park', CallStatus: 'in-progress' } }),
    );
    expect(doc.Response.Wait).toBeDefined();
    const redis = new Redis(stack.config.REDIS_URL);
    try {
      expect(await redis.hget(`${stack.config.QUEUE_PREFIX}:call:ca-park`, 'bleg_uuid')).toBe('cb-park');
    } finally {
      redis.disconnect();
    }
  });

  it('when Plivo fetches a bridge or a queue room, then the documents name the room and loop back', async () => {
    const bridge = await xml(await plivo('/plivo/xml/bridge/holdq-ca-1'));
    expect(bridge.Response.Conference).toMatchObject({ '#text': 'holdq-ca-1' });
    const room = await xml(await plivo('/plivo/xml/queue/support?call=ca-1', { form: { CallUUID: 'ca-1' } }));
    expect(room.Response.Redirect).toMatchObject({ '#text': `${stack.apiUrl}/plivo/xml/queue/support?call=ca-1` });
  });

  it('when a name in the path is unsafe, then the document is a well-formed hangup, never an echo', async () => {
    const doc = await xml(await plivo(`/plivo/xml/queue/${encodeURIComponent('<x>&"')}`));
    expect(doc.Response).toHaveProperty('Hangup');
  });

  it('when the signature is missing, wrong or for another token, then the answer is 403', async () => {
    expect((await plivo('/plivo/xml/hold', { sign: false })).status).toBe(403);
    expect((await plivo('/plivo/xml/hold', { token: 'not-the-token' })).status).toBe(403);
    const tampered = await fetch(`${stack.apiUrl}/plivo/xml/hold?music=jazz`, {
      method: 'POST',
      headers: {
        'x-plivo-signature-v3': signV3(stack.sim.authToken, 'POST', `${stack.apiUrl}/plivo/xml/hold`, '1', {}),
        'x-plivo-signature-v3-nonce': '1',
      },
    });
    expect(tampered.status).toBe(403);
    expect(tampered.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  });

  it('when a signed request uses another method than GET or POST, then the answer is 405', async () => {
    const url = `${stack.apiUrl}/plivo/xml/hold`;
    const res = await fetch(url, {
      method: 'PUT',
      headers: {
        'x-plivo-signature-v3': signV3(stack.sim.authToken, 'POST', url, '7', {}),
        'x-plivo-signature-v3-nonce': '7',
      },
    });
    expect(res.status).toBe(405);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  });
});
