import { createHash, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';

/**
 * holdq's Redis scripts are files: `src/infra/lua/<name>.lua`, each opened by a header that names
 * its KEYS, its ARGV and what it returns, with shared pieces in `lua/includes/` brought in by
 * `--- @include "name"` (docs/architecture.md, "Redis scripts"). This module assembles a script
 * and runs it:
 *
 * - The header is the one source of the inputs' order. The loader binds them by name, so the script
 *   reads `KEY.intent` and `ARG.now_ms`, never `KEYS[1]`; a name ending in `...` takes the rest.
 * - `--- @insert name` is replaced by text the wrapper supplies (BullMQ's own job insert).
 * - Every script answers a table whose first element is a status from SCRIPT_STATUSES, one the
 *   header's Returns lists; anything else is an error, never a guess.
 * - A wrapper (`defineScript`) names the keys and arguments again, as TypeScript types; the loader
 *   checks the two lists agree when it first assembles the script, so a header and its wrapper
 *   cannot drift apart silently.
 * - Scripts run by SHA1 (EVALSHA): the text crosses the wire once, not with every call. NOSCRIPT
 *   (Redis restarted, SCRIPT FLUSH, a new cluster node) means nothing ran, so EVAL then sends the
 *   text and Redis caches it again.
 * - ioredis sends a command again when its connection broke before the reply came
 *   (`autoResendUnfulfilledCommands`): a script Redis ran whose reply was lost (a reset, a Redis
 *   killed under load) runs twice. Every script that writes is safe to run twice: the hot ones by
 *   what they find (an accept finds its record, a finish its record finished, the gate its own
 *   lock), the others by a header line `Once: …`, which makes the loader give each call a key of
 *   its own (KEYS[1], `<its first key>:once:<uuid>`, so in the same slot) where the script's reply
 *   is kept for ONCE_TTL_MS: a second run of the same call answers that reply and changes nothing.
 *   A call an automatic pipeline aborted when its connection broke (ioredis resends only whole
 *   pipelines) is sent again by `run`, with the same inputs.
 */
export const SCRIPT_STATUSES = [
  'ok',
  'created',
  'replayed',
  'budget_spent',
  'queue_full',
  'rate_limited',
  'not_waiting',
  'blocked',
  'locked',
  'taken',
  'empty',
  'removed',
  'absent',
  'changed',
  'unchanged',
  'due',
  'wait',
  'renewed',
  'acquired',
  'held',
] as const;
export type ScriptStatus = (typeof SCRIPT_STATUSES)[number];

export interface ScriptShape {
  /** Whether a call runs at most once (the header's `Once:` line): its reply is kept under a key of its own. */
  once?: boolean;
  /** KEYS in order; a last name ending in `...` takes the rest. */
  keys: readonly string[];
  /** ARGV in order; a last name ending in `...` takes the rest. */
  args: readonly string[];
  /** The statuses the script may answer. */
  returns: readonly ScriptStatus[];
}

export interface AssembledScript extends ScriptShape {
  name: string;
  /** The text Redis runs: bindings, includes and the script. */
  source: string;
  sha: string;
}

const LUA_DIR = new URL('./lua/', import.meta.url);
const NAME = /^[a-z][a-z0-9-]*$/;

function readLua(path: string): string {
  return readFileSync(new URL(path, LUA_DIR), 'utf8');
}

/** The header of a script: the names listed under KEYS: and ARGV:, the statuses under Returns:. */
export function parseHeader(name: string, text: string): ScriptShape {
  const header = /^--\[\[([\s\S]*?)\]\]/.exec(text)?.[1];
  if (!header) throw new Error(`lua/${name}.lua: no --[[ header ]] naming its KEYS, ARGV and Returns`);
  const section = (title: string) => {
    const m = new RegExp(`^\\s*${title}:\\s*$([\\s\\S]*?)(?=^\\s*(?:KEYS|ARGV|Returns):\\s*$|(?![\\s\\S]))`, 'm').exec(
      header,
    );
    if (!m) throw new Error(`lua/${name}.lua: its header has no ${title}: section`);
    return m[1]!.split('\n').filter((l) => /^\s{4}\S/.test(l) && !/^\s{5}/.test(l));
  };
  const names = (lines: string[], title: string) =>
    lines.map((l) => {
      const m = /^\s{4}([a-z][a-z0-9_]*(?:\.\.\.)?)(?:\s{2,}\S.*)?$/.exec(l);
      if (!m) throw new Error(`lua/${name}.lua: ${title} line not "name  what it is": ${l.trim()}`);
      return m[1]!;
    });
  const keys = names(section('KEYS'), 'KEYS');
  const args = names(section('ARGV'), 'ARGV');
  const returns = section('Returns').map((l) => {
    const m = /^\s{4}\{'([a-z_]+)'/.exec(l);
    if (!m) throw new Error(`lua/${name}.lua: Returns line not "{'status', …}": ${l.trim()}`);
    if (!(SCRIPT_STATUSES as readonly string[]).includes(m[1]!))
      throw new Error(`lua/${name}.lua: status '${m[1]}' is not in SCRIPT_STATUSES`);
    return m[1] as ScriptStatus;
  });
  for (const list of [keys, args]) {
    if (list.slice(0, -1).some((n) => n.endsWith('...')))
      throw new Error(`lua/${name}.lua: only the last name may take the rest (...)`);
  }
  return { ...(/^\s*Once:/m.test(header) ? { once: true } : {}), keys, args, returns };
}

/** How long a `Once:` script's reply is kept for a resend of the same call (a reconnect after an outage up to this long). */
export const ONCE_TTL_MS = 10 * 60_000;

/** The key a `Once:` call keeps its reply under: its first key's name and more, so under its prefix and in its Redis Cluster slot (the same first hash tag). */
export function onceKey(firstKey: string, id: string): string {
  if (!firstKey) throw new Error('a Once: script needs a key of its call to name its once key after');
  return `${firstKey}:once:${id}`;
}

/** How many times a call aborted with its connection (an automatic pipeline's) is sent in all. */
const ABORTED_SENDS = 5;

/**
 * Inputs a wrapper fixes once for every call (an account's constant keys and settings), by the
 * header's names (a rest name without its `...`): the loader writes them into the bindings as Lua
 * literals, so they no longer cross the wire with each call; the other inputs keep their order.
 */
export interface FixedInputs {
  keys?: Readonly<Record<string, string | readonly string[]>>;
  args?: Readonly<Record<string, string | number | readonly (string | number)[]>>;
}

const luaLiteral = (v: string | number | readonly (string | number)[]): string =>
  Array.isArray(v)
    ? `{${v.map((x) => luaLiteral(x as string | number)).join(', ')}}`
    : typeof v === 'number'
      ? String(v)
      : luaLongString(v as string);

/** `local KEY = {…}` and `local ARG = {…}`: the header's names bound to KEYS and ARGV, or to their fixed values. */
function bindings(
  list: readonly string[],
  table: 'KEY' | 'ARG',
  from: 'KEYS' | 'ARGV',
  fixed: Readonly<Record<string, string | number | readonly (string | number)[]>> = {},
  skip = 0,
): string {
  let i = skip;
  const fields = list.map((n) => {
    const field = n.endsWith('...') ? n.slice(0, -3) : n;
    if (Object.hasOwn(fixed, field)) return `${field} = ${luaLiteral(fixed[field]!)}`;
    i += 1;
    return n.endsWith('...') ? `${field} = {unpack(${from}, ${i})}` : `${field} = ${from}[${i}]`;
  });
  return `local ${table} = {\n${fields.map((f) => `  ${f},`).join('\n')}\n}`;
}

/**
 * Assembles one script: its includes (each once, in the order first met, each file's own includes
 * first), its inserts, and the bindings of its header. Also what `npm run lint:lua` lints.
 */
export function assembleScript(
  name: string,
  inserts: Record<string, string> = {},
  opts: { allowUnusedInserts?: boolean; fixed?: FixedInputs } = {},
): AssembledScript {
  if (!NAME.test(name)) throw new Error(`not a script name: ${name}`);
  const text = readLua(`${name}.lua`);
  const shape = parseHeader(name, text);
  const included = new Set<string>();
  const used = new Set<string>();
  const expand = (source: string, file: string): string =>
    source
      .replace(/^--- @include "([a-z0-9-]+)"\s*$/gm, (_, inc: string) => {
        if (included.has(inc)) return `-- (${inc}: included above)`;
        included.add(inc);
        return expand(readLua(`includes/${inc}.lua`), `includes/${inc}.lua`);
      })
      .replace(/^--- @insert ([a-z_]+)\s*$/gm, (_, key: string) => {
        if (!Object.hasOwn(inserts, key))
          throw new Error(`lua/${file} wants an insert "${key}" its wrapper does not give`);
        used.add(key);
        return inserts[key]!;
      });
  const body = expand(text, `${name}.lua`);
  if (!opts.allowUnusedInserts)
    for (const key of Object.keys(inserts))
      if (!used.has(key)) throw new Error(`lua/${name}.lua has no "--- @insert ${key}"`);
  const fixed = opts.fixed ?? {};
  for (const [part, list] of [
    ['keys', shape.keys],
    ['args', shape.args],
  ] as const) {
    for (const n of Object.keys(fixed[part] ?? {}))
      if (!list.includes(n) && !list.includes(`${n}...`))
        throw new Error(`lua/${name}.lua: a fixed input ${n} is not one of its ${part}`);
  }
  const bound = `${bindings(shape.keys, 'KEY', 'KEYS', fixed.keys, shape.once ? 1 : 0)}\n${bindings(shape.args, 'ARG', 'ARGV', fixed.args)}`;
  // A `Once:` script: a call that ran already answers its kept reply; the script runs as a function,
  // so its own `return`s give the reply to keep.
  const source = shape.once
    ? `${bound}\nlocal kept = redis.call('GET', KEYS[1])\nif kept then return cjson.decode(kept) end\n` +
      `local reply = (function()\n${body}\nend)()\n` +
      `redis.call('SET', KEYS[1], cjson.encode(reply), 'PX', ${ONCE_TTL_MS})\nreturn reply`
    : `${bound}\n${body}`;
  return { name, ...shape, source, sha: createHash('sha1').update(source).digest('hex') };
}

type Names<L extends readonly string[]> = Exclude<L[number], `${string}...`>;
type Rest<L extends readonly string[]> =
  Extract<L[number], `${string}...`> extends never ? object : { rest: readonly (string | number)[] };
export type ScriptKeys<S extends ScriptShape> = Record<Names<S['keys']>, string> & Rest<S['keys']>;
export type ScriptArgs<S extends ScriptShape> = Record<Names<S['args']>, string | number> & Rest<S['args']>;

/** What a script answered: its status, then the rest of its table. */
export interface ScriptReply<S extends ScriptShape> {
  status: S['returns'][number];
  values: unknown[];
}

type RestName<L extends readonly string[]> = Extract<L[number], `${string}...`> extends `${infer N}...` ? N : never;
/** The inputs a call still gives: those the wrapper did not fix (`rest` too, when the rest is fixed). */
type Given<T, L extends readonly string[], F> = Omit<
  T,
  Extract<keyof F, string> | (RestName<L> extends never ? never : RestName<L> extends keyof F ? 'rest' : never)
>;

export interface RedisScript<S extends ScriptShape, F extends FixedInputs = object> {
  readonly name: string;
  /** Assembled on first use (nothing is read at import). */
  assembled(): AssembledScript;
  run(
    redis: Redis,
    keys: Given<ScriptKeys<S>, S['keys'], F['keys']>,
    args: Given<ScriptArgs<S>, S['args'], F['args']>,
  ): Promise<ScriptReply<S>>;
}

const same = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * A typed wrapper of `lua/<name>.lua`. `shape` repeats the header's names (for TypeScript); the two
 * must agree, or the first use throws.
 */
export function defineScript<const S extends ScriptShape, const F extends FixedInputs = object>(
  name: string,
  shape: S,
  inserts?: () => Record<string, string>,
  fixed?: F,
): RedisScript<S, F> {
  let script: AssembledScript | null = null;
  const assembled = () => {
    if (script) return script;
    const s = assembleScript(name, inserts?.(), fixed ? { fixed } : {});
    for (const part of ['keys', 'args', 'returns'] as const) {
      if (!same(s[part], shape[part]))
        throw new Error(
          `lua/${name}.lua lists ${part} ${s[part].join(', ')}; its wrapper says ${shape[part].join(', ')}`,
        );
    }
    if (Boolean(s.once) !== Boolean(shape.once))
      throw new Error(`lua/${name}.lua ${s.once ? 'runs once' : 'has no Once: line'}; its wrapper says otherwise`);
    return (script = s);
  };
  /** The names a call gives (a last `...` one stands for the rest; fixed ones are not given), listed once. */
  const namesOf = (list: readonly string[], given: Readonly<Record<string, unknown>> = {}) => {
    const last = list.at(-1);
    const rest = last !== undefined && last.endsWith('...') && !Object.hasOwn(given, last.slice(0, -3));
    return { named: list.filter((n) => !n.endsWith('...') && !Object.hasOwn(given, n)), rest };
  };
  let inputs: { keys: ReturnType<typeof namesOf>; args: ReturnType<typeof namesOf> } | null = null;
  /** Appends one call's inputs to `out`, in the header's order: the named ones, then the rest; answers out's length. */
  const flatten = (out: (string | number)[], list: ReturnType<typeof namesOf>, values: Record<string, unknown>) => {
    for (const n of list.named) {
      const v = values[n];
      if (v === undefined || v === null) throw new Error(`lua/${name}.lua: input ${n} is missing`);
      out.push(v as string | number);
    }
    if (list.rest) for (const v of (values as { rest?: (string | number)[] }).rest ?? []) out.push(v);
    return out.length;
  };
  return {
    name,
    assembled,
    async run(redis, keys, args) {
      const s = assembled();
      inputs ??= { keys: namesOf(s.keys, fixed?.keys), args: namesOf(s.args, fixed?.args) };
      const inputsOfCall: (string | number)[] = [];
      let numKeys = flatten(inputsOfCall, inputs.keys, keys as Record<string, unknown>);
      if (s.once) {
        inputsOfCall.unshift(onceKey(String(inputsOfCall[0] ?? ''), randomUUID()));
        numKeys += 1;
      }
      flatten(inputsOfCall, inputs.args, args as Record<string, unknown>);
      const send = async (): Promise<unknown> => {
        try {
          return await redis.evalsha(s.sha, numKeys, ...inputsOfCall);
        } catch (err) {
          if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
          return await redis.eval(s.source, numKeys, ...inputsOfCall);
        }
      };
      let reply: unknown;
      for (let attempt = 1; ; attempt++) {
        try {
          reply = await send();
          break;
        } catch (err) {
          // A call that went out in an automatic pipeline behind replies that were read is not
          // resent by ioredis when the connection breaks: it is aborted, though Redis may have run
          // it. It goes again, as ioredis would resend it, the same inputs (the same once key).
          if (!(err instanceof Error) || err.name !== 'AbortError' || attempt >= ABORTED_SENDS) throw err;
        }
      }
      const [status, ...values] = Array.isArray(reply) ? reply : [];
      if (!(s.returns as readonly unknown[]).includes(status))
        throw new Error(`lua/${name}.lua answered ${JSON.stringify(reply)}, not one of ${s.returns.join(', ')}`);
      return { status: status as S['returns'][number], values };
    },
  };
}

/** A Lua long string holding `text` verbatim (for an insert of data, such as JSON). */
export function luaLongString(text: string): string {
  let level = '';
  while (text.includes(`]${level}]`)) level += '=';
  return `[${level}[${text}]${level}]`;
}
