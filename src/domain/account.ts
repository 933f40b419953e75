/**
 * Plivo accounts (SPEC §12; README, "Several Plivo accounts"). Each account is a tenant of its own
 * inside one holdq: its credentials and signature token, its rate, its transfer budget, and its
 * own calls, queues, intents and jobs under a Redis namespace of its own. The account `default`
 * keeps the names holdq used before accounts, so a single-account installation upgrades in place.
 * Pure.
 */
export const DEFAULT_ACCOUNT = 'default';

export interface PlivoAccount {
  name: string;
  /** Unset (both): this account's transfers go to a built-in simulator of its own. */
  authId: string | null;
  authToken: string | null;
  /** Plivo's API base for this account (PLIVO_BASE_URL unless given). */
  baseUrl: string;
  /** Transfer requests per second arriving at Plivo for this account, across every worker. */
  maxRps: number;
  /** Calls per second Plivo lets this account place (Make Call); for call-me-back (SPEC §10). */
  maxCps: number;
  /** Accepted transfers a call of this account may use (below Plivo's cap of 70). */
  transferBudget: number;
  simulated: boolean;
}

/** The Redis namespace of an account's keys: `default` keeps the prefix itself. */
export function accountNamespace(prefix: string, account: string): string {
  return account === DEFAULT_ACCOUNT ? prefix : `${prefix}:acct:${account}`;
}

/** The BullMQ queue of an account's jobs (`base`: the default account's name for it). */
export function accountQueueName(base: string, account: string): string {
  return account === DEFAULT_ACCOUNT ? base : `${base}-${account}`;
}

/**
 * Where an account's Plivo-facing routes live (its XML and Plivo's events for it): the path tells
 * holdq which account's token signs a request before it checks the signature.
 */
export function plivoMount(account: string): string {
  return account === DEFAULT_ACCOUNT ? '/plivo' : `/plivo/acct/${account}`;
}
