// Writes the OpenAPI document that the built API serves, for linters: node scripts/write-openapi.mjs <file>
import { writeFileSync } from 'node:fs';
import { buildOpenApi } from '../dist/api/openapi.js';
import { HOLDQ_VERSION } from '../dist/version.js';

const out = process.argv[2] ?? 'openapi.json';
writeFileSync(
  out,
  `${JSON.stringify(buildOpenApi({ publicBaseUrl: 'http://127.0.0.1:3000', version: HOLDQ_VERSION }), null, 2)}\n`,
);
console.log(`wrote ${out}`);
