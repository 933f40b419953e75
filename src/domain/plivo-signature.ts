import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Plivo's X-Plivo-Signature-V3, as plivo-node's validateV3Signature computes it
 * (docs/plivo.md, "Signatures"): HMAC-SHA256 over the URL, the sorted parameters and
 * the nonce, base64. `params` are the decoded POST form fields (POST) or extra
 * query parameters (GET); `url` is the full public URL Plivo called.
 */
export type SignatureParams = Record<string, string | string[]>;

function baseUrlOf(u: URL): string {
  return `${u.protocol}//${u.host}${u.pathname}`;
}

function multimap(search: URLSearchParams, extra: SignatureParams = {}): Map<string, string[]> {
  const m = new Map<string, string[]>();
  const add = (k: string, v: string) => m.set(k, [...(m.get(k) ?? []), v]);
  for (const [k, v] of search) add(k, v);
  for (const [k, v] of Object.entries(extra)) for (const x of Array.isArray(v) ? v : [v]) add(k, x);
  return m;
}

// Plain code-unit order, as the SDKs sort: uppercase before lowercase.
const byCodeUnit = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function sortedEntries(m: Map<string, string[]>): [string, string[]][] {
  return [...m.entries()].sort(([a], [b]) => byCodeUnit(a, b)).map(([k, v]) => [k, [...v].sort(byCodeUnit)]);
}

export function signedString(method: 'GET' | 'POST', url: string, nonce: string, params: SignatureParams = {}): string {
  const u = new URL(url.includes('://') ? url : `http://${url}`);
  const base = baseUrlOf(u);
  if (method === 'GET') {
    const all = sortedEntries(multimap(u.searchParams, params));
    const query = all.flatMap(([k, vs]) => vs.map((v) => `${k}=${v}`)).join('&');
    return `${query ? `${base}?${query}` : base}.${nonce}`;
  }
  let s = base;
  const query = sortedEntries(multimap(u.searchParams))
    .flatMap(([k, vs]) => vs.map((v) => `${k}=${v}`))
    .join('&');
  const body = sortedEntries(multimap(new URLSearchParams(), params));
  // Query and form fields are joined by a dot; with no form fields, as Plivo's SDKs do (they
  // trim the separator), the query stands alone.
  if (query) s += body.length > 0 ? `?${query}.` : `?${query}`;
  else if (body.length > 0) s += '?';
  s += body.flatMap(([k, vs]) => vs.map((v) => `${k}${v}`)).join('');
  return `${s}.${nonce}`;
}

export function signV3(
  authToken: string,
  method: 'GET' | 'POST',
  url: string,
  nonce: string,
  params: SignatureParams = {},
): string {
  return createHmac('sha256', authToken)
    .update(signedString(method, url, nonce, params))
    .digest('base64');
}

/** Constant-time check of a header that may carry several comma-separated signatures. */
export function verifyV3(
  authToken: string,
  method: 'GET' | 'POST',
  url: string,
  nonce: string,
  header: string,
  params: SignatureParams = {},
): boolean {
  const expected = Buffer.from(signV3(authToken, method, url, nonce, params));
  let match = false;
  for (const candidate of header.split(',')) {
    const got = Buffer.from(candidate.trim());
    if (got.length === expected.length && timingSafeEqual(got, expected)) match = true;
  }
  return match;
}
