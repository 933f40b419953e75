import { z } from 'zod';
import {
  callbackIntent,
  dequeueIntent,
  enqueueIntent,
  holdIntent,
  transferIntent,
  unholdIntent,
} from '../domain/intent.js';
import { EVENT_TYPES } from './event-stream.js';
import { RESPONSE_EXAMPLES } from './response-examples.js';
import { liveView, readyView } from '../observability/ops-routes.js';
import {
  callView,
  deadLetterPage,
  eventView,
  heldCallPage,
  intentView,
  problemView,
  queuePage,
  queueView,
  wallboardSessionView,
} from './responses.js';

/**
 * The OpenAPI 3.1 document of the /v1 API, generated at start-up from the very
 * zod schemas the API validates with (zod 4 emits JSON Schema 2020-12, which is
 * OpenAPI 3.1's dialect), so the document and the validation cannot drift.
 * Request examples carry `x-holdq-status`: the status the API answers them
 * with; a test posts every one of them.
 */

function schema(s: z.ZodType, description: string) {
  const { $schema: _ignored, ...json } = z.toJSONSchema(s, { io: 'input', unrepresentable: 'any' }) as Record<
    string,
    unknown
  >;
  return { ...json, description };
}

const intentTypes = {
  HoldIntent: [
    holdIntent,
    'Put a call on hold. legs=both holds a bridged call in one request: A leg to music, B leg parked.',
  ],
  UnholdIntent: [unholdIntent, 'Bring the legs put on hold back together in the call bridge conference.'],
  EnqueueIntent: [enqueueIntent, 'Send the A leg to the queue waiting room; the call joins the queue.'],
  DequeueIntent: [
    dequeueIntent,
    'Connect the first waiting caller (or call_uuid) of the queue to the agent call, in one bridge conference.',
  ],
  CallbackIntent: [
    callbackIntent,
    "Let a waiting caller hang up and be called back when its turn comes, keeping its place (SPEC §10): it hears its number (masked) and is hung up; a dequeue that reaches it calls it back, agent first. number: E.164, by default the caller's From as Plivo reported it. Needs CALLBACK_CALLER_ID on a real Plivo account.",
  ],
  TransferIntent: [
    transferIntent,
    'The raw Plivo transfer. aleg_url is required for legs aleg/both and bleg_url for bleg/both; URL hosts must be on TRANSFER_URL_ALLOWLIST.',
  ],
} as const;

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (s: object) => ({ 'application/json': { schema: s } });
const problemResponse = (description: string) => ({
  description,
  content: { 'application/problem+json': { schema: ref('Problem') } },
});
/**
 * The response schemas (responses.ts), each a component of its own, with references between them:
 * generated from the zod schemas the routes answer with, so the document cannot drift from them.
 */
function responseSchemas(): Record<string, unknown> {
  // Every response schema is registered (its .meta id) once responses.ts is loaded; these are they.
  void [
    intentView,
    deadLetterPage,
    callView,
    heldCallPage,
    queuePage,
    queueView,
    problemView,
    eventView,
    wallboardSessionView,
    liveView,
    readyView,
  ];
  const { schemas } = z.toJSONSchema(z.globalRegistry, {
    io: 'output',
    unrepresentable: 'any',
    uri: (id) => `#/components/schemas/${id}`,
  });
  return Object.fromEntries(
    Object.entries(schemas).map(([id, { $schema: _s, $id: _i, ...rest }]) => [id, rest as Record<string, unknown>]),
  );
}

const errors = {
  '401': problemResponse('No bearer key, or an unknown one'),
  '403': problemResponse("The key's role may not do this (a READ_KEYS key posting, an API key retrying)"),
  '429': problemResponse('Over the per-key request limit (API_RATE_LIMIT_RPS); retry after the Retry-After header'),
  '503': problemResponse('Redis is unreachable; nothing was done. Retry after the Retry-After header.'),
};

export const INTENT_EXAMPLES: Record<string, { summary: string; value: unknown; 'x-holdq-status': number }> = {
  hold: { summary: 'Hold the caller', value: { type: 'hold', call_uuid: 'example-call-1' }, 'x-holdq-status': 202 },
  holdBridged: {
    summary: 'Hold a bridged call (caller to music, agent parked)',
    value: { type: 'hold', call_uuid: 'example-call-2', legs: 'both' },
    'x-holdq-status': 202,
  },
  unhold: {
    summary: 'Take a call off hold',
    value: { type: 'unhold', call_uuid: 'example-call-1' },
    'x-holdq-status': 202,
  },
  enqueue: {
    summary: 'Queue a caller with priority, max wait and overflow',
    value: {
      type: 'enqueue',
      call_uuid: 'example-call-3',
      queue: 'support',
      priority: 5,
      max_wait_seconds: 600,
      overflow: 'voicemail',
    },
    'x-holdq-status': 202,
  },
  dequeue: {
    summary: 'Connect the next caller to an agent',
    value: { type: 'dequeue', queue: 'support', agent_call_uuid: 'example-agent-1' },
    'x-holdq-status': 202,
  },
  callback: {
    summary: 'Call a waiting caller back at its turn, keeping its place',
    value: { type: 'callback', call_uuid: 'example-call-3', queue: 'support', number: '+14155550100' },
    'x-holdq-status': 202,
  },
  withCallback: {
    summary: 'Any intent can ask for a completion callback',
    value: { type: 'hold', call_uuid: 'example-call-4', callback_url: 'https://crm.example.com/holdq-callbacks' },
    'x-holdq-status': 202,
  },
};

const validationProblem = {
  type: 'https://holdq.dev/problems/validation-failed',
  title: 'The request is not valid',
  status: 422,
  detail: 'the intent is not valid',
  errors: [
    {
      field: 'call_uuid',
      message: 'call UUID must be 1-64 characters of A-Z a-z 0-9 _ - and start with a letter or digit',
    },
    { field: 'colour', message: 'unknown field' },
  ],
};

export function buildOpenApi(opts: { publicBaseUrl: string; version: string }) {
  const transferExample = {
    summary: 'Redirect a call to your own XML (its host must be allowed)',
    value: {
      type: 'transfer',
      call_uuid: 'example-call-5',
      legs: 'aleg',
      aleg_url: `${opts.publicBaseUrl.replace(/\/+$/, '')}/plivo/xml/hold`,
    },
    'x-holdq-status': 202,
  };
  const schemas: Record<string, unknown> = { ...responseSchemas() };
  for (const [name, [s, description]] of Object.entries(intentTypes)) schemas[name] = schema(s, description);
  // The mapping names each type's value: without it, a generator takes the component's name for it.
  const mapping = Object.fromEntries(
    Object.entries(intentTypes).map(([name, [s]]) => [String(s.shape.type.value), ref(name).$ref]),
  );
  schemas.IntentRequest = {
    oneOf: Object.keys(intentTypes).map(ref),
    discriminator: { propertyName: 'type', mapping },
  };

  const doc = {
    openapi: '3.1.0',
    info: {
      title: 'holdq',
      version: opts.version,
      description:
        'Hold and queue orchestration for live Plivo calls. Post intents; holdq turns them into Plivo Transfer requests. ' +
        "Each key belongs to one Plivo account (API_KEY_ACCOUNTS): it sees that account's intents, calls and queues only, and another account's are 404. " +
        "When work waits for the account's Plivo rate it is served by class (see an intent's `class`), then clients in turn.",
      license: { name: 'UNLICENSED', identifier: 'LicenseRef-Proprietary' },
    },
    servers: [{ url: opts.publicBaseUrl }],
    security: [{ bearer: [] }],
    tags: [
      { name: 'intents', description: 'Post intents and follow them to the end' },
      { name: 'state', description: 'Calls and queues as holdq sees them' },
      { name: 'wallboard', description: 'The wallboard page\'s sign-in (README, "Wallboard")' },
      { name: 'operations', description: 'Health and metrics, without auth' },
    ],
    paths: {
      '/v1/intents': {
        post: {
          tags: ['intents'],
          operationId: 'createIntent',
          summary: 'Accept an intent',
          description: 'Validates and stores the intent, then answers 202 at once. A worker carries it out.',
          parameters: [
            {
              name: 'Idempotency-Key',
              in: 'header',
              required: false,
              description:
                'Same key and body: the same intent (200). Same key, other body: 409. Kept 24 h, per client.',
              schema: { type: 'string', pattern: '^[\\x21-\\x7e]{1,255}$' },
            },
          ],
          requestBody: {
            required: true,
            content: {
              'application/json': {
                schema: ref('IntentRequest'),
                examples: { ...INTENT_EXAMPLES, transfer: transferExample },
              },
            },
          },
          responses: {
            '202': {
              description: 'Accepted and stored',
              headers: { Location: { schema: { type: 'string' } } },
              content: json(ref('Intent')),
            },
            '200': {
              description: 'A replay of an Idempotency-Key: the intent it created',
              content: json(ref('Intent')),
            },
            '400': problemResponse('The body is not valid JSON'),
            ...errors,
            '409': problemResponse('Idempotency-Key reused with another body, transfer budget spent, or queue full'),
            '413': problemResponse('Body over 16 KiB'),
            '415': problemResponse('Not application/json'),
            '422': {
              description: 'The intent breaks a rule; errors[] names each field',
              content: {
                'application/problem+json': {
                  schema: ref('Problem'),
                  examples: {
                    invalid: { summary: 'An unsafe call UUID and an unknown field', value: validationProblem },
                  },
                },
              },
            },
          },
        },
        get: {
          tags: ['intents'],
          operationId: 'listFailedIntents',
          summary: 'Dead letters: failed intents, newest first',
          parameters: [
            { name: 'status', in: 'query', required: true, schema: { const: 'failed' } },
            { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 200, default: 50 } },
            { name: 'cursor', in: 'query', schema: { type: 'integer', minimum: 0, default: 0 } },
          ],
          responses: {
            '200': {
              description: 'A page of failed intents',
              content: json(ref('DeadLetterPage')),
            },
            ...errors,
            '422': problemResponse('Bad query parameters'),
          },
        },
      },
      '/v1/intents/{id}': {
        get: {
          tags: ['intents'],
          operationId: 'getIntent',
          summary: 'Read an intent',
          parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } }],
          responses: {
            '200': { description: 'The intent', content: json(ref('Intent')) },
            ...errors,
            '404': problemResponse('No such intent'),
          },
        },
      },
      '/v1/intents/{id}/retry': {
        post: {
          tags: ['intents'],
          operationId: 'retryIntent',
          summary: 'Run a failed intent again (ADMIN_KEYS only)',
          parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } }],
          responses: {
            '202': { description: 'Back in its call’s line', content: json(ref('Intent')) },
            ...errors,
            '404': problemResponse('No such intent'),
            '409': problemResponse('The intent has not failed'),
          },
        },
      },
      '/v1/calls': {
        get: {
          tags: ['state'],
          operationId: 'listHeldCalls',
          summary: 'Calls on hold, longest held first, page by page',
          parameters: [
            { name: 'state', in: 'query', required: true, schema: { const: 'held' } },
            { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 500, default: 100 } },
            {
              name: 'cursor',
              in: 'query',
              description: 'next_cursor of the previous page',
              schema: { type: 'string' },
            },
          ],
          responses: {
            '200': { description: 'A page of calls on hold', content: json(ref('HeldCallPage')) },
            ...errors,
            '422': problemResponse('Bad query parameters'),
          },
        },
      },
      '/v1/calls/{call_uuid}': {
        get: {
          tags: ['state'],
          operationId: 'getCall',
          summary: 'What holdq knows of a call',
          parameters: [{ name: 'call_uuid', in: 'path', required: true, schema: { type: 'string' } }],
          responses: {
            '200': {
              description: 'The call',
              content: json(ref('Call')),
            },
            ...errors,
            '404': problemResponse('holdq never moved this call'),
          },
        },
      },
      '/v1/queues': {
        get: {
          tags: ['state'],
          operationId: 'listQueues',
          summary: 'Queues with their depth and oldest wait, page by page in name order',
          description:
            'Configured queues, and those created on demand until they have been empty for QUEUE_IDLE_SECONDS.',
          parameters: [
            { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 500, default: 100 } },
            {
              name: 'cursor',
              in: 'query',
              description: 'next_cursor of the previous page',
              schema: { type: 'string' },
            },
          ],
          responses: {
            '200': {
              description: 'A page of queues',
              content: json(ref('QueuePage')),
            },
            ...errors,
            '422': problemResponse('Bad query parameters'),
          },
        },
      },
      '/v1/queues/{name}': {
        get: {
          tags: ['state'],
          operationId: 'getQueue',
          summary: 'A queue and its members in service order',
          parameters: [{ name: 'name', in: 'path', required: true, schema: { type: 'string' } }],
          responses: {
            '200': {
              description: 'The queue',
              content: json(ref('Queue')),
            },
            ...errors,
            '404': problemResponse('No such queue'),
          },
        },
      },
      '/v1/events': {
        get: {
          tags: ['state'],
          operationId: 'streamEvents',
          summary: "The account's events, live (Server-Sent Events)",
          description: [
            "A text/event-stream of the caller's account's events. Each is `id:` (a stream id, `<ms>-<seq>`, strictly increasing), `event:` (its type) and `data:` (JSON with `type`, `at` and the fields below). ",
            'Reconnect with the last id seen as Last-Event-ID (or last_event_id) to receive every event after it that is still kept (EVENTS_RETENTION), then the live ones, none missing or repeated; ',
            'an id older than what is kept (trimmed, or lost with its Redis) gets one `event: reset` first, with an id of its own to resume from (fetch the state again), then the live events. A comment line comes at least every 15 s. ',
            `Event types: ${EVENT_TYPES.join(', ')}. `,
            'intent.*: intent_id, intent_type, call_uuid, client (accepted), queue (when the intent names one), error (failed). ',
            'call.*: call_uuid, intent_id (when an intent made the change), legs (held, unheld). ',
            'queue.joined, queue.position: call_uuid, queue, position, estimated_wait_seconds (null while the queue has too little history); queue.position goes to the first 100 members. ',
            'queue.left: call_uuid, queue, reason (bridged, abandoned, overflow, callback, or moved when an intent took the caller elsewhere), wait_seconds.',
          ].join(''),
          parameters: [
            { name: 'queue', in: 'query', description: 'only events of this queue', schema: { type: 'string' } },
            { name: 'call_uuid', in: 'query', description: 'only events of this call', schema: { type: 'string' } },
            {
              name: 'types',
              in: 'query',
              description: 'only these types, comma-separated',
              schema: { type: 'string' },
              example: 'queue.joined,queue.left',
            },
            {
              name: 'last_event_id',
              in: 'query',
              description: 'resume after this id (for clients that cannot set Last-Event-ID; the header wins)',
              schema: { type: 'string', pattern: '^[0-9]{1,15}-[0-9]{1,15}$' },
            },
            {
              name: 'Last-Event-ID',
              in: 'header',
              description: 'resume after this id',
              schema: { type: 'string', pattern: '^[0-9]{1,15}-[0-9]{1,15}$' },
            },
          ],
          responses: {
            '200': {
              description: 'The stream',
              content: {
                'text/event-stream': {
                  schema: { type: 'string', description: 'Server-Sent Events; each data line is an Event (JSON)' },
                  'x-event-schema': ref('Event'),
                  example:
                    'id: 1764644400123-0\nevent: queue.joined\ndata: {"type":"queue.joined","at":"2026-12-02T03:00:00.123Z","call_uuid":"c1","queue":"support","position":3,"estimated_wait_seconds":95}\n\n',
                },
              },
            },
            ...errors,
            '422': problemResponse('Bad query parameters or Last-Event-ID'),
            '503': problemResponse('This API serves EVENTS_MAX_STREAMS streams already (Retry-After)'),
          },
        },
      },
      '/v1/wallboard/session': {
        post: {
          tags: ['wallboard'],
          operationId: 'openWallboardSession',
          security: [],
          summary: 'Sign in to the wallboard: exchange a key for a session cookie',
          description:
            'The key goes in the body (JSON, or a form posted by the page), never in a URL. Any valid key will do (READ_KEYS is enough). ' +
            "The answer sets `holdq_wallboard` (HttpOnly, SameSite=Strict, Path=/v1, Secure over https), which then authenticates GET and HEAD under /v1 for the key's account, and nothing else: " +
            'any other method with the cookie alone is 403. The session ends WALLBOARD_SESSION_SECONDS after sign-in, at sign-out, or when its key is removed or changes role or account. ' +
            'A request a browser makes from another site (Sec-Fetch-Site, Origin) is 403. Ten failed sign-ins from one address in a minute: 429 for the rest of that minute.',
          requestBody: {
            required: true,
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  properties: { key: { type: 'string', minLength: 1, maxLength: 512 } },
                  required: ['key'],
                  additionalProperties: false,
                },
              },
              'application/x-www-form-urlencoded': {
                schema: {
                  type: 'object',
                  properties: { key: { type: 'string', minLength: 1, maxLength: 512 } },
                  required: ['key'],
                },
              },
            },
          },
          responses: {
            '200': {
              description: 'Signed in; Set-Cookie carries the session',
              headers: { 'Set-Cookie': { schema: { type: 'string' } } },
              content: json(ref('WallboardSession')),
            },
            '303': { description: 'Signed in from a form: back to /wallboard (Set-Cookie carries the session)' },
            '400': problemResponse('The body is not valid JSON'),
            '401': problemResponse('The key is not valid'),
            '403': problemResponse('Sent by a page of another origin'),
            '413': problemResponse('Body over 16 KiB'),
            '415': problemResponse('Neither application/json nor a form'),
            '422': problemResponse('No key, or an unknown field; errors[] names it'),
            '429': problemResponse('Too many failed sign-ins from this address this minute'),
            '503': errors['503'],
          },
        },
        get: {
          tags: ['wallboard'],
          operationId: 'getWallboardSession',
          security: [{ wallboardSession: [] }],
          summary: "The wallboard session of this browser's cookie",
          responses: {
            '200': { description: 'The session', content: json(ref('WallboardSession')) },
            '401': problemResponse('No session cookie, or the session has ended'),
            '503': errors['503'],
          },
        },
        delete: {
          tags: ['wallboard'],
          operationId: 'closeWallboardSession',
          security: [{ wallboardSession: [] }],
          summary: 'Sign out: the session ends on every replica, and the cookie is cleared',
          responses: {
            '204': { description: 'Signed out (also when the session had ended already)' },
            '401': problemResponse('No session cookie'),
            '403': problemResponse('Sent by a page of another origin'),
            '503': errors['503'],
          },
        },
      },
      '/livez': {
        get: {
          tags: ['operations'],
          operationId: 'livez',
          security: [],
          summary: 'The process is up',
          description:
            'Names the service and this instance (a random id per process), so a start-up check can tell holdq from anything else.',
          responses: { '200': { description: 'Alive', content: json(ref('Live')) } },
        },
      },
      '/readyz': {
        get: {
          tags: ['operations'],
          operationId: 'readyz',
          security: [],
          summary: 'Ready to take work',
          responses: {
            '200': { description: 'Ready', content: json(ref('Ready')) },
            '503': { description: 'Redis unreachable, or shutting down', content: json(ref('Ready')) },
          },
        },
      },
      '/metrics': {
        get: {
          tags: ['operations'],
          operationId: 'metrics',
          security: [],
          summary: 'Prometheus metrics',
          responses: { '200': { description: 'Metrics' } },
        },
      },
    },
    components: {
      schemas,
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          description: 'A secret from API_KEYS (post and read), ADMIN_KEYS (also retry) or READ_KEYS (read only)',
        },
        wallboardSession: {
          type: 'apiKey',
          in: 'cookie',
          name: 'holdq_wallboard',
          description:
            'A wallboard session (POST /v1/wallboard/session): GET and HEAD under /v1 only, as its key and account',
        },
      },
    },
  };
  withResponseExamples(doc.paths as unknown as Operations);
  return doc;
}

type Operations = Record<
  string,
  Record<string, { responses?: Record<string, { content?: Record<string, { examples?: Record<string, unknown> }> }> }>
>;

/**
 * Puts the generated response examples (response-examples.ts: real answers of a running holdq) in
 * the document, each under its route and status. An example of a response the document does not
 * declare is an error here, so the two cannot drift apart.
 */
function withResponseExamples(paths: Operations) {
  for (const [id, example] of Object.entries(RESPONSE_EXAMPLES)) {
    const [method, template, status] = id.split(' ') as [string, string, string];
    const content = paths[template]?.[method.toLowerCase()]?.responses?.[status]?.content;
    const media = content && Object.values(content)[0];
    if (!media) throw new Error(`response-examples.ts: ${id} is a response the document does not declare`);
    media.examples = { ...media.examples, answered: example };
  }
}
