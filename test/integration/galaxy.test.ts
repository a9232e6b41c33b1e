// The API process in UFO Galaxy (CONTRACT section 6): it registers node 02 with a stand-in StateMachine,
// heartbeats, registers again when StateMachine forgets it, reports StateMachine's state in /health
// (degraded while it is down) without ever blocking a request, and on SIGTERM drains the requests in
// flight, unregisters and exits 0. Real API processes, real HTTP, real Redis.
import { afterEach, describe, expect, it } from '@jest/globals';
import { connect } from 'node:net';
import { freePort } from '../support/redis-server.js';
import { API_MAIN, request, spawnEngineProcess, uniquePrefix, waitFor, writeConfigFile, type EngineProcess } from '../support/harness.js';
import { startStandIn, type StandIn } from '../support/stand-in.js';

let api: EngineProcess | undefined;
let stateMachine: StandIn | undefined;

afterEach(async () => {
  if (api && api.child.exitCode === null && api.child.signalCode === null) {
    api.child.kill('SIGKILL');
    await api.exited;
  }
  await stateMachine?.close();
  api = undefined;
  stateMachine = undefined;
});

/** An API process on a free port whose StateMachine is at `url`; resolves once it answers /health. */
async function startApi(stateMachineUrl: string): Promise<{ baseUrl: string; port: number }> {
  const port = await freePort();
  const prefix = uniquePrefix('galaxy');
  const configPath = writeConfigFile(prefix, {
    server: { host: '127.0.0.1', port },
    health_check: { interval: 0.2 },
    dependencies: { state_machine: { url: stateMachineUrl, enabled: true }, oneapi: { enabled: false } },
  });
  api = spawnEngineProcess(API_MAIN, configPath, { LOG_LEVEL: 'info' });
  const baseUrl = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await request(baseUrl, 'GET', '/health')).status === 200, { what: 'API process up' });
  return { baseUrl, port };
}

const calls = (path: string) => stateMachine!.requests.filter((r) => r.url === path);

describe('StateMachine registration', () => {
  it('registers node 02, heartbeats, and reports up', async () => {
    stateMachine = await startStandIn();
    const { baseUrl, port } = await startApi(stateMachine.origin);
    await waitFor(() => calls('/nodes/heartbeat/02').length >= 2, { what: 'two heartbeats' });
    const [register] = calls('/nodes/register');
    const body = JSON.parse(register!.body);
    expect(body).toMatchObject({ node_id: '02', state: 'running', metadata: { name: 'TaskEngine', port, version: expect.any(String) } });
    expect(Date.parse(body.last_heartbeat)).toBeGreaterThan(Date.now() - 60_000);
    expect(body.metadata.task_types).toEqual(expect.arrayContaining(['custom', 'system_command', 'network_request']));
    expect(calls('/nodes/register')).toHaveLength(1);
    const health = await request(baseUrl, 'GET', '/health');
    expect(health.body).toMatchObject({ status: 'healthy', dependencies: { state_machine: 'up', oneapi: 'disabled' } });
  });

  it('turns degraded while StateMachine fails, keeps serving tasks, and recovers', async () => {
    stateMachine = await startStandIn();
    const { baseUrl } = await startApi(stateMachine.origin);
    await waitFor(async () => (await request(baseUrl, 'GET', '/health')).body.dependencies.state_machine === 'up', { what: 'up' });
    stateMachine.setHandler((_req, res) => void res.writeHead(500).end());
    const degraded = await waitFor(async () => {
      const res = await request(baseUrl, 'GET', '/health');
      return res.body.status === 'degraded' ? res : undefined;
    }, { what: 'degraded' });
    expect(degraded.status).toBe(200);
    expect(degraded.body.dependencies.state_machine).toBe('down');
    expect((await request(baseUrl, 'POST', '/tasks', { type: 'custom' })).status).toBe(201);
    stateMachine.setHandler((_req, res) => void res.writeHead(200).end('{}'));
    await waitFor(async () => (await request(baseUrl, 'GET', '/health')).body.status === 'healthy', { what: 'healthy again' });
  });

  it('registers again when a heartbeat says the node is unknown', async () => {
    stateMachine = await startStandIn();
    await startApi(stateMachine.origin);
    await waitFor(() => calls('/nodes/heartbeat/02').length >= 1, { what: 'a heartbeat' });
    let forgotten = false;
    stateMachine.setHandler((req, res) => {
      if (req.url === '/nodes/heartbeat/02' && !forgotten) {
        forgotten = true;
        return void res.writeHead(404).end();
      }
      res.writeHead(200).end('{}');
    });
    await waitFor(() => calls('/nodes/register').length === 2, { what: 'a second register' });
  });

  it('starts and serves while StateMachine is unreachable', async () => {
    const closedPort = await freePort();
    const { baseUrl } = await startApi(`http://127.0.0.1:${closedPort}`);
    expect((await request(baseUrl, 'POST', '/tasks', { type: 'custom' })).status).toBe(201);
    const health = await request(baseUrl, 'GET', '/health');
    expect(health.body).toMatchObject({ status: 'degraded', dependencies: { state_machine: 'down' } });
  });
});

describe('API shutdown', () => {
  it('drains a request in flight on SIGTERM, unregisters, refuses new connections and exits 0', async () => {
    stateMachine = await startStandIn();
    const { baseUrl, port } = await startApi(stateMachine.origin);
    await waitFor(() => calls('/nodes/register').length === 1, { what: 'registered' });
    // A request whose body is only half sent when SIGTERM arrives; the server closes the connection
    // after answering it, since it is shutting down.
    const body = JSON.stringify({ type: 'custom', name: 'sent-during-shutdown' });
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    socket.on('data', (chunk) => (answer += chunk.toString()));
    const closed = new Promise((resolve) => socket.on('close', resolve));
    socket.write(`POST /tasks HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`);
    socket.write(body.slice(0, 10));
    // Another request answered proves the server has taken the first connection in.
    expect((await request(baseUrl, 'GET', '/health')).status).toBe(200);
    api!.child.kill('SIGTERM');
    await waitFor(() => api!.output().includes('draining requests'), { what: 'the API to start draining' });
    await expect(request(baseUrl, 'GET', '/health')).rejects.toThrow();
    // write, not end: a client that half-closes its socket gives up its answer (Node ends such sockets).
    socket.write(body.slice(10));
    await closed;
    expect(answer).toMatch(/^HTTP\/1\.1 201/);
    expect(answer).toContain('"name":"sent-during-shutdown"');
    expect(await api!.exited).toEqual({ code: 0, signal: null });
    expect(calls('/nodes/unregister/02')).toHaveLength(1);
  });
});
