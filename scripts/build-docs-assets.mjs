// Copies Redoc's standalone bundle into dist/docs/, so /docs works from the production image
// (which has no dev dependencies) and without internet. Run by `npm run build`, after tsc.
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { redocBundleSource } from '../dist/api/docs.js';

const source = redocBundleSource();
const bundle = readFileSync(source, 'utf8');
const head = bundle.slice(0, 400);
if (!/Version: 3\./.test(head) || !bundle.includes('export{RedocStandalone,hydrate,init}')) {
  console.error(`build-docs-assets: ${source} is not Redoc 3's standalone ES module; @redocly/cli moved it. See src/api/docs.ts.`);
  process.exit(1);
}
const out = new URL('../dist/docs/', import.meta.url);
mkdirSync(out, { recursive: true });
copyFileSync(source, new URL('redoc.standalone.js', out));
// Redoc's licence and the notices of what its bundle contains travel with it.
const cli = dirname(dirname(dirname(source)));
for (const file of ['LICENSE', 'THIRD_PARTY_NOTICES']) copyFileSync(join(cli, file), new URL(`redoc.${file}`, out));
console.log(`build-docs-assets: copied Redoc (${head.match(/Version: ([\d.]+)/)?.[1]}) to dist/docs/`);
