/**
 * The board's calls to holdq: the same /v1 routes any client uses, authenticated by the session
 * cookie the browser sends on its own (HttpOnly: this script never sees it).
 */
import type { components } from '../client/schema.js';

export interface Session {
  client: string;
  role: string;
  account: string;
  expires_at: string;
}

// The answers' shapes, from the types generated from /openapi.json (type-only: nothing is bundled).
type Schemas = components['schemas'];
export type QueueSummary = Schemas['QueuePage']['items'][number];
export type QueueDetail = Schemas['Queue'];

export interface HeldCall {
  call_uuid: string;
  since: string;
  held_seconds: number;
  held_legs: string | null;
}

/** An answer other than 2xx, with the problem's detail when holdq sent one. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function call<T>(path: string, init: RequestInit = {}): Promise<T> {
  const res = await fetch(path, { credentials: 'same-origin', ...init });
  if (res.ok) return (res.status === 204 ? undefined : await res.json()) as T;
  let detail = `holdq answered ${res.status}`;
  try {
    const problem = (await res.json()) as { detail?: string };
    if (problem.detail) detail = problem.detail;
  } catch {
    // Not a problem document (a proxy's page): the status says enough.
  }
  throw new ApiError(res.status, detail);
}

export const signIn = (key: string) =>
  call<Session>('/v1/wallboard/session', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ key }),
  });
export const currentSession = () => call<Session>('/v1/wallboard/session');
export const signOut = () => call<void>('/v1/wallboard/session', { method: 'DELETE' });

/** At most 100 queues: a wall screen shows no more. */
export async function queues(): Promise<QueueDetail[]> {
  const page = await call<{ items: QueueSummary[] }>('/v1/queues?limit=100');
  return Promise.all(page.items.map((q) => call<QueueDetail>(`/v1/queues/${encodeURIComponent(q.name)}`)));
}

/** The calls on hold (the first 500), and whether there are more. */
export async function held(): Promise<{ items: HeldCall[]; more: boolean }> {
  const page = await call<{ items: HeldCall[]; next_cursor: string | null }>('/v1/calls?state=held&limit=500');
  return { items: page.items, more: page.next_cursor !== null };
}
