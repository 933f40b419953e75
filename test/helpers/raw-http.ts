import net from 'node:net';

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * Sends one HTTP/1.1 request exactly as written, over a plain TCP socket: fetch always
 * sends origin-form (`GET /path`), and a proxy or a hostile client may send any
 * request target (`GET http://evil.example/path`). Reads until the server closes.
 */
export function rawRequest(
  port: number,
  target: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<RawResponse> {
  const body = opts.body ?? '';
  const headers = {
    host: `127.0.0.1:${port}`,
    connection: 'close',
    ...(body || opts.method === 'POST' ? { 'content-length': String(Buffer.byteLength(body)) } : {}),
    ...opts.headers,
  };
  const head = [
    `${opts.method ?? 'GET'} ${target} HTTP/1.1`,
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  ].join('\r\n');
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.once('error', reject);
    socket.once('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const split = text.indexOf('\r\n\r\n');
      const [statusLine = '', ...lines] = text.slice(0, split < 0 ? text.length : split).split('\r\n');
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? 0);
      const parsed: Record<string, string> = {};
      for (const line of lines) {
        const i = line.indexOf(':');
        if (i > 0) parsed[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
      }
      resolve({ status, headers: parsed, body: split < 0 ? '' : text.slice(split + 4) });
    });
    socket.write(`${head}\r\n\r\n${body}`);
  });
}
