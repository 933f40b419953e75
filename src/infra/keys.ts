/**
 * Every Redis key holdq writes, in one place. All start with QUEUE_PREFIX, so with
 * a `{holdq}` prefix they share one Redis Cluster slot with BullMQ's own keys and
 * multi-key scripts stay legal.
 */
export interface Keys {
  prefix: string;
  intent(id: string): string;
  idempotency(client: string, keyHash: string): string;
  call(callUuid: string): string;
  pending(callUuid: string): string;
  lock(callUuid: string): string;
  deadLetters(): string;
  plivoRate(): string;
}

export function createKeys(prefix: string): Keys {
  return {
    prefix,
    intent: (id) => `${prefix}:intent:${id}`,
    idempotency: (client, keyHash) => `${prefix}:idem:${client}:${keyHash}`,
    call: (callUuid) => `${prefix}:call:${callUuid}`,
    pending: (callUuid) => `${prefix}:call:${callUuid}:pending`,
    lock: (callUuid) => `${prefix}:call:${callUuid}:lock`,
    deadLetters: () => `${prefix}:dead`,
    plivoRate: () => `${prefix}:rate:plivo`,
  };
}
