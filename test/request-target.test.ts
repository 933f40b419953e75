import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Registry } from 'prom-client';
import { AppError, problemDocument } from '../src/api/errors.js';
import { signV3 } from '../src/domain/plivo-signature.js';
import { MALFORMED_TARGET } from '../src/lifecycle.js';
import { createLogger } from '../src/observability/logger.js';
import { createMetrics } from '../src/observability/metrics.js';
import { startWorker, type StartedWorker } from '../src/worker/start-worker.js';
import { rawRequest } from './helpers/raw-http.js';
import { captureLogs, startStack, testConfig, type Stack } from './helpers/stack.js';

/**
 * A request target may arrive in absolute form (`GET http://evil.example/plivo/xml/hold`),
 * which fetch cannot send, so these tests write the request line over TCP. RFC 9112 §3.2.2
 * says a server must accept it; holdq treats it as its path and query (no request
 * makes holdq answer 5xx because of what it contains).
 */
describe('request targets in absolute form', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ worker: false });
  });
  afterAll(() => stack.stop());

  const port = () => stack.api!.port;
  const signed = (method: 'GET' | 'POST', path: string) => {
    const nonce = '12345';
    return {
      'x-plivo-signature-v3': signV3(stack.sim.authToken, method, `${stack.config.PUBLIC_BASE_URL}${path}`, nonce),
      'x-plivo-signature-v3-nonce': nonce,
    };
  };

  it('when an absolute-form target carries a forged signature, then the answer is 403, not 500', async () => {
    const res = await rawRequest(port(), 'http://evil.example/plivo/xml/hold', {
      headers: { 'x-plivo-signature-v3': 'forged', 'x-plivo-signature-v3-nonce': '1' },
    });
    expect(res.status).toBe(403);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  });

  it('when an absolute-form target is signed for PUBLIC_BASE_URL + its path and query, then it is served, and self-links use PUBLIC_BASE_URL', async () => {
    const hold = await rawRequest(port(), 'http://evil.example/plivo/xml/hold?music=default', {
      headers: signed('GET', '/plivo/xml/hold?music=default'),
    });
    expect(hold.status).toBe(200);
    expect(hold.body).toContain('<Play loop="0">');
    const park = await rawRequest(port(), 'https://evil.example:8443/plivo/xml/park?call=abs-1', {
      method: 'POST',
      headers: { ...signed('POST', '/plivo/xml/park?call=abs-1'), 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(park.status).toBe(200);
    expect(park.body).toContain(
      `<Redirect method="POST">${stack.config.PUBLIC_BASE_URL}/plivo/xml/park?call=abs-1</Redirect>`,
    );
    expect(park.body).not.toContain('evil.example');
  });

  it('when the server writes the 400 itself, then it is the document the API catalogue gives malformed_request_target', () => {
    const fromCatalogue = problemDocument(
      new AppError('malformed_request_target', 'the request target is neither a path nor an absolute http(s) URL', [
        { field: '(request-target)', message: 'not a valid URL' },
      ]),
    );
    expect(JSON.parse(MALFORMED_TARGET)).toEqual(fromCatalogue);
  });

  it('when the target cannot be parsed as a URL at all, then the answer is a 400 problem', async () => {
    for (const target of [
      'http://[::1/plivo/xml/hold',
      'http://x:99999/plivo/xml/hold',
      'http://a b/plivo/xml/hold'.replace(' ', '%20'),
      'ftp://evil.example/plivo/xml/hold',
      // origin form to the letter, but Express reads it as an authority with no path (CI found it by fuzzing)
      '//user:pw@host?#',
      '//evil.example/plivo/xml/hold',
    ]) {
      const res = await rawRequest(port(), target, {
        headers: { 'x-plivo-signature-v3': 'x', 'x-plivo-signature-v3-nonce': '1' },
      });
      expect({ target, status: res.status }).toEqual({ target, status: 400 });
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(JSON.parse(res.body)).toMatchObject({
        status: 400,
        errors: [{ field: '(request-target)', message: expect.any(String) }],
      });
    }
  });

  it('when other routes are asked in absolute form, then they answer as for the path', async () => {
    expect((await rawRequest(port(), 'http://evil.example/livez')).status).toBe(200);
    expect((await rawRequest(port(), 'http://evil.example/v1/intents/x')).status).toBe(401);
    expect(
      (
        await rawRequest(port(), 'http://evil.example/plivo/events/hangup', {
          method: 'POST',
          headers: { 'x-plivo-signature-v3': 'x', 'x-plivo-signature-v3-nonce': '1' },
        })
      ).status,
    ).toBe(403);
    expect((await rawRequest(port(), 'http://evil.example')).status).toBe(404);
  });
});

describe('request targets on a lone worker ops port', () => {
  let worker: StartedWorker;
  beforeAll(async () => {
    const registry = new Registry();
    worker = await startWorker(testConfig(), {
      logger: createLogger('info', captureLogs().stream),
      registry,
      metrics: createMetrics(registry, { defaults: false }),
      plivo: { default: { baseUrl: 'http://127.0.0.1:9', authId: 'X', authToken: 'y' } },
      opsPort: 0,
    });
  });
  afterAll(() => worker.stop());

  it('when /livez is asked in absolute form or with an unparseable target, then it is 200 or 400', async () => {
    expect((await rawRequest(worker.opsPort!, 'http://evil.example/livez')).status).toBe(200);
    expect((await rawRequest(worker.opsPort!, 'http://[::1/livez')).status).toBe(400);
  });
});
