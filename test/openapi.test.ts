import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { HOLDQ_VERSION } from '../src/version.js';
import { startStack, type Stack } from './helpers/stack.js';

interface Doc {
  openapi: string;
  info: { version: string };
  paths: Record<
    string,
    Record<
      string,
      {
        requestBody?: {
          content: Record<string, { examples: Record<string, { value: unknown; 'x-holdq-status': number }> }>;
        };
        responses: Record<
          string,
          {
            content?: Record<
              string,
              { examples?: Record<string, { value: { status: number; errors: { field: string }[] } }> }
            >;
          }
        >;
      }
    >
  >;
}

describe('the OpenAPI document', () => {
  let stack: Stack;
  let doc: Doc;
  beforeAll(async () => {
    stack = await startStack({ simulator: { fetchXml: false } });
    const res = await stack.get('/openapi.json', { key: null });
    expect(res.status).toBe(200);
    doc = (await res.json()) as Doc;
  });
  afterAll(() => stack.stop());

  it('when fetched, then it is OpenAPI 3.1 at the package version and documents every /v1 route', () => {
    expect(doc.openapi).toBe('3.1.0');
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(doc.info.version).toBe(pkg.version);
    expect(HOLDQ_VERSION).toBe(pkg.version);
    expect(Object.keys(doc.paths).sort()).toEqual(
      [
        '/livez',
        '/metrics',
        '/readyz',
        '/v1/calls/{call_uuid}',
        '/v1/events',
        '/v1/intents',
        '/v1/intents/{id}',
        '/v1/intents/{id}/retry',
        '/v1/queues',
        '/v1/queues/{name}',
      ].sort(),
    );
  });

  it('when every request example is posted, then the API answers the documented status', async () => {
    const examples = doc.paths['/v1/intents']!.post!.requestBody!.content['application/json']!.examples;
    expect(Object.keys(examples).length).toBeGreaterThanOrEqual(7);
    for (const [name, example] of Object.entries(examples)) {
      const res = await stack.post(example.value);
      expect({ name, status: res.status }).toEqual({ name, status: example['x-holdq-status'] });
    }
  });

  it('when the documented invalid intent is posted, then the problem names the documented fields', async () => {
    const documented =
      doc.paths['/v1/intents']!.post!.responses['422']!.content!['application/problem+json']!.examples!.invalid!.value;
    const res = await stack.post({ type: 'hold', call_uuid: '../etc', colour: 'blue' });
    expect(res.status).toBe(documented.status);
    const body = (await res.json()) as { errors: { field: string }[] };
    expect(body.errors.map((e) => e.field).sort()).toEqual(documented.errors.map((e) => e.field).sort());
  });

  it('when a person opens /docs, then the page, its script and Redoc all come from holdq itself, and render /openapi.json', async () => {
    const res = await stack.get('/docs', { key: null });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    const page = await res.text();
    expect(page).not.toMatch(/https?:\/\//); // no CDN, no fonts: it works without internet
    const scripts = [...page.matchAll(/<script[^>]*\ssrc="([^"]+)"/g)].map((m) => m[1]!);
    expect(scripts).toEqual(['/docs/holdq-docs.js']);
    const start = await stack.get(scripts[0]!, { key: null });
    expect(start.status).toBe(200);
    expect(start.headers.get('content-type')).toMatch(/^text\/javascript/);
    const code = await start.text();
    expect(code).toContain("init('/openapi.json'");
    expect(code).toContain('disableTelemetry: true');
    const imports = [...code.matchAll(/from '([^']+)'/g)].map((m) => m[1]!);
    expect(imports).toEqual(['/docs/redoc.standalone.js']);
    const redoc = await stack.get(imports[0]!, { key: null });
    expect(redoc.status).toBe(200);
    expect(redoc.headers.get('content-type')).toMatch(/^text\/javascript/);
    const bundle = await redoc.text();
    expect(bundle.slice(0, 400)).toMatch(/Version: 3\./);
    expect(bundle).toContain('export{RedocStandalone,hydrate,init}');
  });
});
