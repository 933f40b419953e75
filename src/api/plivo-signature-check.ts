import express, { type Request, type RequestHandler } from 'express';
import type { Config } from '../config.js';
import { verifyV3, type SignatureParams } from '../domain/plivo-signature.js';
import { AppError } from './errors.js';

/** Plivo sends its parameters as a form body (POST) or in the query string (GET). */
export function plivoParams(req: Request): Record<string, string> {
  const source = req.method === 'POST' && req.body && typeof req.body === 'object' ? req.body : req.query;
  // No prototype: a parameter named __proto__ must stay a parameter (it is signed like any other).
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [k, v] of Object.entries(source as Record<string, unknown>)) if (typeof v === 'string') out[k] = v;
  return out;
}

/**
 * The URL Plivo called: our public base plus the path and query, so it verifies behind
 * proxies too. The server hands every request over in origin form (lifecycle.ts,
 * originFormOnly); anything else here would make no URL, so it is refused, never thrown.
 */
export function publicUrl(config: Readonly<Config>, req: Request): string {
  const target = req.originalUrl;
  if (!target.startsWith('/')) {
    throw new AppError('malformed_request_target', 'the request target is not a path', [
      { field: '(request-target)', message: 'not a path' },
    ]);
  }
  return `${config.PUBLIC_BASE_URL.replace(/\/+$/, '')}${target}`;
}

/**
 * Plivo's form bodies, parsed with URLSearchParams into an object without a
 * prototype: every field survives as sent (even one named __proto__), because
 * every field is signed.
 */
const formText = express.text({ type: 'application/x-www-form-urlencoded', limit: '16kb' });
const form: RequestHandler = (req, res, next) =>
  formText(req, res, (err?: unknown) => {
    if (err) return next(err);
    if (typeof req.body === 'string') {
      const fields = Object.create(null) as Record<string, string>;
      for (const [k, v] of new URLSearchParams(req.body)) fields[k] = v;
      req.body = fields;
    }
    next();
  });

/**
 * X-Plivo-Signature-V3 on every request of an account's Plivo routes when the account has an auth
 * token (docs/plivo.md, "Signatures"): GET signs the full URL with its query; POST signs the URL
 * plus the form fields. Mounted in front of each account's XML documents and Plivo's events for
 * it: the path names the account, so its token is the one checked (`null`: a simulated account).
 */
export function plivoSignature(config: Readonly<Config>, token: string | null): RequestHandler[] {
  // The signature covers POST form fields, so they are parsed before it is checked.
  const verify: RequestHandler = (req, _res, next) => {
    if (!token) return next();
    const signature = req.get('x-plivo-signature-v3');
    const nonce = req.get('x-plivo-signature-v3-nonce');
    const method = req.method === 'GET' ? 'GET' : 'POST';
    const params: SignatureParams = method === 'POST' ? plivoParams(req) : {};
    if (!signature || !nonce || !verifyV3(token, method, publicUrl(config, req), nonce, signature, params)) {
      return next(
        new AppError('forbidden', 'missing or invalid X-Plivo-Signature-V3', [
          { field: 'X-Plivo-Signature-V3', message: 'invalid' },
        ]),
      );
    }
    next();
  };
  return [form, verify];
}
