// npm run lint:lua: lints every Redis script as Redis runs it. Each src/infra/lua/*.lua is
// assembled by the same loader holdq uses (bindings of its header's names, its includes, its
// inserts), written to a temporary folder and handed to luacheck (Debian package lua-check), with
// the project's .luacheckrc. BullMQ's own script, which accept.lua inserts, is not ours to lint:
// a stub of the same signature stands in for it.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assembleScript } from '../dist/infra/redis-script.js';

const STUBS = {
  bullmq_add_prioritized_job: '  return ARGV[1] and KEYS[1]',
  job_options: "'{}'",
  job_prefix: "'lint:'",
  job_name: "'intent'",
};
const dir = mkdtempSync(join(tmpdir(), 'holdq-lua-'));
try {
  const names = readdirSync(new URL('../src/infra/lua/', import.meta.url))
    .filter((f) => f.endsWith('.lua'))
    .map((f) => f.slice(0, -4));
  const files = [];
  for (const name of names) {
    const file = join(dir, `${name}.lua`);
    writeFileSync(file, assembleScript(name, STUBS, { allowUnusedInserts: true }).source);
    files.push(file);
  }
  const run = spawnSync(
    'luacheck',
    ['--config', new URL('../.luacheckrc', import.meta.url).pathname, '--codes', ...files],
    { stdio: 'inherit' },
  );
  if (run.error) {
    console.error(`lint-lua: could not run luacheck (${run.error.message}); install the Debian package lua-check`);
    process.exit(2);
  }
  process.exit(run.status ?? 1);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
