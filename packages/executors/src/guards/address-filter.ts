// The SSRF guard of `network_request`: http(s) agents that refuse to connect to any address that is not
// public unicast (loopback, private, link-local and cloud metadata, CGNAT, multicast, unspecified,
// IPv4-mapped IPv6, NAT64, documentation and other reserved ranges), unless the operator's
// allowed_hosts names the host.
//
// The check runs where the socket is made, on the address actually dialled: an IP literal before the
// connect, a name inside the `lookup` that net.connect itself uses, so the address checked is the
// address connected to (no DNS-rebinding window between a check and the connect) and every redirect
// hop, which opens its own connection through the same agent, is checked again. The agents subclass
// request-filtering-agent's, whose own check (the same ipaddr.js ranges) stays in place as a second line.
import dns from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import net, { type LookupFunction, type TcpNetConnectOpts } from 'node:net';
import type { Duplex } from 'node:stream';
import ipaddr from 'ipaddr.js';
import { RequestFilteringHttpAgent, RequestFilteringHttpsAgent } from 'request-filtering-agent';
import type { HostAllowlist } from './host-allowlist.js';

const RANGE_NAMES: Record<string, string> = {
  loopback: 'loopback',
  private: 'private',
  uniqueLocal: 'private (unique local IPv6)',
  linkLocal: 'link-local (cloud metadata lives there)',
  carrierGradeNat: 'carrier-grade NAT',
  multicast: 'multicast',
  broadcast: 'broadcast',
  unspecified: 'unspecified (0.0.0.0 or ::)',
  ipv4Mapped: 'IPv4-mapped IPv6',
  rfc6052: 'NAT64 (IPv4-embedded IPv6)',
  rfc6145: 'IPv4-translated IPv6',
  '6to4': '6to4 (IPv4-embedded IPv6)',
  teredo: 'Teredo (IPv4-embedded IPv6)',
  reserved: 'reserved',
  invalid: 'unparseable',
};

/**
 * Why an address must not be dialled (the ipaddr.js range name, e.g. `loopback`), or null when it is a
 * public unicast address. Takes every spelling ipaddr.js reads (`127.1`, `0x7f000001`, `::ffff:7f00:1`);
 * anything it cannot read is refused as `invalid`.
 */
export function blockedRange(address: string): string | null {
  if (!ipaddr.isValid(address)) return 'invalid';
  const range = ipaddr.parse(address).range();
  return range === 'unicast' ? null : range;
}

export function describeRange(range: string): string {
  return RANGE_NAMES[range] ?? `${range} (not public unicast)`;
}

/** The refusal; got passes `code` on, so executors can tell it from a network failure. */
export class BlockedAddressError extends Error {
  override readonly name = 'BlockedAddressError';
  readonly code = 'ERR_BLOCKED_ADDRESS';
  constructor(
    readonly host: string,
    readonly range: string,
    literal: boolean,
  ) {
    // The resolved address itself is left out: it would tell a client how internal names resolve.
    super(`${literal ? `${host} is` : `${host} resolves to`} a ${describeRange(range)} address, which network_request may not reach`);
  }
}

type LookupCallback = Parameters<LookupFunction>[2];

/** Wraps a lookup so that it fails, before net.connect gets any address, when one of them is blocked. */
export function filteringLookup(inner: LookupFunction, host: string): LookupFunction {
  return (hostname, options, callback: LookupCallback) => {
    inner(hostname, options, (err, address, family) => {
      if (err) return callback(err, address, family);
      // With `all: true` (happy eyeballs) every candidate must pass, since net may try any of them.
      const candidates = Array.isArray(address) ? address.map((entry) => entry.address) : [address];
      for (const candidate of candidates) {
        const range = blockedRange(candidate);
        if (range) return callback(new BlockedAddressError(host, range, false), address, family);
      }
      callback(null, address, family);
    });
  };
}

export interface DialPolicy {
  allowlist: HostAllowlist;
  /** Resolver to use instead of dns.lookup (tests resolve made-up names with it). */
  lookup?: LookupFunction;
}

type ConnectOptions = TcpNetConnectOpts & { path?: string; socketPath?: string };
type Connect = (options: ConnectOptions, callback?: (err: Error | null, stream: Duplex) => void) => Duplex;

/** Fails a connection the way http.Agent expects: through the callback, with a socket that never connects. */
function refuse(error: Error, callback?: (err: Error | null, stream: Duplex) => void): net.Socket {
  const socket = new net.Socket();
  if (callback) callback(error, socket);
  else socket.destroy(error);
  return socket;
}

function guardedConnect(policy: DialPolicy, options: ConnectOptions, callback: Parameters<Connect>[1], direct: Connect, filtered: Connect) {
  // A UNIX socket is not an address the operator can have meant; got only asks for one when told to.
  if (options.path || options.socketPath) return refuse(new BlockedAddressError('a UNIX socket', 'reserved', true), callback);
  const host = options.host ?? 'localhost';
  const resolve = policy.lookup ?? options.lookup ?? (dns.lookup as unknown as LookupFunction);
  if (policy.allowlist.allows(host, Number(options.port))) return direct({ ...options, lookup: resolve }, callback);
  const literalRange = ipaddr.isValid(host) ? blockedRange(host) : null;
  if (literalRange) return refuse(new BlockedAddressError(host, literalRange, true), callback);
  return filtered({ ...options, lookup: filteringLookup(resolve, host) }, callback);
}

/**
 * Puts the guard in front of a request-filtering agent's createConnection: allowed hosts go straight
 * to the plain agent's connect (`base`), everything else through our check and then the library's.
 */
function guard<A extends RequestFilteringHttpAgent | RequestFilteringHttpsAgent>(agent: A, base: http.Agent, policy: DialPolicy): A {
  const filtered: Connect = agent.createConnection.bind(agent);
  const direct: Connect = (options, callback) => base.createConnection.call(agent, options, callback) as Duplex;
  agent.createConnection = (options: ConnectOptions, callback?: Parameters<Connect>[1]) => guardedConnect(policy, options, callback, direct, filtered);
  return agent;
}

export interface GuardedAgents {
  http: RequestFilteringHttpAgent;
  https: RequestFilteringHttpsAgent;
  destroy(): void;
}

/**
 * A fresh pair for one attempt (got picks one per hop by protocol); destroy() when the attempt ends.
 * keepAlive stays off: no socket outlives the request whose host was checked, so none is ever reused
 * for another host:port, task or redirect hop.
 */
export function guardedAgents(policy: DialPolicy): GuardedAgents {
  const agents = {
    http: guard(new RequestFilteringHttpAgent({ keepAlive: false }), http.Agent.prototype, policy),
    https: guard(new RequestFilteringHttpsAgent({ keepAlive: false }), https.Agent.prototype, policy),
  };
  return { ...agents, destroy: () => (agents.http.destroy(), agents.https.destroy()) };
}
