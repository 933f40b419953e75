import net from 'node:net';

/**
 * A small TCP proxy in front of a real Redis that understands RESP well enough to fault single
 * commands: a rule sees each command a client sends (its arguments, as text) and either lets it
 * through or answers it with an error reply in its place (a READONLY during a failover, say).
 * Replies keep their order on every connection, so clients that pipeline (ioredis) see exactly
 * what a real Redis would have answered, with one reply changed. `lose-reply` lets a command
 * through to Redis, then drops its reply and resets the client's connection (a Redis killed
 * after it ran a command, before the client read the answer): the client does not know whether it ran.
 */
export type ProxyRule = (argv: string[]) => 'forward' | 'lose-reply' | { error: string };

/** Where one RESP value ends in `buf` from `at`, or -1 while it is incomplete. */
function respEnd(buf: Buffer, at: number): number {
  if (at >= buf.length) return -1;
  const line = buf.indexOf('\r\n', at);
  if (line < 0) return -1;
  const type = String.fromCharCode(buf[at]!);
  const head = buf.toString('latin1', at + 1, line);
  if (type === '+' || type === '-' || type === ':') return line + 2;
  if (type === '$') {
    const n = Number(head);
    if (n < 0) return line + 2;
    return buf.length >= line + 2 + n + 2 ? line + 2 + n + 2 : -1;
  }
  if (type === '*') {
    let end = line + 2;
    for (let i = 0, n = Number(head); i < n; i++) {
      end = respEnd(buf, end);
      if (end < 0) return -1;
    }
    return end;
  }
  throw new Error(`redis-proxy: unexpected RESP type ${JSON.stringify(type)}`);
}

/** The arguments of one command (an array of bulk strings), as text. */
function commandArgs(buf: Buffer): string[] {
  const out: string[] = [];
  let at = buf.indexOf('\r\n') + 2;
  while (at < buf.length) {
    const line = buf.indexOf('\r\n', at);
    const n = Number(buf.toString('latin1', at + 1, line));
    out.push(buf.toString('utf8', line + 2, line + 2 + n));
    at = line + 2 + n + 2;
  }
  return out;
}

/** Splits a stream into whole RESP values as they complete. */
function respReader(onValue: (value: Buffer) => void) {
  let pending: Buffer = Buffer.alloc(0);
  return (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    let at = 0;
    for (let end = respEnd(pending, at); end >= 0; end = respEnd(pending, at)) {
      onValue(pending.subarray(at, end));
      at = end;
    }
    pending = pending.subarray(at);
  };
}

export async function startRedisProxy(target: { host?: string; port: number }, rule: ProxyRule = () => 'forward') {
  let current = rule;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(target.port, target.host ?? '127.0.0.1');
    sockets.add(client).add(upstream);
    // One slot per command, in order: a forwarded one waits for Redis's reply, a faulted one is ready at once.
    const slots: { reply: Buffer | null; lose?: true }[] = [];
    const flush = () => {
      while (slots.length > 0 && slots[0]!.reply) client.write(slots.shift()!.reply!);
    };
    client.on(
      'data',
      respReader((command) => {
        const decision = current(commandArgs(command));
        if (decision === 'forward' || decision === 'lose-reply') {
          slots.push(decision === 'lose-reply' ? { reply: null, lose: true } : { reply: null });
          upstream.write(command);
        } else {
          slots.push({ reply: Buffer.from(`-${decision.error.replace(/[\r\n]/g, ' ')}\r\n`) });
          flush();
        }
      }),
    );
    upstream.on(
      'data',
      respReader((reply) => {
        const slot = slots.find((s) => s.reply === null);
        if (slot?.lose) {
          // The replies before it reach the client; this one and the connection do not.
          flush();
          client.resetAndDestroy();
          upstream.destroy();
          return;
        }
        if (slot) slot.reply = Buffer.from(reply);
        flush();
      }),
    );
    const close = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('close', close).on('error', close);
    upstream.on('close', close).on('error', close);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    /** Replaces the rule for every command from now on. */
    setRule(next: ProxyRule) {
      current = next;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A rule that answers the first `times` commands `match` picks with `error`, and counts them. */
export function failTimes(match: (argv: string[]) => boolean, times: number, error: string) {
  const state = { faulted: 0 };
  const rule: ProxyRule = (argv) => {
    if (state.faulted < times && match(argv)) {
      state.faulted++;
      return { error };
    }
    return 'forward';
  };
  return { rule, state };
}
