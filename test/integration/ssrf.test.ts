// The address filter end to end: each spelling of a local address is dialled for real by a
// network_request task, at a stand-in on loopback (127.0.0.1 and ::1, one port) that allowed_hosts does
// NOT name and that counts every TCP connection. Each task must fail with blocked_address, without
// retry, and the stand-in must never have been reached. Only loopback is ever dialled here; the other
// private ranges are covered on the check itself (unit/address-filter.test.ts).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createTask, startEngine, waitForStatus, type Engine } from '../support/harness.js';
import { ipv6LoopbackAvailable, startStandIn, type StandIn } from '../support/stand-in.js';

const ipv6 = await ipv6LoopbackAvailable();
if (!ipv6) console.warn('ssrf.test: no IPv6 loopback on this machine; the [::1] cases are skipped');

let engine: Engine;
/** Not in allowed_hosts: must never see a connection. */
let forbidden: StandIn;
/** In allowed_hosts (127.0.0.1:port only): redirects wherever the test says. */
let redirector: StandIn;

beforeAll(async () => {
  forbidden = await startStandIn(undefined, { hosts: ipv6 ? ['127.0.0.1', '::1'] : ['127.0.0.1'] });
  redirector = await startStandIn((req, res) => {
    const to = new URL(req.url ?? '/', 'http://x').searchParams.get('to') ?? '/';
    res.writeHead(302, { location: to }).end();
  });
  engine = await startEngine({
    label: 'ssrf',
    overrides: { executors: { network_request: { allowed_hosts: [`127.0.0.1:${redirector.port}`] } } },
    worker: { types: ['network_request'] },
  });
});

afterAll(async () => {
  await engine?.stop();
  await forbidden?.close();
  await redirector?.close();
});

async function expectBlocked(url: string): Promise<any> {
  const before = forbidden.connections;
  const task = await createTask(engine, { type: 'network_request', payload: { url }, config: { max_retries: 2, retry_delay_seconds: 0 } });
  const done = await waitForStatus(engine, task.id, ['failed', 'completed']);
  expect(done).toMatchObject({ status: 'failed', error_code: 'blocked_address', retry_count: 0, result: null });
  expect(forbidden.connections).toBe(before);
  return done;
}

describe('local addresses in any spelling are refused at connect time', () => {
  const cases: Array<[string, (port: number) => string, boolean]> = [
    ['127.0.0.1', (p) => `http://127.0.0.1:${p}/`, true],
    ['127.1', (p) => `http://127.1:${p}/`, true],
    ['2130706433 (decimal)', (p) => `http://2130706433:${p}/`, true],
    ['0x7f000001 (hex)', (p) => `http://0x7f000001:${p}/`, true],
    ['017700000001 (octal)', (p) => `http://017700000001:${p}/`, true],
    ['127.0.0.1. (trailing dot)', (p) => `http://127.0.0.1.:${p}/`, true],
    ['[::1]', (p) => `http://[::1]:${p}/`, ipv6],
    ['[::ffff:127.0.0.1] (IPv4-mapped)', (p) => `http://[::ffff:127.0.0.1]:${p}/`, true],
    ['0.0.0.0 (Linux would connect it locally)', (p) => `http://0.0.0.0:${p}/`, true],
    ['[::] (unspecified IPv6)', (p) => `http://[::]:${p}/`, ipv6],
    ['localhost (a name resolving to loopback)', (p) => `http://localhost:${p}/`, true],
    ['https://127.0.0.1', (p) => `https://127.0.0.1:${p}/`, true],
  ];
  for (const [name, url, available] of cases) {
    (available ? it : it.skip)(name, async () => {
      const done = await expectBlocked(url(forbidden.port));
      expect(done.error).toMatch(/loopback|unspecified|IPv4-mapped/);
    });
  }
});

describe('redirects are checked hop by hop', () => {
  it('an allowed host redirecting to a blocked address', async () => {
    const hops = redirector.requests.length;
    await expectBlocked(`${redirector.origin}/?to=${encodeURIComponent(`http://127.0.0.1:${forbidden.port}/`)}`);
    expect(redirector.requests.length).toBe(hops + 1); // the first hop was made: the refusal is the second's
  });

  it('an allowed host redirecting to itself under another name', async () => {
    const hops = redirector.requests.length;
    await expectBlocked(`${redirector.origin}/?to=${encodeURIComponent(`http://localhost:${redirector.port}/`)}`);
    expect(redirector.requests.length).toBe(hops + 1);
  });
});

describe('schemes other than http and https are refused at creation', () => {
  it.each([
    ['file:', () => 'file:///etc/passwd'],
    ['gopher:', () => `gopher://127.0.0.1:${forbidden.port}/_GET%20/`],
    ['data:', () => 'data:text/plain,hello'],
  ])('%s', async (_name, url) => {
    const before = forbidden.connections;
    const res = await engine.request('POST', '/tasks', { type: 'network_request', payload: { url: url() } });
    expect(res.status).toBe(400);
    expect(res.body.error.details).toEqual([{ path: 'payload.url', message: expect.stringContaining('only http and https') }]);
    expect(forbidden.connections).toBe(before);
  });
});
