import { spawn, type ChildProcess } from 'node:child_process';
import { freePort } from './redis-server.js';

/**
 * holdq roles as real processes (`node <build>/main.js api|worker`, see holdq-build.ts), for
 * tests of several APIs and workers on one Redis. Each process gets only the environment it is
 * given (plus PATH and HOME): nothing of the test runner's (its NODE_OPTIONS, a REDIS_URL) leaks
 * in. Its output is kept, the last lines shown when it fails to start. Every process this module
 * starts is killed (SIGKILL) if the test process exits without stopping it.
 */
export interface HoldqProcess {
  name: string;
  role: 'api' | 'worker';
  /** http://127.0.0.1:PORT for an API, http://127.0.0.1:METRICS_PORT (its ops server) for a worker. */
  url: string;
  child: ChildProcess;
  /** Resolves when the process has exited. */
  exited: Promise<void>;
  alive(): boolean;
  /** The last lines of its stdout and stderr. */
  output(): string;
  /** Sends `signal` and waits for the exit; SIGKILL after `graceMs` if it is still there. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<void>;
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** `count` distinct ports that were free a moment ago. */
export async function freePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  for (let i = 0; ports.size < count && i < count * 10; i++) ports.add(await freePort());
  if (ports.size < count) throw new Error(`found only ${ports.size} free ports of ${count}`);
  return [...ports];
}

export function spawnHoldq(
  main: string,
  role: 'api' | 'worker',
  name: string,
  env: Record<string, string>,
): HoldqProcess {
  const child = spawn(process.execPath, ['--max-old-space-size=128', '--max-semi-space-size=8', main, role], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  const lines: string[] = [];
  const keep = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) {
      lines.push(line.slice(0, 2000));
      if (lines.length > 200) lines.shift();
    }
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else
      child.once('exit', (code, signal) => {
        live.delete(child);
        lines.push(`[${name} exited: ${signal ?? code}]`);
        resolve();
      });
  });
  const alive = () => child.exitCode === null && child.signalCode === null;
  const port = role === 'api' ? env.PORT : env.METRICS_PORT;
  return {
    name,
    role,
    url: `http://127.0.0.1:${port}`,
    child,
    exited,
    alive,
    output: () => lines.slice(-30).join('\n'),
    async stop(signal = 'SIGTERM', graceMs = 5000) {
      if (!alive()) return;
      child.kill(signal);
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          if (alive()) child.kill('SIGKILL');
          resolve();
        }, graceMs);
      });
      await Promise.race([exited, late]);
      clearTimeout(timer);
      await exited;
    },
  };
}

/** Resolves once `p` answers 200 on /readyz; fails, with its last output, if it exits or takes longer than `timeoutMs`. */
export async function waitReady(p: HoldqProcess, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!p.alive()) throw new Error(`${p.name} exited before it was ready:\n${p.output()}`);
    const ok = await fetch(`${p.url}/readyz`, { signal: AbortSignal.timeout(2000) }).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${p.name} not ready after ${timeoutMs} ms:\n${p.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
