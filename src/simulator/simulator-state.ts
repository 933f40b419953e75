import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { PLIVO_TRANSFER_CAP } from '../domain/transfers.js';

/** What the simulator knows about one call, and what each of its legs runs now. */
export interface LegDocument {
  url: string;
  method: 'GET' | 'POST';
  xml: string | null;
  fetched_status: number | null;
  fetch_error: string | null;
}

export interface SimulatedCall {
  call_uuid: string;
  bleg_uuid: string | null;
  status: 'live' | 'ended';
  /** Why the call ended: `hangup` (the control API), `loop_detected`, or `xml_fetch_failed: …`; null while live. */
  hangup_cause: string | null;
  transfers: number;
  current: LegDocument | null;
  bleg_current: LegDocument | null;
}

export interface ReceivedTransfer {
  at: number;
  call_uuid: string;
  auth: string | null;
  path: string;
  contentType: string | null;
  body: unknown;
  /** What the simulator answered; 0 when it timed out or reset the connection on purpose. */
  status: number;
  /** The api_id of a 202 answer (what the caller should have recorded); null for any other answer. */
  api_id: string | null;
}

export interface Fault {
  status?: number;
  retryAfter?: string;
  latencyMs?: number;
  timeout?: boolean;
  reset?: boolean;
  /** How many matching requests the fault applies to (default 1). */
  times?: number;
  /** Only requests for this call (default: any). */
  callUuid?: string;
}

/** A call placed with Make Call (SPEC §10), and how it went. */
export interface DialedCall {
  request_uuid: string;
  at: number;
  from: string;
  to: string;
  answer_url: string;
  hangup_url: string | null;
  ring_timeout: number | null;
  /** ringing, then answered (its CallUUID is call_uuid), or busy, no-answer, failed; lost: Plivo never called back. */
  status: 'ringing' | 'answered' | DialOutcome;
  call_uuid: string | null;
}

/** How a placed call goes instead of being answered: busy, no-answer and failed call hangup_url; lost calls nothing. */
export type DialOutcome = 'busy' | 'no-answer' | 'failed' | 'lost';
export const DIAL_OUTCOMES = ['busy', 'no-answer', 'failed', 'lost'] as const satisfies readonly DialOutcome[];

export interface DialFault {
  outcome: DialOutcome;
  /** How many placed calls it applies to (default 1). */
  times?: number;
}

export const CHAOS_KINDS = ['500', '503', '429', 'timeout', 'reset'] as const;
export type ChaosKind = (typeof CHAOS_KINDS)[number];

export { PLIVO_TRANSFER_CAP };

/** The simulator's memory: calls, faults and every request seen. Events let tests wait without sleeping. */
export class SimulatorState extends EventEmitter {
  readonly calls = new Map<string, SimulatedCall>();
  readonly requests: ReceivedTransfer[] = [];
  private faults: (Fault & { left: number })[] = [];
  latencyMs = 0;
  /** Calls placed with Make Call, in order. */
  readonly dials: DialedCall[] = [];
  private dialFaults: (DialFault & { left: number })[] = [];
  /** How long a placed call rings before it is answered (or not). */
  ringMs = 1000;
  /** Random faults on a share of requests: 500, 503, 429 with Retry-After, timeout, reset (chaos runs). */
  chaos: { rate: number; retryAfter: string; kinds: ChaosKind[] } = { rate: 0, retryAfter: '1', kinds: [] };

  createCall(callUuid: string = randomUUID(), opts: { blegUuid?: string | null } = {}): SimulatedCall {
    const call: SimulatedCall = {
      call_uuid: callUuid,
      bleg_uuid: opts.blegUuid ?? null,
      status: 'live',
      hangup_cause: null,
      transfers: 0,
      current: null,
      bleg_current: null,
    };
    this.calls.set(callUuid, call);
    return call;
  }

  endCall(callUuid: string, cause = 'hangup'): void {
    const call = this.calls.get(callUuid);
    if (call && call.status !== 'ended') {
      call.status = 'ended';
      call.hangup_cause = cause;
    }
  }

  injectFault(f: Fault): void {
    this.faults.push({ ...f, left: f.times ?? 1 });
  }

  /** Takes the first fault that applies to this call, counting one use of it; else maybe a random one. */
  takeFault(callUuid: string): Fault | null {
    const i = this.faults.findIndex((f) => !f.callUuid || f.callUuid === callUuid);
    if (i < 0) return this.randomFault();
    const fault = this.faults[i]!;
    fault.left -= 1;
    if (fault.left <= 0) this.faults.splice(i, 1);
    return fault;
  }

  private randomFault(): Fault | null {
    const { rate, kinds, retryAfter } = this.chaos;
    if (rate <= 0 || kinds.length === 0 || Math.random() >= rate) return null;
    const kind = kinds[Math.floor(Math.random() * kinds.length)]!;
    if (kind === 'timeout') return { timeout: true };
    if (kind === 'reset') return { reset: true };
    return { status: Number(kind), ...(kind === '429' ? { retryAfter } : {}) };
  }

  injectDialFault(f: DialFault): void {
    this.dialFaults.push({ ...f, left: f.times ?? 1 });
  }

  /** The next placed call's fault, if any (counting one use of it). */
  takeDialFault(): DialOutcome | null {
    const fault = this.dialFaults[0];
    if (!fault) return null;
    fault.left -= 1;
    if (fault.left <= 0) this.dialFaults.shift();
    return fault.outcome;
  }

  dialed(call: DialedCall): void {
    this.emit('dial', call);
  }

  record(req: ReceivedTransfer): void {
    this.requests.push(req);
    this.emit('transfer', req);
  }

  fetched(callUuid: string): void {
    this.emit('fetched', callUuid);
  }

  reset(): void {
    this.calls.clear();
    this.requests.length = 0;
    this.dials.length = 0;
    this.dialFaults = [];
    this.ringMs = 1000;
    this.faults = [];
    this.latencyMs = 0;
    this.chaos = { rate: 0, retryAfter: '1', kinds: [] };
  }

  waitFor<T>(event: string, check: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    const now = check();
    if (now !== undefined) return Promise.resolve(now);
    return new Promise((resolve, reject) => {
      const onEvent = () => {
        const value = check();
        if (value === undefined) return;
        cleanup();
        resolve(value);
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`simulator: timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.off(event, onEvent);
      };
      this.on(event, onEvent);
    });
  }
}
