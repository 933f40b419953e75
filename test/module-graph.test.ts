import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from '@jest/globals';

/**
 * Each role loads only its own code (main.ts imports a role's start module on demand): an idle
 * API does not carry got or the simulator, and a worker does not carry the API's app (bull-board,
 * helmet, the OpenAPI document). One stray value import (the worker once took `listen` from the
 * API's start module) cost every worker 2.5 MiB of heap and 3 MiB of RSS for code it never ran.
 * This follows the value imports, re-exports and dynamic imports from each role's entry.
 */
const SRC = resolve(import.meta.dirname, '..', 'src');
// Value imports and re-exports (`import type` / `export type` load nothing), and dynamic imports.
const VALUE_IMPORT = /^(?:import|export)\s+(?!type\b)[^;]*?from\s+'([^']+)';|\bimport\(\s*'([^']+)'\s*\)/gms;

function reachable(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    for (const [, from, dynamic] of readFileSync(file, 'utf8').matchAll(VALUE_IMPORT)) {
      const spec = from ?? dynamic;
      if (spec!.startsWith('.')) visit(resolve(dirname(file), spec!.replace(/\.js$/, '.ts')));
      else if (!spec!.startsWith('node:'))
        packages.add(spec!.startsWith('@') ? spec!.split('/').slice(0, 2).join('/') : spec!.split('/')[0]!);
    }
  };
  visit(join(SRC, entry));
  return { files: new Set([...files].map((f) => relative(SRC, f))), packages };
}

describe('what each role loads', () => {
  it('the worker loads no module of the API or the simulator, and neither bull-board nor helmet', () => {
    const { files, packages } = reachable('worker/start-worker.ts');
    expect([...files].filter((f) => f.startsWith('api/') || f.startsWith('simulator/'))).toEqual([]);
    expect(
      [...packages].filter((p) =>
        ['@bull-board/api', '@bull-board/express', 'helmet', 'express-rate-limit', 'rate-limit-redis'].includes(p),
      ),
    ).toEqual([]);
    // The walk itself reaches the worker's own modules (a reader that found nothing would pass the lines above).
    expect(files).toContain('worker/process-intent.ts');
    expect(packages).toContain('got');
  });

  it('the API loads no module of the worker or the simulator, and not got', () => {
    const { files, packages } = reachable('api/start-api.ts');
    expect([...files].filter((f) => f.startsWith('worker/') || f.startsWith('simulator/'))).toEqual([]);
    expect(packages).not.toContain('got');
    expect(files).toContain('api/intents-routes.ts');
  });
});
