import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Router, type RequestHandler } from 'express';

/**
 * /docs: Redoc rendering /openapi.json, served entirely by the API, so it works without
 * internet and under a CSP of 'self'. The page, its start script and Redoc's standalone
 * bundle come from here; nothing is loaded from a CDN (Redoc's telemetry is off, and the
 * CSP would stop it anyway).
 *
 * The bundle is Redoc 3's standalone build that @redocly/cli (a dev dependency, for
 * `openapi:lint`) ships for `build-docs --inlineBundle`. The build copies it into
 * dist/docs/ (scripts/build-assets.mjs), so the production image, which has no dev
 * dependencies, serves it from there; run from the sources (the tests), it is read where
 * the build takes it from.
 */
export const REDOC_PATH = '/docs/redoc.standalone.js';
const START_PATH = '/docs/holdq-docs.js';

export const DOCS_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>holdq API</title><meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<style>body{margin:0;padding:0}</style></head>
<body><div id="redoc"></div>
<script type="module" src="${START_PATH}"></script>
<noscript>The raw document is at <a href="/openapi.json">/openapi.json</a>.</noscript></body></html>
`;

const START_SCRIPT = `import { init } from '${REDOC_PATH}';
init('/openapi.json', { disableTelemetry: true }, document.getElementById('redoc'));
`;

const require = createRequire(import.meta.url);

/** Where the build takes the bundle from: inside the installed @redocly/cli. */
export function redocBundleSource(): string {
  return join(dirname(require.resolve('@redocly/cli/package.json')), 'lib', 'chunks', 'redoc.standalone.js');
}

/** The bundle to serve: dist/docs/ next to the built code, else (from the sources) its source; null if neither is there. */
export function redocBundlePath(): string | null {
  const built = fileURLToPath(new URL('../docs/redoc.standalone.js', import.meta.url));
  if (existsSync(built)) return built;
  try {
    const source = redocBundleSource();
    return existsSync(source) ? source : null;
  } catch {
    return null; // no @redocly/cli: a production install without a build's dist/docs
  }
}

/** The page, its start script and the bundle; `pageHeaders` are the security headers of a page made for a browser. */
export function createDocsRouter(pageHeaders: RequestHandler): Router {
  const router = Router();
  const bundle = redocBundlePath();
  router.get('/docs', pageHeaders, (_req, res) => {
    res.type('text/html').send(DOCS_HTML);
  });
  router.get(START_PATH, (_req, res) => {
    res.type('text/javascript').send(START_SCRIPT);
  });
  router.get(REDOC_PATH, (_req, res, next) => {
    if (!bundle) return next(); // a 404 problem: the build did not copy it
    // One file per holdq version; a day of caching spares a 1 MB download per page view.
    res.sendFile(
      bundle,
      { maxAge: '1d', headers: { 'content-type': 'text/javascript; charset=utf-8' } },
      (err) => err && next(err),
    );
  });
  return router;
}
