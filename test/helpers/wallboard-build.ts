import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

/**
 * A build of the wallboard page from its sources as they are now (src/wallboard/, built by Vite
 * as `npm run build` does). dist/wallboard/ when it is newer than every source file; otherwise a
 * build of its own in node_modules/.cache/holdq-test-wallboard/<hash of the sources>, made once
 * (about a second) and never in dist/ (as holdq-build.ts does for the server's code).
 */
const ROOT = resolve(import.meta.dirname, '..', '..');
const SOURCES = join(ROOT, 'src', 'wallboard');
const CONFIG = join(ROOT, 'vite.config.mjs');
const CACHE = join(ROOT, 'node_modules', '.cache', 'holdq-test-wallboard');

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)]))
    .sort();
}

function isCurrent(dir: string): boolean {
  const manifest = join(dir, '.vite', 'manifest.json');
  if (!existsSync(manifest)) return false;
  const built = statSync(manifest).mtimeMs;
  return [...files(SOURCES), CONFIG].every((f) => statSync(f).mtimeMs <= built);
}

export async function wallboardBuild(): Promise<string> {
  const dist = join(ROOT, 'dist', 'wallboard');
  if (isCurrent(dist)) return dist;
  const hash = createHash('sha256');
  for (const f of [...files(SOURCES), CONFIG]) hash.update(relative(ROOT, f)).update('\0').update(readFileSync(f));
  const dir = join(CACHE, hash.digest('hex').slice(0, 16));
  if (existsSync(join(dir, '.vite', 'manifest.json'))) return dir;
  mkdirSync(CACHE, { recursive: true });
  const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
  try {
    await new Promise<void>((done, fail) => {
      const vite = join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js');
      const child = spawn(
        process.execPath,
        [vite, 'build', '--config', CONFIG, '--outDir', tmp, '--emptyOutDir', '--logLevel', 'error'],
        { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let out = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      child.stderr.on('data', (c: Buffer) => (out += c.toString()));
      child.once('exit', (code) => (code === 0 ? done() : fail(new Error(`vite build failed (${code}):\n${out}`))));
    });
    try {
      renameSync(tmp, dir);
    } catch (err) {
      // Another test file built the same sources first: as good as this build.
      if (!existsSync(join(dir, '.vite', 'manifest.json'))) throw err;
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return dir;
}
