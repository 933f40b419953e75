import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { DEFAULT_ACCOUNT, type PlivoAccount } from './domain/account.js';
import { E164, SAFE_ID } from './domain/intent.js';
import { INTENT_CLASSES, type IntentClass } from './domain/intent-class.js';
import { queuesConfig } from './domain/queue-config.js';
import { PLIVO_TRANSFER_CAP } from './domain/transfers.js';

/**
 * The whole environment in one zod schema (README, "Configuration", and .env.example). `loadConfig` lists every
 * bad key in one error; the result is frozen and passed down, never re-read.
 */

const port = z.coerce.number().int().min(0).max(65_535);
const positiveInt = (max: number) => z.coerce.number().int().min(1).max(max);
const url = z.url({ protocol: /^https?$/ });

const list = (s: string) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);

const apiKeys = z.string().transform((s, ctx) => {
  const keys: { name: string; secret: string }[] = [];
  for (const pair of list(s)) {
    const i = pair.indexOf(':');
    const name = i > 0 ? pair.slice(0, i) : '';
    const secret = i > 0 ? pair.slice(i + 1) : '';
    if (!SAFE_ID.test(name) || secret.length < 16) {
      ctx.addIssue({
        code: 'custom',
        message: `each entry must be name:secret with a name of A-Z a-z 0-9 _ - and a secret of at least 16 characters (got "${name || pair.slice(0, 12)}…")`,
      });
      return z.NEVER;
    }
    if (keys.some((k) => k.name === name)) {
      ctx.addIssue({ code: 'custom', message: `duplicate key name "${name}"` });
      return z.NEVER;
    }
    keys.push({ name, secret });
  }
  return keys;
});

const clientClasses = z.string().transform((s, ctx) => {
  const classes: Record<string, IntentClass> = {};
  for (const pair of list(s)) {
    const [name = '', cls = ''] = pair.split('=').map((x) => x.trim());
    if (!SAFE_ID.test(name) || !(INTENT_CLASSES as readonly string[]).includes(cls)) {
      ctx.addIssue({
        code: 'custom',
        message: `each entry must be client=class with a class of ${INTENT_CLASSES.join(', ')} (got "${pair.slice(0, 40)}")`,
      });
      return z.NEVER;
    }
    classes[name] = cls as IntentClass;
  }
  return classes;
});

const clientAccounts = z.string().transform((s, ctx) => {
  const accounts: Record<string, string> = {};
  for (const pair of list(s)) {
    const [name = '', account = ''] = pair.split('=').map((x) => x.trim());
    if (!SAFE_ID.test(name) || !SAFE_ID.test(account)) {
      ctx.addIssue({ code: 'custom', message: `each entry must be client=account (got "${pair.slice(0, 40)}")` });
      return z.NEVER;
    }
    accounts[name] = account;
  }
  return accounts;
});

const authId = z.string().regex(/^[A-Za-z0-9]{1,64}$/, 'letters and digits only');

/** One entry of PLIVO_ACCOUNTS, as SPEC §12 writes it (snake_case); what is left out comes from the single-account settings. */
const accountEntry = z.strictObject({
  name: z.string().regex(SAFE_ID, 'A-Z a-z 0-9 _ -, starting with a letter or digit, at most 64'),
  auth_id: authId.optional(),
  auth_token: z.string().min(1).optional(),
  base_url: url.optional(),
  max_rps: positiveInt(10_000).optional(),
  max_cps: positiveInt(1000).optional(),
  transfer_budget: positiveInt(PLIVO_TRANSFER_CAP).optional(),
});
export type AccountEntry = z.infer<typeof accountEntry>;

/** PLIVO_ACCOUNTS: a JSON array, or `@/path/to/file.json` holding one (a Kubernetes Secret mounted as a file). */
const plivoAccounts = z.string().transform((s, ctx) => {
  let text = s.trim();
  if (text.startsWith('@')) {
    try {
      text = readFileSync(text.slice(1), 'utf8');
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: `cannot read ${text.slice(1)}: ${(err as Error).message}` });
      return z.NEVER;
    }
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: `not JSON: ${(err as Error).message}` });
    return z.NEVER;
  }
  const parsed = z.array(accountEntry).min(1, 'list at least one account').safeParse(json);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const at = issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('');
      ctx.addIssue({ code: 'custom', message: `${at ? `${at.replace(/^\./, '')}: ` : ''}${issue.message}` });
    }
    return z.NEVER;
  }
  const seen = new Set<string>();
  for (const [i, a] of parsed.data.entries()) {
    if (seen.has(a.name)) ctx.addIssue({ code: 'custom', message: `[${i}].name: "${a.name}" is listed twice` });
    seen.add(a.name);
    if (Boolean(a.auth_id) !== Boolean(a.auth_token))
      ctx.addIssue({
        code: 'custom',
        message: `[${i}] (${a.name}): set both auth_id and auth_token, or neither (a simulator of its own)`,
      });
  }
  return parsed.data;
});

const musicProfiles = z.string().transform((s, ctx) => {
  const profiles: Record<string, string> = {};
  for (const pair of list(s)) {
    const i = pair.indexOf('=');
    const name = pair.slice(0, Math.max(i, 0));
    const target = pair.slice(i + 1);
    if (i <= 0 || !SAFE_ID.test(name) || !url.safeParse(target).success) {
      ctx.addIssue({ code: 'custom', message: `each entry must be name=https://… (got "${pair.slice(0, 40)}")` });
      return z.NEVER;
    }
    profiles[name] = target;
  }
  return profiles;
});

const queuesJson = z.string().transform((s, ctx) => {
  let raw: unknown;
  try {
    raw = JSON.parse(s);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: `not valid JSON: ${(err as Error).message}` });
    return z.NEVER;
  }
  const parsed = queuesConfig.safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues)
      ctx.addIssue({ code: 'custom', message: `${issue.path.join('.')}: ${issue.message}` });
    return z.NEVER;
  }
  return parsed.data;
});

export const envSchema = z
  .object({
    PORT: port.default(3000),
    REDIS_URL: z.url({ protocol: /^rediss?$/ }).default('redis://127.0.0.1:6379'),
    QUEUE_PREFIX: z
      .string()
      .regex(
        /^(\{[A-Za-z0-9_-]{1,32}\}|[A-Za-z0-9_-]{1,32})$/,
        'letters, digits, _ and -, optionally in {braces} for Redis Cluster',
      )
      .default('holdq'),
    REDIS_CLUSTER: z
      .enum(['true', 'false'])
      .default('false')
      .transform((v) => v === 'true'),
    API_KEYS: apiKeys.default([]),
    ADMIN_KEYS: apiKeys.default([]),
    READ_KEYS: apiKeys.default([]),
    API_KEY_CLASSES: clientClasses.default({}),
    API_KEY_ACCOUNTS: clientAccounts.default({}),
    PLIVO_ACCOUNTS: plivoAccounts.optional(),
    PLIVO_AUTH_ID: authId.optional(),
    PLIVO_AUTH_TOKEN: z.string().min(1).optional(),
    PLIVO_BASE_URL: url.default('https://api.plivo.com'),
    /** Unset: http://127.0.0.1:${PORT} (loadConfig), so a PORT of its own does not leave the XML links on :3000. */
    PUBLIC_BASE_URL: url.optional(),
    /** Ask ${PUBLIC_BASE_URL}/livez at start-up and warn when it is not holdq (off where the public URL is unreachable from inside). */
    PUBLIC_BASE_URL_CHECK: z
      .enum(['true', 'false'])
      .default('true')
      .transform((v) => v === 'true'),
    PLIVO_TIMEOUT_MS: positiveInt(60_000).default(5000),
    PLIVO_MAX_RPS: positiveInt(10_000).default(50),
    TRANSFER_MAX_ATTEMPTS: positiveInt(50).default(5),
    TRANSFER_BACKOFF_MS: positiveInt(600_000).default(1000),
    TRANSFER_BUDGET: positiveInt(PLIVO_TRANSFER_CAP).default(60),
    TRANSFER_URL_ALLOWLIST: z.string().transform(list).optional(),
    HOLD_MUSIC_URL: url.default('https://s3.amazonaws.com/plivocloud/music.mp3'),
    HOLD_MUSIC_PROFILES: musicProfiles.default({}),
    WORKER_CONCURRENCY: positiveInt(1000).default(50),
    METRICS_PORT: port.default(9464),
    CALLBACK_SECRET: z.string().min(16).optional(),
    CALLBACK_ALLOW_PRIVATE: z
      .enum(['true', 'false'])
      .default('false')
      .transform((v) => v === 'true'),
    API_RATE_LIMIT_RPS: z.coerce.number().int().min(0).max(1_000_000).default(200),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    INTENT_RETENTION_SECONDS: positiveInt(90 * 24 * 3600).default(7 * 24 * 3600),
    QUEUES: queuesJson.default({}),
    QUEUES_STRICT: z
      .enum(['true', 'false'])
      .default('false')
      .transform((v) => v === 'true'),
    QUEUE_IDLE_SECONDS: positiveInt(365 * 24 * 3600).default(24 * 3600),
    METRICS_MAX_QUEUES: z.coerce.number().int().min(0).max(10_000).default(50),
    EVENTS_RETENTION: z.coerce.number().int().min(100).max(10_000_000).default(100_000),
    EVENTS_MAX_STREAMS: z.coerce.number().int().min(1).max(100_000).default(5000),
    EVENTS_MAX_STREAMS_PER_KEY: z.coerce.number().int().min(1).max(100_000).default(100),
    EVENTS_KEEPALIVE_SECONDS: z.coerce.number().int().min(1).max(15).default(15),
    STATS_WINDOW_SECONDS: positiveInt(86_400).default(3600),
    WALLBOARD_SESSION_SECONDS: positiveInt(7 * 86_400).default(12 * 3600),
    RECONCILE_INTERVAL_SECONDS: z.coerce.number().int().min(0).max(86_400).default(60),
    /** Call-me-back (SPEC §10): the caller id of call-backs (E.164; the simulator takes any). */
    CALLBACK_CALLER_ID: z.string().regex(E164, 'must be a phone number in E.164 form, e.g. +14155550100').optional(),
    CALLBACK_RETRY_SECONDS: positiveInt(86_400).default(120),
    CALLBACK_ATTEMPTS: positiveInt(20).default(3),
    CALLBACK_RING_SECONDS: positiveInt(120).default(30),
    PLIVO_MAX_CPS: positiveInt(1000).default(2),
    SHUTDOWN_TIMEOUT_MS: positiveInt(600_000).default(25_000),
    SIMULATOR_PORT: port.default(8089),
    SIMULATOR_HOST: z.string().min(1).default('127.0.0.1'),
    SIMULATOR_AUTO_CALLS: z
      .enum(['true', 'false'])
      .default('true')
      .transform((v) => v === 'true'),
  })
  .superRefine((env, ctx) => {
    if (Boolean(env.PLIVO_AUTH_ID) !== Boolean(env.PLIVO_AUTH_TOKEN)) {
      ctx.addIssue({
        code: 'custom',
        path: [env.PLIVO_AUTH_ID ? 'PLIVO_AUTH_TOKEN' : 'PLIVO_AUTH_ID'],
        message: 'set both PLIVO_AUTH_ID and PLIVO_AUTH_TOKEN, or neither (to use the built-in simulator)',
      });
    }
    const names = [...env.API_KEYS, ...env.ADMIN_KEYS, ...env.READ_KEYS].map((k) => k.name);
    for (const name of new Set(names.filter((n, i) => names.indexOf(n) !== i))) {
      ctx.addIssue({
        code: 'custom',
        path: ['API_KEYS'],
        message: `key name "${name}" appears in more than one of API_KEYS, ADMIN_KEYS and READ_KEYS; a name is one client with one role`,
      });
    }
    for (const client of Object.keys(env.API_KEY_ACCOUNTS)) {
      if (!names.includes(client)) {
        ctx.addIssue({
          code: 'custom',
          path: ['API_KEY_ACCOUNTS'],
          message: `"${client}" is not the name of a key in API_KEYS, ADMIN_KEYS or READ_KEYS`,
        });
      }
    }
    for (const client of Object.keys(env.API_KEY_CLASSES)) {
      if (!names.includes(client)) {
        ctx.addIssue({
          code: 'custom',
          path: ['API_KEY_CLASSES'],
          message: `"${client}" is not the name of a key in API_KEYS or ADMIN_KEYS`,
        });
      }
    }
    if (env.REDIS_CLUSTER && !/^\{.+\}$/.test(env.QUEUE_PREFIX)) {
      ctx.addIssue({
        code: 'custom',
        path: ['QUEUE_PREFIX'],
        message: 'on Redis Cluster the prefix must be a hash tag such as {holdq}, so every key lands in one slot',
      });
    }
  });

export type Env = z.infer<typeof envSchema>;

/**
 * What a key may do. `read`: GET under /v1 (READ_KEYS). `write`: that, and post intents; it may
 * look at the admin board (API_KEYS). `admin`: everything, including the board's actions and
 * retrying dead letters (ADMIN_KEYS).
 */
export type KeyRole = 'read' | 'write' | 'admin';

export interface AccessKey {
  name: string;
  secret: string;
  role: KeyRole;
}

export interface Config extends Omit<Env, 'TRANSFER_URL_ALLOWLIST' | 'PUBLIC_BASE_URL' | 'PLIVO_ACCOUNTS'> {
  TRANSFER_URL_ALLOWLIST: string[];
  PUBLIC_BASE_URL: string;
  /** Every key of API_KEYS, ADMIN_KEYS and READ_KEYS, with its role. */
  keys: readonly AccessKey[];
  /**
   * Every Plivo account: PLIVO_ACCOUNTS, and `default` from PLIVO_AUTH_ID/PLIVO_AUTH_TOKEN (or the
   * simulator) when PLIVO_ACCOUNTS is unset or those are set beside it.
   */
  accounts: readonly PlivoAccount[];
  /** True when some account has no Plivo credentials: its transfers go to a built-in simulator. */
  simulated: boolean;
}

/** The account a client's intents use (API_KEY_ACCOUNTS, else `default`). */
export function accountOf(config: Pick<Config, 'API_KEY_ACCOUNTS'>, client: string): string {
  return config.API_KEY_ACCOUNTS[client] ?? DEFAULT_ACCOUNT;
}

/** The accounts, from the parsed environment (the problems go to `problems`). */
function resolveAccounts(e: Env, problems: string[]): PlivoAccount[] {
  const account = (a: AccountEntry): PlivoAccount => ({
    name: a.name,
    authId: a.auth_id ?? null,
    authToken: a.auth_token ?? null,
    baseUrl: a.base_url ?? e.PLIVO_BASE_URL,
    maxRps: a.max_rps ?? e.PLIVO_MAX_RPS,
    maxCps: a.max_cps ?? e.PLIVO_MAX_CPS,
    transferBudget: a.transfer_budget ?? e.TRANSFER_BUDGET,
    simulated: !a.auth_id,
  });
  const single = { name: DEFAULT_ACCOUNT, auth_id: e.PLIVO_AUTH_ID, auth_token: e.PLIVO_AUTH_TOKEN };
  const listed = e.PLIVO_ACCOUNTS ?? [];
  if (listed.some((a) => a.name === DEFAULT_ACCOUNT) && e.PLIVO_AUTH_ID) {
    problems.push(
      'PLIVO_ACCOUNTS: lists "default" while PLIVO_AUTH_ID/PLIVO_AUTH_TOKEN also set it; keep one of the two',
    );
  }
  const withDefault = !e.PLIVO_ACCOUNTS || (e.PLIVO_AUTH_ID && !listed.some((a) => a.name === DEFAULT_ACCOUNT));
  const accounts = [...(withDefault ? [single] : []), ...listed].map(account);
  const names = new Set(accounts.map((a) => a.name));
  for (const [client, name] of Object.entries(e.API_KEY_ACCOUNTS)) {
    if (!names.has(name))
      problems.push(`API_KEY_ACCOUNTS: "${client}" uses account "${name}", which PLIVO_ACCOUNTS does not list`);
  }
  if (!names.has(DEFAULT_ACCOUNT)) {
    const unplaced = [...e.API_KEYS, ...e.ADMIN_KEYS, ...e.READ_KEYS]
      .map((k) => k.name)
      .filter((n) => !Object.hasOwn(e.API_KEY_ACCOUNTS, n));
    if (unplaced.length > 0)
      problems.push(
        `API_KEY_ACCOUNTS: no account for ${unplaced.map((n) => `"${n}"`).join(', ')}; with no "default" account every key needs one (or set PLIVO_AUTH_ID/PLIVO_AUTH_TOKEN, or list {"name":"default"} in PLIVO_ACCOUNTS)`,
      );
  }
  return accounts;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Parses the environment; empty strings count as unset, like most .env loaders. */
export function loadConfig(source: Record<string, string | undefined>, opts: { role?: string } = {}): Readonly<Config> {
  const env = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = envSchema.safeParse(env);
  const problems = parsed.success
    ? []
    : parsed.error.issues.map((i) => `${i.path.join('.') || '(environment)'}: ${i.message}`);
  if (!parsed.success) throw new ConfigError(problems);
  const e = parsed.data;
  const { PLIVO_ACCOUNTS: _listed, ...settings } = e;
  const accounts = resolveAccounts(e, problems);
  // With real credentials holdq never runs open; the simulator serves no API, so it needs no keys.
  if (opts.role !== 'simulator' && accounts.some((a) => !a.simulated) && !env.API_KEYS && !env.ADMIN_KEYS) {
    problems.push(
      'API_KEYS: required (or ADMIN_KEYS) with real Plivo credentials: holdq never runs open (name:secret,…)',
    );
  }
  if (problems.length > 0) throw new ConfigError(problems);
  const publicBaseUrl = e.PUBLIC_BASE_URL ?? `http://127.0.0.1:${e.PORT}`;
  return Object.freeze({
    ...settings,
    keys: accessKeys(e),
    PUBLIC_BASE_URL: publicBaseUrl,
    TRANSFER_URL_ALLOWLIST: e.TRANSFER_URL_ALLOWLIST ?? [new URL(publicBaseUrl).host],
    accounts: Object.freeze(accounts.map((a) => Object.freeze(a))),
    simulated: accounts.some((a) => a.simulated),
  });
}

/** The three key lists as one, each key with its role. */
export function accessKeys(e: Pick<Env, 'API_KEYS' | 'ADMIN_KEYS' | 'READ_KEYS'>): readonly AccessKey[] {
  return Object.freeze([
    ...e.ADMIN_KEYS.map((k) => ({ ...k, role: 'admin' as const })),
    ...e.API_KEYS.map((k) => ({ ...k, role: 'write' as const })),
    ...e.READ_KEYS.map((k) => ({ ...k, role: 'read' as const })),
  ]);
}
