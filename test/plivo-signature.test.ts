import { describe, expect, it } from '@jest/globals';
import { signedString, signV3, verifyV3, type SignatureParams } from '../src/domain/plivo-signature.js';

// The vectors of docs/plivo.md, "Signatures", computed with plivo-node 4.78.0.
const TOKEN = 'my_auth_token';
const NONCE = '05429567804466091622';

describe('Plivo V3 signatures', () => {
  const vectors: { method: 'GET' | 'POST'; url: string; params: SignatureParams; signed: string; signature: string }[] =
    [
      {
        method: 'POST',
        url: 'https://example.com/answer/',
        params: { CallUUID: 'abc', From: '+15551234567', To: '+15557654321' },
        signed: `https://example.com/answer/?CallUUIDabcFrom+15551234567To+15557654321.${NONCE}`,
        signature: '/jTxIOU0ZFxZF8EJhe3Dl+tlzq17OCSDZGNCffFbIdo=',
      },
      {
        method: 'POST',
        url: 'https://example.com/abcd?foo=bar',
        params: { CallUUID: 'abc', Direction: 'inbound' },
        signed: `https://example.com/abcd?foo=bar.CallUUIDabcDirectioninbound.${NONCE}`,
        signature: 'zxjy++i4OTW4rPL0J+bTPU1YfGIB3UjxKM/70f3eU7Y=',
      },
      {
        method: 'POST',
        url: 'https://example.com/answer/',
        params: {},
        signed: `https://example.com/answer/.${NONCE}`,
        signature: 'OiGJ+lJz4DfjVPt3PD9bQXYUTRZI6XWxIiQv4N/g9HQ=',
      },
      {
        method: 'GET',
        url: 'https://example.com/answer/',
        params: { CallUUID: 'abc', From: '+15551234567' },
        signed: `https://example.com/answer/?CallUUID=abc&From=+15551234567.${NONCE}`,
        signature: 'OskuV+dZ4Wdg0Xh+15tR9giWAxsDYdD7Hq5qn5amfHk=',
      },
      {
        method: 'GET',
        url: 'https://example.com/abcd?foo=bar',
        params: { CallUUID: 'abc' },
        signed: `https://example.com/abcd?CallUUID=abc&foo=bar.${NONCE}`,
        signature: 'C1TTLMfPox3cNv0azDxubBr7/iJBc+bLnnZaJ5M0PVk=',
      },
    ];

  it.each(vectors)('when signing $method $url, then the string and signature match plivo-node', (v) => {
    expect(signedString(v.method, v.url, NONCE, v.params)).toBe(v.signed);
    expect(signV3(TOKEN, v.method, v.url, NONCE, v.params)).toBe(v.signature);
    expect(verifyV3(TOKEN, v.method, v.url, NONCE, v.signature, v.params)).toBe(true);
  });

  it('when a POST has a query string and no form fields, then the query stands alone before the nonce, as the SDKs sign it', () => {
    // plivo-go, plivo-ruby, plivo-dotnet and plivo-java all trim the dot that would join the query to empty form fields.
    expect(signedString('POST', 'https://example.com/abcd?foo=bar', NONCE, {})).toBe(
      `https://example.com/abcd?foo=bar.${NONCE}`,
    );
  });

  it('when the header carries several signatures, then any matching one is accepted', () => {
    const v = vectors[0]!;
    expect(verifyV3(TOKEN, v.method, v.url, NONCE, `bogus,${v.signature}`, v.params)).toBe(true);
  });

  it('when the token, nonce, URL or a parameter differs, then verification fails', () => {
    const v = vectors[0]!;
    expect(verifyV3('other_token', v.method, v.url, NONCE, v.signature, v.params)).toBe(false);
    expect(verifyV3(TOKEN, v.method, v.url, '1', v.signature, v.params)).toBe(false);
    expect(verifyV3(TOKEN, v.method, 'https://example.com/answer', NONCE, v.signature, v.params)).toBe(false);
    expect(verifyV3(TOKEN, v.method, v.url, NONCE, v.signature, { ...v.params, To: '+1' })).toBe(false);
    expect(verifyV3(TOKEN, v.method, v.url, NONCE, '', v.params)).toBe(false);
  });
});
