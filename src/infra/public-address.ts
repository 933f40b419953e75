import dns, { type LookupAddress } from 'node:dns';
import { BlockList, isIP } from 'node:net';

/**
 * SSRF guard for outbound requests to URLs that clients choose (completion
 * callbacks): loopback, private, link-local, carrier-grade NAT, multicast and
 * reserved ranges are refused unless explicitly allowed. Names are checked on
 * every connection, after DNS, so a name that resolves inward is caught too.
 */
const blocked = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  blocked.addSubnet(net, bits, 'ipv4');
}
for (const [net, bits] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
  ['64:ff9b::', 96],
] as const) {
  blocked.addSubnet(net, bits, 'ipv6');
}

export function isPublicAddress(ip: string): boolean {
  const family = isIP(ip);
  if (family === 0) return false;
  if (family === 6) {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
    if (mapped) return isPublicAddress(mapped[1]!);
    return !blocked.check(ip, 'ipv6');
  }
  return !blocked.check(ip, 'ipv4');
}

/** The host part of a URL that is refused before any lookup: a non-public literal address, or localhost. */
export function isPrivateUrl(url: string): boolean {
  const host = new URL(url).hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  return isIP(host) !== 0 && !isPublicAddress(host);
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;
/** Resolves a name to all its addresses, as dns.lookup with `all: true` does. */
export type Resolve = (
  hostname: string,
  cb: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void,
) => void;

const systemResolve: Resolve = (hostname, cb) => dns.lookup(hostname, { all: true }, cb);

/** A dns.lookup for got/http that only ever yields public addresses. */
export function publicOnlyLookup(resolve: Resolve = systemResolve) {
  return (hostname: string, options: { all?: boolean } | number | LookupCallback, callback?: LookupCallback) => {
    const cb = (typeof options === 'function' ? options : callback) as LookupCallback;
    const all = typeof options === 'object' && options.all === true;
    resolve(hostname, (err, addresses) => {
      if (err) return cb(err, all ? [] : '');
      const allowed = addresses.filter((a) => isPublicAddress(a.address));
      if (allowed.length === 0) {
        const e: NodeJS.ErrnoException = new Error(
          `${hostname} resolves only to non-public addresses; refused (CALLBACK_ALLOW_PRIVATE)`,
        );
        e.code = 'ENOTPUBLIC';
        return cb(e, all ? [] : '');
      }
      if (all) return cb(null, allowed);
      cb(null, allowed[0]!.address, allowed[0]!.family);
    });
  };
}
