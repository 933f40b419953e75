import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { accountOf, ConfigError, envSchema, loadConfig } from '../src/config.js';

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
    expect(problems({ QUEUES: '{"support": {"service_level_target": 1.5}}' }).join('\n')).toMatch(
      /service_level_target/,
    );
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

  describe('Plivo accounts (PLIVO_ACCOUNTS, API_KEY_ACCOUNTS)', () => {
    const keys = { API_KEYS: 'crm:0123456789abcdef,acme-crm:fedcba9876543210' };

    it('when PLIVO_ACCOUNTS is unset, then the single-account settings are the account "default", unchanged', () => {
      const c = loadConfig({ ...keys, PLIVO_AUTH_ID: 'MAONE', PLIVO_AUTH_TOKEN: 'tok', PLIVO_MAX_RPS: '20' });
      expect(c.accounts).toEqual([
        {
          name: 'default',
          authId: 'MAONE',
          authToken: 'tok',
          baseUrl: 'https://api.plivo.com',
          maxRps: 20,
          maxCps: 2,
          transferBudget: 60,
          simulated: false,
        },
      ]);
      expect(accountOf(c, 'crm')).toBe('default');
    });

    it('when accounts are listed, then each has its own settings, the rest from the single-account ones, and keys map to them', () => {
      const c = loadConfig({
        ...keys,
        PLIVO_AUTH_ID: 'MAONE',
        PLIVO_AUTH_TOKEN: 'tok',
        TRANSFER_BUDGET: '40',
        PLIVO_ACCOUNTS: JSON.stringify([
          { name: 'acme', auth_id: 'MAACME', auth_token: 'acme-tok', max_rps: 5, max_cps: 3 },
          { name: 'lab' },
        ]),
        API_KEY_ACCOUNTS: 'acme-crm=acme',
      });
      expect(c.accounts.map((a) => [a.name, a.maxRps, a.maxCps, a.transferBudget, a.simulated])).toEqual([
        ['default', 50, 2, 40, false],
        ['acme', 5, 3, 40, false],
        ['lab', 50, 2, 40, true],
      ]);
      expect(accountOf(c, 'acme-crm')).toBe('acme');
      expect(accountOf(c, 'crm')).toBe('default');
      expect(c.simulated).toBe(true);
    });

    it('when PLIVO_ACCOUNTS names a file with @, then the file is read', () => {
      const dir = mkdtempSync(join(tmpdir(), 'holdq-accounts-'));
      const file = join(dir, 'accounts.json');
      writeFileSync(file, JSON.stringify([{ name: 'default' }, { name: 'acme' }]));
      try {
        const c = loadConfig({ PLIVO_ACCOUNTS: `@${file}` });
        expect(c.accounts.map((a) => a.name)).toEqual(['default', 'acme']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('when accounts are badly given, then each problem is named with its place', () => {
      expect(problems({ PLIVO_ACCOUNTS: 'not json' })).toEqual([expect.stringMatching(/^PLIVO_ACCOUNTS: not JSON/)]);
      expect(problems({ PLIVO_ACCOUNTS: '@/nonexistent/accounts.json' })).toEqual([
        expect.stringMatching(/^PLIVO_ACCOUNTS: cannot read \/nonexistent\/accounts.json/),
      ]);
      expect(problems({ PLIVO_ACCOUNTS: '[]' })).toEqual([expect.stringMatching(/at least one account/)]);
      const p = problems({
        PLIVO_ACCOUNTS: JSON.stringify([
          { name: 'a b' },
          { name: 'x', max_rps: 0 },
          { name: 'x', auth_id: 'MAX' },
          { name: 'y', password: 'z' },
        ]),
      });
      expect(p.join('\n')).toMatch(/\[0\]\.name: A-Z/);
      expect(p.join('\n')).toMatch(/\[1\]\.max_rps/);
      expect(p.join('\n')).toMatch(/\[3\]: Unrecognized key: "password"/);
      expect(problems({ PLIVO_ACCOUNTS: JSON.stringify([{ name: 'x' }, { name: 'x', auth_id: 'MAX' }]) })).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/"x" is listed twice/),
          expect.stringMatching(/\[1\] \(x\): set both auth_id and auth_token/),
        ]),
      );
    });

    it('when keys name accounts that do not exist, or a key has no account, then start-up says which', () => {
      expect(
        problems({ ...keys, PLIVO_ACCOUNTS: JSON.stringify([{ name: 'acme' }]), API_KEY_ACCOUNTS: 'acme-crm=acme' }),
      ).toEqual([expect.stringMatching(/no account for "crm"; with no "default" account every key needs one/)]);
      expect(problems({ ...keys, API_KEY_ACCOUNTS: 'crm=nowhere' })).toEqual([
        expect.stringMatching(/"crm" uses account "nowhere", which PLIVO_ACCOUNTS does not list/),
      ]);
      expect(problems({ ...keys, API_KEY_ACCOUNTS: 'ghost=default' })).toEqual([
        expect.stringMatching(/API_KEY_ACCOUNTS: "ghost" is not the name of a key/),
      ]);
      expect(
        problems({
          ...keys,
          PLIVO_AUTH_ID: 'MAONE',
          PLIVO_AUTH_TOKEN: 'tok',
          PLIVO_ACCOUNTS: JSON.stringify([{ name: 'default' }]),
        }),
      ).toEqual([expect.stringMatching(/lists "default" while PLIVO_AUTH_ID\/PLIVO_AUTH_TOKEN also set it/)]);
      // Real credentials in any account: holdq never runs open.
      expect(
        problems({
          PLIVO_ACCOUNTS: JSON.stringify([{ name: 'default' }, { name: 'a', auth_id: 'MA', auth_token: 't' }]),
        }),
      ).toEqual([expect.stringMatching(/^API_KEYS: required/)]);
    });
  });
});
