import { z } from 'zod';
import { httpUrl, overflowTarget, SAFE_ID } from './intent.js';

/**
 * Named queues, configured as JSON (env QUEUES, or the file QUEUES_FILE names):
 *   {"support": {"music_url": "https://…", "announcement": "Thanks for calling",
 *                "announce_position": true, "announce_wait": true, "max_size": 50,
 *                "service_level_seconds": 20, "service_level_target": 0.8, "callback": true,
 *                "max_wait_seconds": 600, "overflow": "voicemail"}}
 * A queue that is not configured is created on first use with the defaults below,
 * unless QUEUES_STRICT=true, in which case intents naming it are refused (422).
 */
export const queueSettings = z.strictObject({
  music_url: httpUrl.optional(),
  announcement: z.string().min(1).max(500).optional(),
  announce_position: z.boolean().default(true),
  /** Tell the waiting caller the estimated wait ("about N minutes"), when holdq has one. */
  announce_wait: z.boolean().default(false),
  /** Offer waiting callers a call back that keeps their place ("press 1"; SPEC §10). */
  callback: z.boolean().default(false),
  /** The service level counts callers answered within this many seconds (SPEC §9). */
  service_level_seconds: z.int().min(1).max(3600).default(20),
  /** The share of answered callers that should be answered within service_level_seconds (the alert's line, the wallboard's colour). */
  service_level_target: z.number().min(0).max(1).default(0.8),
  max_size: z.int().min(1).max(100_000).default(1000),
  max_wait_seconds: z.int().min(1).max(86_400).optional(),
  overflow: overflowTarget.optional(),
});

export type QueueSettings = z.infer<typeof queueSettings>;

export const queuesConfig = z.record(
  z.string().regex(SAFE_ID, 'queue names are 1-64 characters of A-Z a-z 0-9 _ -'),
  queueSettings,
);

export type QueuesConfig = z.infer<typeof queuesConfig>;

export interface ResolvedQueue extends QueueSettings {
  name: string;
  music_url: string;
  configured: boolean;
}

/** The settings in force for a queue: its own, or the defaults for one created on demand. */
export function resolveQueue(queues: QueuesConfig, name: string, defaultMusic: string): ResolvedQueue {
  // Own keys only: a queue named toString or constructor is just a queue.
  const own = Object.hasOwn(queues, name) ? queues[name] : undefined;
  const settings = own ?? queueSettings.parse({});
  return { ...settings, name, music_url: settings.music_url ?? defaultMusic, configured: own !== undefined };
}
