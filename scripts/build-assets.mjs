// What `npm run build` puts in dist/ beside tsc's output (run after tsc):
// - the Redis scripts, src/**/*.lua, which src/infra/redis-script.ts reads at run time;
// - (the wallboard page, src/wallboard/, is Vite's: it builds it into dist/wallboard/ before this runs;)
// - Redoc's standalone bundle in dist/docs/, so /docs works from the production image (which has
//   no dev dependencies) and without internet.
import { chmodSync, copyFileSync, cpSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { redocBundleSource } from '../dist/api/docs.js';

cpSync(new URL('../src/', import.meta.url), new URL('../dist/', import.meta.url), {
  recursive: true,
  filter: (path) => !path.includes('/src/wallboard') && (!/\.[a-z]+$/i.test(path) || path.endsWith('.lua')),
});
console.log('build-assets: copied the Redis scripts (src/**/*.lua) to dist/');

const source = redocBundleSource();
const bundle = readFileSync(source, 'utf8');
const head = bundle.slice(0, 400);
if (!/Version: 3\./.test(head) || !bundle.includes('export{RedocStandalone,hydrate,init}')) {
  console.error(
    `build-assets: ${source} is not Redoc 3's standalone ES module; @redocly/cli moved it. See src/api/docs.ts.`,
  );
  process.exit(1);
}
const out = new URL('../dist/docs/', import.meta.url);
mkdirSync(out, { recursive: true });
copyFileSync(source, new URL('redoc.standalone.js', out));
// Redoc's licence and the notices of what its bundle contains travel with it.
const cli = dirname(dirname(dirname(source)));
for (const file of ['LICENSE', 'THIRD_PARTY_NOTICES']) copyFileSync(join(cli, file), new URL(`redoc.${file}`, out));
console.log(`build-assets: copied Redoc (${head.match(/Version: ([\d.]+)/)?.[1]}) to dist/docs/`);

// The holdq command (package.json's bin) runs as a program.
chmodSync(new URL('../dist/cli/holdq.js', import.meta.url), 0o755);
