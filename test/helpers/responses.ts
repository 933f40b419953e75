import type { ZodType } from 'zod';
import { buildOpenApi } from '../../src/api/openapi.js';
import {
  callView,
  deadLetterPage,
  heldCallPage,
  intentView,
  problemView,
  queuePage,
  queueView,
  wallboardSessionView,
} from '../../src/api/responses.js';
import { liveView, readyView } from '../../src/observability/ops-routes.js';

/**
 * Every answer a test gets through the stack helper is checked against the API's document
 * (SPEC §13): the operation must declare the status, and the body must match the schema the
 * document gives for it, strictly: a field the document does not declare fails the test. The
 * document's schemas are generated from these zod schemas (openapi.ts), so checking with them is
 * checking with the document.
 */
const doc = buildOpenApi({ publicBaseUrl: 'http://127.0.0.1', version: '0' }) as {
  paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, unknown> }> }>>;
};

const ROUTES: { template: string; pattern: RegExp; ok: Record<string, ZodType>; errors?: ZodType }[] = [
  { template: '/livez', pattern: /^\/livez$/, ok: { get: liveView } },
  { template: '/readyz', pattern: /^\/readyz$/, ok: { get: readyView }, errors: readyView },
  { template: '/v1/intents', pattern: /^\/v1\/intents$/, ok: { get: deadLetterPage, post: intentView } },
  { template: '/v1/intents/{id}', pattern: /^\/v1\/intents\/[^/]+$/, ok: { get: intentView } },
  { template: '/v1/intents/{id}/retry', pattern: /^\/v1\/intents\/[^/]+\/retry$/, ok: { post: intentView } },
  { template: '/v1/calls', pattern: /^\/v1\/calls$/, ok: { get: heldCallPage } },
  {
    template: '/v1/wallboard/session',
    pattern: /^\/v1\/wallboard\/session$/,
    ok: { get: wallboardSessionView, post: wallboardSessionView, delete: wallboardSessionView },
  },
  { template: '/v1/calls/{call_uuid}', pattern: /^\/v1\/calls\/[^/]+$/, ok: { get: callView } },
  { template: '/v1/queues', pattern: /^\/v1\/queues$/, ok: { get: queuePage } },
  { template: '/v1/queues/{name}', pattern: /^\/v1\/queues\/[^/]+$/, ok: { get: queueView } },
];

/** What the suite has checked: "METHOD template status". */
export const checked = new Set<string>();

/** Checks one answer (its clone is read); throws, naming the route and the fields, when it does not match. */
export async function checkResponse(method: string, url: string, res: Response): Promise<void> {
  const path = new URL(url).pathname;
  const route = ROUTES.find((r) => r.pattern.test(path));
  const m = method.toLowerCase();
  if (!route || !route.ok[m]) return;
  const status = String(res.status);
  const declared = doc.paths[route.template]?.[m]?.responses ?? {};
  if (!declared[status])
    throw new Error(`${method} ${route.template} answered ${status}, which the OpenAPI document does not declare`);
  const type = res.headers.get('content-type') ?? '';
  if (!/json/.test(type)) return;
  const schema = /problem\+json/.test(type)
    ? problemView
    : res.status < 300
      ? route.ok[m]
      : (route.errors ?? problemView);
  const body: unknown = await res.clone().json();
  const parsed = schema!.safeParse(body);
  if (!parsed.success)
    throw new Error(
      `${method} ${route.template} ${status}: the answer does not match the document: ${parsed.error.issues
        .map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`)
        .join('; ')}\n${JSON.stringify(body).slice(0, 500)}`,
    );
  checked.add(`${method.toUpperCase()} ${route.template} ${status}`);
}
