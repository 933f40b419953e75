import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join, relative, resolve } from 'node:path';

/**
 * A build of holdq from the sources as they are now, for tests that run real processes
 * (`node <build>/main.js api|worker`). `npm test` does not build (CI builds before it; a checkout
 * may have no dist/, or one older than src/), so `holdqBuild` answers dist/main.js only when dist/
 * is the build of the current sources: every src/**\/*.ts has its .js, written after it, and every
 * .lua is the same. Otherwise it makes a build of its own, as `npm run build` would (tsc -p
 * tsconfig.build.json, then the .lua files beside the code; Redoc's bundle is not copied, so the
 * API serves /docs from the installed @redocly/cli, as it does from the sources), and never
 * touches dist/.
 *
 * That build is kept in node_modules/.cache/holdq-test-build/<hash of src/ and the tsconfigs>, so
 * a second run on unchanged sources reuses it (tsc takes 7-10 s on a 2-core machine). It is
 * built in a directory of its own and renamed into place, so two runs at once cannot see half of
 * one. node_modules/ is an ancestor, so the build resolves the installed packages as dist/ does.
 */
const ROOT = resolve(import.meta.dirname, '..', '..');
const CACHE = join(ROOT, 'node_modules', '.cache', 'holdq-test-build');
const INPUTS = ['tsconfig.json', 'tsconfig.build.json', 'package.json'];

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)]))
    .sort();
}

/** A hash of everything the build reads from the checkout: src/ and the files in INPUTS. */
export function sourceHash(): string {
  const hash = createHash('sha256');
  for (const file of [...files(join(ROOT, 'src')), ...INPUTS.map((f) => join(ROOT, f))]) {
    hash.update(relative(ROOT, file)).update('\0').update(readFileSync(file)).update('\0');
  }
  return hash.digest('hex').slice(0, 16);
}

function run(cmd: string, args: string[], timeoutMs: number): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolvePromise();
      else reject(new Error(`${cmd} ${args.join(' ')} ended with ${signal ?? code}:\n${out.slice(-4000)}`));
    });
  });
}

/** Whether dist/ is the build of src/ as it is now (see above). */
export function distIsCurrent(): boolean {
  const src = join(ROOT, 'src');
  const dist = join(ROOT, 'dist');
  const main = join(dist, 'main.js');
  if (!existsSync(main)) return false;
  for (const config of ['tsconfig.json', 'tsconfig.build.json'])
    if (statSync(join(ROOT, config)).mtimeMs > statSync(main).mtimeMs) return false;
  for (const file of files(src)) {
    const rel = relative(src, file);
    // The wallboard page is Vite's (dist/wallboard/), not tsc's: no .js of its own beside it.
    if (rel.startsWith('wallboard/')) continue;
    if (file.endsWith('.ts')) {
      const out = join(dist, rel.replace(/\.ts$/, '.js'));
      if (!existsSync(out) || statSync(out).mtimeMs < statSync(file).mtimeMs) return false;
    } else if (file.endsWith('.lua')) {
      const out = join(dist, rel);
      if (!existsSync(out) || !readFileSync(out).equals(readFileSync(file))) return false;
    }
  }
  return true;
}

/** The path of main.js in a build of the current sources: dist/'s if current, else one of its own (built now if none is kept). */
export async function holdqBuild(opts: { timeoutMs?: number } = {}): Promise<string> {
  if (distIsCurrent()) return join(ROOT, 'dist', 'main.js');
  const hash = sourceHash();
  const dir = join(CACHE, hash);
  const main = join(dir, 'dist', 'main.js');
  if (existsSync(join(dir, 'complete'))) return main;
  mkdirSync(CACHE, { recursive: true });
  const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
  try {
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    await run(
      process.execPath,
      [tsc, '-p', 'tsconfig.build.json', '--outDir', join(tmp, 'dist'), '--sourceMap', 'false'],
      opts.timeoutMs ?? 120_000,
    );
    // As scripts/build-assets.mjs does: the Redis scripts, which infra/redis-script.ts reads at run time.
    cpSync(join(ROOT, 'src'), join(tmp, 'dist'), {
      recursive: true,
      filter: (path) => statSync(path).isDirectory() || path.endsWith('.lua'),
    });
    writeFileSync(join(tmp, 'complete'), `${hash}\n`);
    try {
      renameSync(tmp, dir);
    } catch (err) {
      // Another run put the same build in place first: it is as good as this one.
      if (!existsSync(join(dir, 'complete'))) throw err;
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  // Builds of older sources, untouched for a day, go.
  for (const name of readdirSync(CACHE)) {
    const path = join(CACHE, name);
    if (name !== hash && Date.now() - statSync(path).mtimeMs > 24 * 3600_000)
      rmSync(path, { recursive: true, force: true });
  }
  return main;
}
