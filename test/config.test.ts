import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { ConfigError, envSchema, loadConfig } from '../src/config.js';

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('configuration', () => {
  it('when nothing is set, then the documented defaults apply and holdq runs on the simulator', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      PORT: 3000,
      REDIS_URL: 'redis://127.0.0.1:6379',
      QUEUE_PREFIX: 'holdq',
      PLIVO_BASE_URL: 'https://api.plivo.com',
      PUBLIC_BASE_URL: 'http://127.0.0.1:3000',
      PLIVO_TIMEOUT_MS: 5000,
      PLIVO_MAX_RPS: 50,
      TRANSFER_MAX_ATTEMPTS: 5,
      TRANSFER_BUDGET: 60,
      TRANSFER_URL_ALLOWLIST: ['127.0.0.1:3000'],
      WORKER_CONCURRENCY: 50,
      METRICS_PORT: 9464,
      LOG_LEVEL: 'info',
      simulated: true,
      API_KEYS: [],
    });
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('when values are given, then they are parsed into types', () => {
    const c = loadConfig({
      API_KEYS: 'crm:0123456789abcdef, ivr:fedcba9876543210',
      PLIVO_AUTH_ID: 'MAXXXX',
      PLIVO_AUTH_TOKEN: 'tok',
      TRANSFER_URL_ALLOWLIST: 'a.example, b.example:8443',
      HOLD_MUSIC_PROFILES: 'jazz=https://cdn.example/jazz.mp3',
      QUEUE_PREFIX: '{holdq}',
    });
    expect(c.API_KEYS).toEqual([
      { name: 'crm', secret: '0123456789abcdef' },
      { name: 'ivr', secret: 'fedcba9876543210' },
    ]);
    expect(c.TRANSFER_URL_ALLOWLIST).toEqual(['a.example', 'b.example:8443']);
    expect(c.HOLD_MUSIC_PROFILES).toEqual({ jazz: 'https://cdn.example/jazz.mp3' });
    expect(c.simulated).toBe(false);
  });

  it('when several keys are wrong, then one error lists every one of them', () => {
    const p = problems({
      PORT: 'eighty',
      REDIS_URL: 'http://nope',
      PLIVO_MAX_RPS: '0',
      TRANSFER_BUDGET: '71',
      LOG_LEVEL: 'loud',
      API_KEYS: 'nocolon',
      QUEUE_PREFIX: 'a:b',
      HOLD_MUSIC_PROFILES: 'jazz',
      PUBLIC_BASE_URL: 'not a url',
    });
    for (const key of [
      'PORT',
      'REDIS_URL',
      'PLIVO_MAX_RPS',
      'TRANSFER_BUDGET',
      'LOG_LEVEL',
      'API_KEYS',
      'QUEUE_PREFIX',
      'HOLD_MUSIC_PROFILES',
      'PUBLIC_BASE_URL',
    ]) {
      expect(p.some((line) => line.startsWith(`${key}:`))).toBe(true);
    }
  });

  it('when only one Plivo credential is set, then start-up is refused', () => {
    expect(problems({ PLIVO_AUTH_ID: 'MAXXXX', API_KEYS: 'a:0123456789abcdef' })).toEqual([
      expect.stringMatching(/^PLIVO_AUTH_TOKEN: set both/),
    ]);
  });

  it('when real credentials are set without API_KEYS, then holdq refuses to run open (the simulator role needs none)', () => {
    expect(problems({ PLIVO_AUTH_ID: 'MAXXXX', PLIVO_AUTH_TOKEN: 't' })).toEqual([
      expect.stringMatching(/^API_KEYS: required/),
    ]);
    expect(loadConfig({ PLIVO_AUTH_ID: 'MAXXXX', PLIVO_AUTH_TOKEN: 't' }, { role: 'simulator' }).PLIVO_AUTH_ID).toBe(
      'MAXXXX',
    );
  });

  it('when an API key secret is short or a name repeats, then it is rejected', () => {
    expect(problems({ API_KEYS: 'a:short' })[0]).toMatch(/^API_KEYS: .*at least 16/);
    expect(problems({ API_KEYS: 'a:0123456789abcdef,a:0123456789abcdeg' })[0]).toMatch(/duplicate key name "a"/);
  });

  it('when REDIS_CLUSTER is on, then the prefix must be a {hash tag}', () => {
    expect(problems({ REDIS_CLUSTER: 'true' })).toEqual([expect.stringMatching(/^QUEUE_PREFIX: on Redis Cluster/)]);
    expect(loadConfig({ REDIS_CLUSTER: 'true', QUEUE_PREFIX: '{holdq}' }).REDIS_CLUSTER).toBe(true);
  });

  it('when QUEUES is not valid JSON or breaks the queue schema, then start-up is refused', () => {
    expect(problems({ QUEUES: '{nope' })[0]).toMatch(/^QUEUES: not valid JSON/);
    expect(problems({ QUEUES: '{"support": {"max_size": 0, "colour": "red"}}' }).length).toBeGreaterThanOrEqual(2);
  });

  it('when PORT is set and PUBLIC_BASE_URL is not, then PUBLIC_BASE_URL (and the default allowlist) follow PORT; a PUBLIC_BASE_URL given wins', () => {
    expect(loadConfig({ PORT: '3203' })).toMatchObject({
      PUBLIC_BASE_URL: 'http://127.0.0.1:3203',
      TRANSFER_URL_ALLOWLIST: ['127.0.0.1:3203'],
    });
    expect(loadConfig({ PORT: '3203', PUBLIC_BASE_URL: '' }).PUBLIC_BASE_URL).toBe('http://127.0.0.1:3203');
    expect(loadConfig({ PORT: '3203', PUBLIC_BASE_URL: 'https://holdq.example.com' })).toMatchObject({
      PUBLIC_BASE_URL: 'https://holdq.example.com',
      TRANSFER_URL_ALLOWLIST: ['holdq.example.com'],
    });
  });

  it('when a value is an empty string, then it counts as unset', () => {
    expect(loadConfig({ PORT: '', API_KEYS: '' }).PORT).toBe(3000);
  });

  it('when .env.example is read, then it documents exactly the keys the schema knows, each with a comment', () => {
    const lines = readFileSync(new URL('../.env.example', import.meta.url), 'utf8').split('\n');
    const keys = lines.filter((l) => /^[A-Z_]+=/.test(l)).map((l) => l.split('=')[0]);
    expect([...keys].sort()).toEqual(Object.keys(envSchema.shape).sort());
    for (const key of keys) {
      const at = lines.findIndex((l) => l.startsWith(`${key}=`));
      expect(
        lines
          .slice(0, at)
          .reverse()
          .find((l) => !/^[A-Z_]+=/.test(l)),
      ).toMatch(/^# /);
    }
  });
});
