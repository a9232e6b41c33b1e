// The hosts an operator lets `network_request` reach even at non-public addresses
// (`executors.network_request.allowed_hosts`). This is how internal services, and the tests' stand-in
// servers on 127.0.0.1, are reached; every other host must resolve to a public unicast address.
//
// Entries: `name`, `name:port`, `*.domain` (its subdomains, not the domain itself), `*.domain:port`;
// IPv6 literals in brackets (`[::1]:8080`; a bare `::1` means any port). Without a port, any port.
// Both the entries and the host being dialled are put in the WHATWG URL parser's canonical form, so
// case, IDNA and the numeric IPv4 spellings (`127.1`, `0x7f000001`) compare equal to what got dials.
import { isIP } from 'node:net';

interface AllowedHost {
  /** Canonical host (IPv6 without brackets), or the domain under `*.` for a wildcard. */
  host: string;
  wildcard: boolean;
  /** null: any port. */
  port: number | null;
}

export interface HostAllowlist {
  /** True when the operator named this host (and port): it may be dialled whatever it resolves to. */
  allows(host: string, port: number): boolean;
  readonly entries: readonly string[];
}

const ENTRY = /^(\*\.)?(\[[0-9A-Fa-f:.]+\]|[^:[\]/?#@\s]+)(?::(\d{1,5}))?$/;

/** The URL parser's form of a host: lower case, punycode, IPv4 dotted quad, IPv6 compressed, no brackets. */
export function canonicalHost(host: string): string | null {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  try {
    const url = new URL(`http://${isIP(bare) === 6 || bare.includes(':') ? `[${bare}]` : bare}/`);
    if (url.pathname !== '/' || url.username || url.password || url.port) return null;
    const name = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    // `example.com.` is the same host as `example.com`; an IP literal never ends with a dot here.
    return name.endsWith('.') ? name.slice(0, -1) : name;
  } catch {
    return null;
  }
}

/** Parses one allowed_hosts entry; throws an Error that names it when it is not one of the forms above. */
export function parseAllowedHost(entry: string): AllowedHost {
  const text = entry.trim();
  const bareIpv6 = isIP(text) === 6;
  const match = bareIpv6 ? null : ENTRY.exec(text);
  if (!bareIpv6 && !match) throw new Error(`allowed_hosts entry "${entry}": expected name, name:port, *.domain or [ipv6]:port`);
  const wildcard = Boolean(match?.[1]);
  const host = canonicalHost(bareIpv6 ? text : match![2]!);
  const port = match?.[3] === undefined ? null : Number(match[3]);
  if (host === null || host === '' || host.includes('*')) throw new Error(`allowed_hosts entry "${entry}": not a valid host name`);
  if (port !== null && (port < 1 || port > 65535)) throw new Error(`allowed_hosts entry "${entry}": port out of range`);
  // `*.0.1` would read as an IP address, never a domain: refuse it rather than guess.
  if (wildcard && isIP(host) !== 0) throw new Error(`allowed_hosts entry "${entry}": a wildcard needs a domain, not an address`);
  return { host, wildcard, port };
}

export function hostAllowlist(entries: readonly string[]): HostAllowlist {
  const parsed = entries.map(parseAllowedHost);
  return {
    entries,
    allows(host, port) {
      const name = canonicalHost(host);
      if (name === null || parsed.length === 0) return false;
      const literal = isIP(name) !== 0;
      return parsed.some((entry) => {
        if (entry.port !== null && entry.port !== port) return false;
        if (!entry.wildcard) return entry.host === name;
        return !literal && name.length > entry.host.length + 1 && name.endsWith(`.${entry.host}`);
      });
    },
  };
}
