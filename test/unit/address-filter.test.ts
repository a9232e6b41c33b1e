// The SSRF guard on its own. Non-loopback ranges are checked on the pure functions only: nothing here
// sends a packet anywhere but 127.0.0.1 (the stand-in that the guarded agents must not reach).
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { blockedRange, BlockedAddressError, filteringLookup, guardedAgents, hostAllowlist, networkRequestTaskType, parseAllowedHost } from '@taskengine/executors';
import { startStandIn, type StandIn } from '../support/stand-in.js';

describe('blockedRange', () => {
  it.each([
    ['169.254.169.254', 'linkLocal'], // cloud metadata
    ['10.0.0.1', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['100.64.0.1', 'carrierGradeNat'],
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'unspecified'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['255.255.255.255', 'broadcast'],
    ['192.0.2.1', 'reserved'],
    ['240.0.0.1', 'reserved'],
    ['::1', 'loopback'],
    ['::', 'unspecified'],
    ['fd00::1', 'uniqueLocal'],
    ['fc00::1', 'uniqueLocal'],
    ['fe80::1', 'linkLocal'],
    ['fe80::1%eth0', 'linkLocal'],
    ['ff02::1', 'multicast'],
    ['::ffff:127.0.0.1', 'ipv4Mapped'],
    ['::ffff:7f00:1', 'ipv4Mapped'],
    ['::ffff:169.254.169.254', 'ipv4Mapped'],
    ['::ffff:8.8.8.8', 'ipv4Mapped'],
    ['64:ff9b::a9fe:a9fe', 'rfc6052'], // NAT64 of 169.254.169.254
    ['2002:7f00:1::', '6to4'],
    ['2001:db8::1', 'reserved'],
  ])('%s is blocked as %s', (address, range) => {
    expect(blockedRange(address)).toBe(range);
  });

  it.each(['127.1', '2130706433', '0x7f000001', '017700000001', '0177.0.0.1', '0x7f.1'])('the loopback spelling %s is blocked', (spelling) => {
    expect(blockedRange(spelling)).toBe('loopback');
  });

  it.each(['8.8.8.8', '1.1.1.1', '93.184.216.34', '2606:4700:4700::1111', '2a00:1450:4001:80b::200e'])('public %s passes', (address) => {
    expect(blockedRange(address)).toBeNull();
  });

  it('refuses what it cannot read', () => {
    expect(blockedRange('not-an-address')).toBe('invalid');
    expect(blockedRange('')).toBe('invalid');
  });
});

describe('WHATWG URL normalisation (what got hands the agent)', () => {
  it.each([
    ['http://127.1/', '127.0.0.1'],
    ['http://2130706433/', '127.0.0.1'],
    ['http://0x7f000001/', '127.0.0.1'],
    ['http://017700000001/', '127.0.0.1'],
    ['http://127.0.0.1./', '127.0.0.1'],
    ['http://[::ffff:127.0.0.1]/', '[::ffff:7f00:1]'],
    ['http://[0:0:0:0:0:0:0:1]/', '[::1]'],
    ['http://LocalHost/', 'localhost'],
  ])('%s has hostname %s', (url, hostname) => {
    expect(new URL(url).hostname).toBe(hostname);
  });
});

describe('filteringLookup', () => {
  const fake =
    (answer: string | Array<{ address: string; family: number }>): LookupFunction =>
    (_hostname, _options, callback) =>
      Array.isArray(answer) ? callback(null, answer) : callback(null, answer, answer.includes(':') ? 6 : 4);
  const run = (lookup: LookupFunction, all: boolean) =>
    new Promise<{ err: Error | null; address: unknown }>((resolve) => lookup('name.test', { all }, (err, address) => resolve({ err, address })));

  it.each(['169.254.169.254', '10.0.0.1', '172.16.0.1', '192.168.1.1', '100.64.0.1', 'fd00::1', 'fe80::1', '127.0.0.1'])(
    'fails a name resolving to %s before anything is dialled',
    async (address) => {
      const { err } = await run(filteringLookup(fake(address), 'name.test'), false);
      expect(err).toBeInstanceOf(BlockedAddressError);
      expect(err!.message).toContain('name.test resolves to');
      expect(err!.message).not.toContain(address); // how internal names resolve stays private
    },
  );

  it('fails when any of several answers is blocked (happy eyeballs may try any)', async () => {
    const answers = [
      { address: '93.184.216.34', family: 4 },
      { address: '10.0.0.1', family: 4 },
    ];
    expect((await run(filteringLookup(fake(answers), 'name.test'), true)).err).toBeInstanceOf(BlockedAddressError);
  });

  it('passes public answers through untouched', async () => {
    const answers = [{ address: '93.184.216.34', family: 4 }];
    expect(await run(filteringLookup(fake(answers), 'name.test'), true)).toEqual({ err: null, address: answers });
    expect(await run(filteringLookup(fake('93.184.216.34'), 'name.test'), false)).toEqual({ err: null, address: '93.184.216.34' });
  });
});

describe('guarded agents (DNS rebinding: a made-up name resolving to 127.0.0.1)', () => {
  let standIn: StandIn;
  beforeAll(async () => {
    standIn = await startStandIn();
  });
  afterAll(() => standIn.close());

  const rebinding: LookupFunction = (_hostname, options, callback) =>
    options.all ? callback(null, [{ address: '127.0.0.1', family: 4 }]) : callback(null, '127.0.0.1', 4);

  function get(module: typeof http | typeof https, allowed: string[]): Promise<number | Error> {
    const agents = guardedAgents({ allowlist: hostAllowlist(allowed), lookup: rebinding });
    const agent = module === http ? agents.http : agents.https;
    return new Promise<number | Error>((resolve) => {
      const req = module.get({ host: 'rebind.test', port: standIn.port, path: '/', agent }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', resolve);
    }).finally(() => agents.destroy());
  }

  it('refuses the name, checking the address the lookup gave the connect', async () => {
    const before = standIn.connections;
    const outcome = await get(http, []);
    expect(outcome).toBeInstanceOf(BlockedAddressError);
    expect((outcome as Error).message).toMatch(/rebind\.test resolves to a loopback address/);
    expect(standIn.connections).toBe(before);
  });

  it('refuses it over https too, before the TLS handshake', async () => {
    const before = standIn.connections;
    expect(await get(https, [])).toBeInstanceOf(BlockedAddressError);
    expect(standIn.connections).toBe(before);
  });

  it('dials it when allowed_hosts names it', async () => {
    expect(await get(http, ['REBIND.test'])).toBe(200);
    expect(await get(http, [`rebind.test:${standIn.port}`])).toBe(200);
  });

  it('refuses it when allowed_hosts names another port', async () => {
    expect(await get(http, [`rebind.test:${standIn.port === 1 ? 2 : 1}`])).toBeInstanceOf(BlockedAddressError);
  });
});

describe('allowed_hosts', () => {
  const allows = (entries: string[], host: string, port = 80): boolean => hostAllowlist(entries).allows(host, port);

  it('a name allows that host on any port, in any case', () => {
    expect(allows(['api.internal'], 'api.internal', 8080)).toBe(true);
    expect(allows(['API.Internal'], 'api.internal')).toBe(true);
    expect(allows(['api.internal'], 'API.INTERNAL')).toBe(true);
    expect(allows(['api.internal'], 'api.internal.')).toBe(true);
    expect(allows(['api.internal'], 'x.api.internal')).toBe(false);
    expect(allows(['api.internal'], 'api.internal.evil.com')).toBe(false);
  });

  it('name:port allows that port only', () => {
    expect(allows(['api.internal:8443'], 'api.internal', 8443)).toBe(true);
    expect(allows(['api.internal:8443'], 'api.internal', 443)).toBe(false);
  });

  it('*.domain allows its subdomains, not the domain itself', () => {
    expect(allows(['*.corp.example'], 'a.corp.example')).toBe(true);
    expect(allows(['*.corp.example'], 'a.b.CORP.example')).toBe(true);
    expect(allows(['*.corp.example'], 'corp.example')).toBe(false);
    expect(allows(['*.corp.example'], 'evilcorp.example')).toBe(false);
    expect(allows(['*.corp.example:9000'], 'a.corp.example', 9000)).toBe(true);
    expect(allows(['*.corp.example:9000'], 'a.corp.example', 9001)).toBe(false);
  });

  it('addresses compare in canonical form', () => {
    expect(allows(['127.1:8080'], '127.0.0.1', 8080)).toBe(true);
    expect(allows(['[::1]:8080'], '::1', 8080)).toBe(true);
    expect(allows(['[0:0::1]'], '::1', 1234)).toBe(true);
    expect(allows(['::1'], '::1', 1234)).toBe(true);
    expect(allows(['127.0.0.1:8080'], '127.0.0.2', 8080)).toBe(false);
    expect(allows([], '127.0.0.1')).toBe(false);
  });

  it.each(['', 'http://x.example', 'a/b', 'user@host', 'host:99999', 'host:0', '*.1.2.3', '*.', 'a b'])('refuses the entry %j', (entry) => {
    expect(() => parseAllowedHost(entry)).toThrow(/allowed_hosts entry/);
  });
});

describe('a bad allowed_hosts entry', () => {
  it('stops the executor from being built, naming the config key and the entry', () => {
    expect(() => networkRequestTaskType({ allowed_hosts: ['ok.example', 'http://bad.example/'], max_response_bytes: 1, max_redirects: 0 })).toThrow(
      /executors\.network_request\.allowed_hosts:\n.*"http:\/\/bad\.example\/"/,
    );
  });
});
