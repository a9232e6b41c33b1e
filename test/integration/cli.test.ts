// The `taskengine` command line, run as a real child process (the built dist/cli.js) against a real
// API and worker on a real Redis: what it prints on stdout and stderr and the exit codes of CONTRACT
// section 6 (0 completed, 1 failed, 2 timeout, 3 cancelled, 4 usage or API error, 5 gave up).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../support/redis-server.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { createTask, REPO_ROOT, startEngine, waitFor, waitForStatus, type Engine } from '../support/harness.js';

const CLI = join(REPO_ROOT, 'packages/client/dist/cli.js');

let engine: Engine;
let dir: string;

beforeAll(async () => {
  engine = await startEngine({ label: 'cli', worker: { concurrency: 10 } });
  dir = mkdtempSync(join(tmpdir(), 'taskengine-cli-'));
});
afterAll(async () => {
  await engine.stop();
  rmSync(dir, { recursive: true, force: true });
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

interface Running {
  /** stdout so far. */
  stdout(): string;
  /** stderr so far. */
  stderr(): string;
  done: Promise<Run>;
}

/** Starts the CLI (asynchronously: the API and worker run in this process and must keep serving). */
function start(args: string[], env: Record<string, string> = {}): Running {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { PATH: process.env.PATH ?? '', TASKENGINE_URL: engine.baseUrl, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const done = new Promise<Run>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  return { stdout: () => stdout, stderr: () => stderr, done };
}

const cli = (...args: string[]): Promise<Run> => start(args).done;

/** The CLI's --json stdout: exactly one JSON document. */
const json = (run: Run): any => JSON.parse(run.stdout);

const file = (name: string, text: string): string => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

const created = async (): Promise<number> => (await engine.request('GET', '/stats')).body.lifetime.created;

describe('taskengine: usage', () => {
  it('prints the version and help for every command, and exits 4 on a usage error', async () => {
    const commands = ['submit', 'get', 'list', 'cancel', 'retry', 'wait', 'events', 'stats', 'workers', 'queues', 'pause', 'resume', 'health'];
    const [version, help, ...commandHelps] = await Promise.all([cli('--version'), cli('--help'), ...commands.map((c) => cli(c, '--help'))]);
    expect(version).toEqual({ code: 0, stdout: '0.1.0\n', stderr: '' });
    expect(help.code).toBe(0);
    for (const command of commands) expect(help.stdout).toContain(`  ${command} `);
    commandHelps.forEach((run, i) => {
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(new RegExp(`^Usage: taskengine ${commands[i]}`));
      expect(run.stdout).toContain('--api-key <key>');
    });

    // Each mistake: exit 4, nothing on stdout, and a message on stderr saying what was wrong.
    const mistakes: Array<[string[], string]> = [
      [['frobnicate'], 'unknown command "frobnicate"'],
      [[], 'Usage: taskengine <command>'],
      [['list', '--colour', 'red'], "Unknown option '--colour'"],
      [['list', '--limit', 'ten'], 'Run "taskengine list --help" for usage.'],
      [['submit', '--name', 'x'], '--type is required'],
      [['submit', '-t', 'custom', '--priority', 'urgent'], '--priority must be 0-4 or one of CRITICAL, HIGH, NORMAL, LOW, BACKGROUND'],
      [['submit', '-t', 'custom', '--payload', '{nope'], '--payload is not valid JSON'],
      [['get'], 'missing <id>'],
      [['retry'], 'give a task id, or --status and/or --type to retry many'],
      [['retry', 'some-id', '--status', 'failed'], 'give a task id or --status/--type/--limit, not both'],
      [['retry', '--status', 'failed', '--limit', '0'], '--limit must be a whole number (>= 1, <= 1000)'],
      [['pause'], 'missing <type>'],
    ];
    const runs = await Promise.all(mistakes.map(([args]) => cli(...args)));
    runs.forEach((run, i) => {
      expect(run).toMatchObject({ code: 4, stdout: '' });
      expect(run.stderr).toContain(mistakes[i]![1]);
    });
  });

  it('exits 4 with the address when the API cannot be reached', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const run = await cli('stats', '--url', url);
    expect(run.code).toBe(4);
    expect(run.stderr).toContain(`cannot reach TaskEngine at ${url}`);
  });
});

describe('taskengine submit', () => {
  it('creates a task from flags', async () => {
    const [asJson, human] = await Promise.all([
      cli('submit', '--type', 'custom', '--name', 'from-flags', '--priority', 'high', '--payload', '{"handler":"echo","k":"v"}',
        '--metadata', '{"team":"a"}', '--retries', '1', '--timeout', '30', '--delay', '3600', '--json'),
      cli('submit', '-t', 'custom'),
    ]);
    expect(asJson.code).toBe(0);
    const answer = json(asJson);
    const task = (await engine.request('GET', `/tasks/${answer.task_id}`)).body;
    expect(task).toMatchObject({
      name: 'from-flags', priority: 1, status: 'pending', payload: { handler: 'echo', k: 'v' }, metadata: { team: 'a' },
      config: { max_retries: 1, timeout_seconds: 30 },
    });
    expect(answer.task).toEqual(task);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^submitted \S+ {2}\(custom, NORMAL, queued\)\n$/);
  });

  it('creates a task from --file, the flags overriding its fields', async () => {
    const path = file('task.json', JSON.stringify({ type: 'custom', name: 'from-file', priority: 3, payload: { n: 1 } }));
    const run = await cli('submit', '--file', path, '--priority', '0', '--json');
    expect(run.code).toBe(0);
    expect(json(run).task).toMatchObject({ name: 'from-file', priority: 0, payload: { n: 1 } });
  });

  it('creates the tasks of an NDJSON file in batches of --batch-size and names their lines', async () => {
    const lines = ['{"type":"custom","payload":{"n":1}}', '{"type":"custom","payload":{"n":2}}', '',
      '{"type":"custom","name":"third"}', '{"type":"custom","priority":"low"}', '{"type":"custom"}'];
    const path = file('tasks.ndjson', `${lines.join('\n')}\n`);
    const [human, asJson] = await Promise.all([cli('submit', '--ndjson', path, '--batch-size', '2'), cli('submit', '--ndjson', path, '--json')]);
    expect(human.code).toBe(0);
    const out = human.stdout.trim().split('\n');
    expect(out.slice(0, 5).map((l) => l.split(/\s+/)[1])).toEqual(['1', '2', '4', '5', '6']);
    expect(out.at(-1)).toBe('submitted 5 tasks in 3 batches');
    const batch = json(asJson);
    expect(batch).toMatchObject({ success: true, count: 5 });
    const third = await engine.request('GET', `/tasks/${batch.task_ids[2]}`);
    expect(third.body.name).toBe('third');
  });

  it('submits a task that waits for others (--depends-on), and an NDJSON chain (--sequential) or capped batch', async () => {
    const first = json(await cli('submit', '-t', 'custom', '--delay', '3600', '--json'));
    const dependent = await cli('submit', '-t', 'custom', '--depends-on', first.task_id, '--json');
    expect(dependent.code).toBe(0);
    expect(json(dependent).task).toMatchObject({ status: 'pending', config: { dependencies: [first.task_id] } });
    const path = file('chain.ndjson', '{"type":"custom"}\n{"type":"custom"}\n{"type":"custom"}\n');
    const chain = json(await cli('submit', '--ndjson', path, '--sequential', '--json'));
    expect(chain.tasks.map((t: { status: string }) => t.status)).toEqual(['queued', 'pending', 'pending']);
    expect((await engine.request('GET', `/tasks/${chain.task_ids[2]}`)).body.config.dependencies).toEqual([chain.task_ids[1]]);
    const capped = json(await cli('submit', '--ndjson', path, '--max-concurrency', '2', '--json'));
    expect(capped.tasks.map((t: { status: string }) => t.status)).toEqual(['queued', 'queued', 'pending']);
    // Ordering and caps hold within one batch request: a file larger than one is refused up front.
    const tooBig = await cli('submit', '--ndjson', path, '--sequential', '--batch-size', '2');
    expect(tooBig.code).toBe(4);
    expect(tooBig.stderr).toMatch(/apply to one batch/);
    expect((await cli('submit', '-t', 'custom', '--sequential')).code).toBe(4);
  });

  it('reports bad NDJSON lines by number and creates nothing', async () => {
    const before = await created();
    const local = file('bad.ndjson', ['{"type":"custom"}', '{"type":"custom",', '{"type":"custom"}', '{"type":"custom","colour":"red"}',
      '[1]', '{"type":"custom","id":"dup-1"}', '{"type":"custom","id":"dup-1"}'].join('\n'));
    const server = file('bad-payload.ndjson', ['{"type":"custom"}', '{"type":"custom"}', '{"type":"custom","payload":{"handler":"nope"}}'].join('\n'));
    const [localRun, serverRun] = await Promise.all([cli('submit', '--ndjson', local), cli('submit', '--ndjson', server)]);
    expect(localRun).toMatchObject({ code: 4, stdout: '' });
    expect(localRun.stderr).toContain('4 bad lines; nothing was sent');
    expect(localRun.stderr).toMatch(/line 2: \(line\): not valid JSON/);
    expect(localRun.stderr).toContain('line 4: colour: unknown field');
    expect(localRun.stderr).toContain('line 5: (line): must be a JSON object');
    expect(localRun.stderr).toContain('line 7: id: repeats the id of line 6');
    // A payload only the server can check (the custom handler's name) is named by line too.
    expect(serverRun).toMatchObject({ code: 4, stdout: '' });
    expect(serverRun.stderr).toContain('nothing from line 1 on was created');
    expect(serverRun.stderr).toMatch(/line 3: payload\.handler: unknown handler "nope"/);
    expect(await created()).toBe(before);
  });
});

describe('taskengine get, list, cancel, stats, workers, health', () => {
  it('shows a task, and exits 4 with the API error for an unknown id', async () => {
    const task = await createTask(engine, { name: 'shown', delay_seconds: 3600, payload: { k: 1 } });
    const [human, asJson, missing] = await Promise.all([cli('get', task.id), cli('get', task.id, '--json'), cli('get', 'no-such-task')]);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(new RegExp(`^id +${task.id}\n`));
    expect(human.stdout).toMatch(/\nstatus +pending\n/);
    expect(human.stdout).toMatch(/\npayload +\{"k":1\}\n/);
    expect(json(asJson)).toEqual((await engine.request('GET', `/tasks/${task.id}`)).body);
    expect(missing).toMatchObject({ code: 4, stdout: '' });
    expect(missing.stderr).toContain('task_not_found: task no-such-task not found');
  });

  it('lists one page or, with --all, every task once', async () => {
    for (let i = 0; i < 3; i++) await createTask(engine, { delay_seconds: 3600 });
    const [page, all, human, badStatus] = await Promise.all([
      cli('list', '--limit', '2', '--json'),
      cli('list', '--all', '--limit', '2', '--json'),
      cli('list', '--status', 'pending', '--type', 'custom', '-n', '2'),
      cli('list', '--status', 'sleeping'),
    ]);
    const first = json(page);
    expect(first).toMatchObject({ count: 2, next_cursor: expect.any(String) });
    const everything = json(all);
    expect(everything.count).toBe(everything.total);
    expect(new Set(everything.tasks.map((t: any) => t.id)).size).toBe(everything.total);
    expect(everything.next_cursor).toBeNull();
    expect(human.code).toBe(0);
    const lines = human.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^ID +TYPE +STATUS +PRIORITY +PROGRESS +CREATED +NAME$/);
    expect(lines.slice(1, 3).every((l) => / custom +pending /.test(l))).toBe(true);
    expect(lines[3]).toMatch(/^2 of \d+ tasks; next page: --cursor \S+/);
    expect(badStatus.code).toBe(4);
    expect(badStatus.stderr).toContain('validation_error');
    expect(badStatus.stderr).toContain('status: unknown status "sleeping"');
  });

  it('cancels a task, and exits 4 when it is no longer cancellable', async () => {
    const task = await createTask(engine, { delay_seconds: 3600 });
    const first = await cli('cancel', task.id);
    expect(first).toEqual({ code: 0, stdout: `cancelled ${task.id} (was pending)\n`, stderr: '' });
    const again = await cli('cancel', task.id, '--json');
    expect(again).toMatchObject({ code: 4, stdout: '' });
    expect(again.stderr).toContain(`task_not_cancellable: task ${task.id} is already cancelled`);
  });

  it('shows stats, workers and health, as text and as JSON', async () => {
    const runs = await Promise.all([cli('stats'), cli('stats', '--json'), cli('workers'), cli('workers', '--json'), cli('health'), cli('health', '--json')]);
    for (const run of runs) expect(run).toMatchObject({ code: 0, stderr: '' });
    const [stats, statsJson, workers, workersJson, health, healthJson] = runs as [Run, Run, Run, Run, Run, Run];
    expect(stats.stdout).toMatch(/^tasks +\d+ retained: \d+ pending, /);
    expect(stats.stdout).toMatch(/\nworkers +1 \(\d busy\)\n/);
    expect(json(statsJson)).toMatchObject({ total_tasks: expect.any(Number), by_type: { custom: expect.any(Object) } });
    expect(workers.stdout).toMatch(/^WORKER +HOST +PID +STATUS/);
    expect(workers.stdout).toMatch(/\n1 workers, \d busy\n$/);
    expect(json(workersJson)).toMatchObject({ total: 1, workers: [{ task_types: ['custom'] }] });
    expect(health.stdout).toMatch(/^healthy {2}TaskEngine node 02 v\S+ {2}redis up {2}workers 1 /);
    expect(json(healthJson)).toMatchObject({ status: 'healthy', redis: 'up' });
  });
});

describe('taskengine retry, queues, pause, resume', () => {
  it('retries a task, and exits 4 when it is not retryable', async () => {
    const task = await createTask(engine, { delay_seconds: 3600 });
    await engine.request('POST', `/tasks/${task.id}/cancel`);
    expect(await cli('retry', task.id)).toEqual({ code: 0, stdout: `retried ${task.id} (was cancelled): queued\n`, stderr: '' });
    await waitForStatus(engine, task.id, 'completed');
    const again = await cli('retry', task.id);
    expect(again).toMatchObject({ code: 4, stdout: '' });
    expect(again.stderr).toContain(`conflict: task ${task.id} cannot be retried: it is completed`);
  });

  it('retries the tasks matching --status and --type, as text and as JSON', async () => {
    const cancelled: string[] = [];
    for (let i = 0; i < 3; i++) {
      const task = await createTask(engine, { type: 'system_command', payload: { command: 'echo hi' }, delay_seconds: 3600 });
      await engine.request('POST', `/tasks/${task.id}/cancel`);
      cancelled.push(task.id);
    }
    const human = await cli('retry', '--status', 'cancelled', '--type', 'system_command', '--limit', '2');
    expect(human).toEqual({ code: 0, stdout: `retried ${cancelled[0]}\nretried ${cancelled[1]}\n2 retried, 0 skipped\n`, stderr: '' });
    const asJson = await cli('retry', '-s', 'cancelled', '-t', 'system_command', '--json');
    expect(json(asJson)).toEqual({ success: true, retried: 1, task_ids: [cancelled[2]], skipped: [] });
  });

  it('lists the queues, pauses and resumes one', async () => {
    const paused = await cli('pause', 'system_command');
    expect(paused).toEqual({ code: 0, stdout: 'system_command paused\n', stderr: '' });
    const human = await cli('queues');
    expect(human.code).toBe(0);
    const lines = human.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^TYPE +STATE +PENDING +QUEUED +RUNNING +COMPLETED +FAILED +CANCELLED +TIMEOUT +WORKERS +SLOTS +RATE LIMIT$/);
    expect(lines.find((l) => l.startsWith('system_command'))).toMatch(/^system_command +paused +\d+ +\d+ +0 +/);
    expect(lines.find((l) => l.startsWith('custom '))).toMatch(/^custom +running( +\d+){7} +1 +10 +-$/);
    const asJson = json(await cli('queues', '--json'));
    expect(asJson.queues.find((q: any) => q.type === 'system_command')).toMatchObject({ paused: true, workers: 0 });
    expect(await cli('resume', 'system_command', '--json')).toMatchObject({ code: 0, stdout: `${JSON.stringify({ success: true, type: 'system_command', paused: false }, null, 2)}\n` });
    const unknown = await cli('pause', 'nope');
    expect(unknown).toMatchObject({ code: 4, stdout: '' });
    expect(unknown.stderr).toContain('validation_error');
  });
});

describe('taskengine wait: exit codes', () => {
  const sleeper = (ms: number, config?: Record<string, unknown>): Promise<any> =>
    createTask(engine, { payload: { handler: 'sleep', duration_ms: ms }, ...(config ? { config } : {}) });

  it('0 completed, 1 failed, 2 timeout', async () => {
    const echo = await createTask(engine, { payload: { handler: 'echo', said: 'hi' } });
    const failing = await createTask(engine, { payload: { handler: 'fail', message: 'broken on purpose', retryable: false } });
    const slow = await sleeper(20_000, { timeout_seconds: 1, max_retries: 0 });
    const [completed, completedJson, failed, timedOut] = await Promise.all([
      cli('wait', echo.id), cli('wait', echo.id, '--json'), cli('wait', failing.id), cli('wait', slow.id, '--interval', '100'),
    ]);
    expect(completed.code).toBe(0);
    expect(completed.stdout).toMatch(new RegExp(`^completed {2}${echo.id} {2}custom`));
    expect(completed.stdout).toContain('result  {"custom_result":"success","payload_received":{"handler":"echo","said":"hi"}}');
    expect(completed.stderr).toMatch(/\] completed 100%\n$/);
    expect(completedJson.code).toBe(0);
    expect(json(completedJson)).toMatchObject({ id: echo.id, status: 'completed' });
    expect(failed.code).toBe(1);
    expect(failed.stdout).toContain('handler_error: broken on purpose');
    expect(timedOut.code).toBe(2);
    expect(timedOut.stdout).toMatch(new RegExp(`^timeout {2}${slow.id} `));
  });

  it('3 when the task is cancelled while waiting, 5 when the wait gives up', async () => {
    const [cancelled, patient] = [await sleeper(30_000), await sleeper(30_000)];
    const waiting = start(['wait', cancelled.id, '--interval', '100']);
    const givingUp = cli('wait', patient.id, '--timeout', '1', '--json');
    // Cancel once the CLI has seen the task running (it prints a line for each change).
    await waitFor(() => waiting.stderr().includes('running'), { what: 'the CLI to see the task running' });
    expect((await engine.request('POST', `/tasks/${cancelled.id}/cancel`)).status).toBe(200);
    const [cancelRun, gaveUp] = await Promise.all([waiting.done, givingUp]);
    expect(cancelRun.code).toBe(3);
    expect(cancelRun.stdout).toMatch(new RegExp(`^cancelled {2}${cancelled.id} `));
    expect(gaveUp.code).toBe(5);
    expect(json(gaveUp)).toMatchObject({ id: patient.id, status: expect.stringMatching(/^(queued|running)$/) });
    await engine.request('POST', `/tasks/${patient.id}/cancel`);
    await waitForStatus(engine, patient.id, 'cancelled');
  });

  it('4 for an unknown task; get --wait and submit --wait exit like wait', async () => {
    const failing = await createTask(engine, { payload: { handler: 'fail', retryable: false } });
    const [unknown, getWait, submitWait, batchWait] = await Promise.all([
      cli('wait', 'no-such-task'),
      cli('get', failing.id, '--wait'),
      cli('submit', '-t', 'custom', '--payload', '{"handler":"echo"}', '--wait', '--json'),
      cli('submit', '--ndjson', file('wait.ndjson', '{"type":"custom"}\n{"type":"custom","payload":{"handler":"fail","retryable":false}}\n'), '--wait'),
    ]);
    expect(unknown).toMatchObject({ code: 4, stdout: '' });
    expect(unknown.stderr).toContain('task_not_found');
    expect(getWait.code).toBe(1);
    expect(getWait.stdout).toMatch(new RegExp(`^failed {2}${failing.id} `));
    expect(submitWait.code).toBe(0);
    expect(json(submitWait)).toMatchObject({ status: 'completed' });
    expect(batchWait.code).toBe(1);
    expect(batchWait.stdout).toMatch(/\n2 tasks: 1 (completed|failed), 1 (completed|failed)\n$/);
  });
});

describe('taskengine events', () => {
  const openStreams = async (): Promise<number> =>
    Number(/^taskengine_event_streams (\d+)$/m.exec((await engine.request('GET', '/metrics')).body as string)?.[1]);

  it('prints each event of the types asked for, one per line (--json: one object per line), until --count', async () => {
    const before = await openStreams();
    const following = start(['events', '--type', 'custom', '--count', '3', '--json']);
    await waitFor(async () => (await openStreams()) > before, { what: 'the CLI to open its event stream' });
    const task = await createTask(engine, { payload: { handler: 'echo' } });
    const run = await following.done;
    expect(run.code).toBe(0);
    const events = run.stdout.trim().split('\n').map((line) => JSON.parse(line));
    expect(events.map((e) => [e.event, e.data.task_id, e.data.status])).toEqual([
      ['status', task.id, 'queued'],
      ['status', task.id, 'running'],
      ['status', task.id, 'completed'],
    ]);
    for (const event of events) expect(event.id).toMatch(/^custom=\d+-\d+$/);

    const text = start(['events', '--type', 'custom', '--count', '1']);
    await waitFor(async () => (await openStreams()) > before, { what: 'the CLI to open its event stream' });
    const another = await createTask(engine, { payload: { handler: 'echo' } });
    const line = await text.done;
    expect(line.code).toBe(0);
    expect(line.stdout).toMatch(new RegExp(`^\\S+  custom  ${another.id}  queued\\n$`));
  });

  it('reconnects after the connection drops and prints what happened meanwhile, once', async () => {
    const proxy = await TcpProxy.start(Number(new URL(engine.baseUrl).port));
    try {
      const before = await openStreams();
      const following = start(['events', '--type', 'custom', '--count', '6', '--json'], { TASKENGINE_URL: `http://127.0.0.1:${proxy.port}` });
      await waitFor(async () => (await openStreams()) > before, { what: 'the CLI to open its event stream' });
      const first = await createTask(engine, { payload: { handler: 'echo' } });
      await waitFor(() => following.stdout().includes('"completed"'), { what: 'the first task on the CLI' });
      proxy.drop();
      // While the CLI cannot reach the API, a task runs from start to end.
      const missed = await createTask(engine, { payload: { handler: 'echo' } });
      await waitForStatus(engine, missed.id, 'completed');
      proxy.resume();
      const run = await following.done;
      expect(run.code).toBe(0);
      expect(run.stderr).toContain('resuming after the last event shown');
      const events = run.stdout.trim().split('\n').map((line) => JSON.parse(line));
      expect(events.map((e) => [e.data.task_id, e.data.status])).toEqual([
        [first.id, 'queued'], [first.id, 'running'], [first.id, 'completed'],
        [missed.id, 'queued'], [missed.id, 'running'], [missed.id, 'completed'],
      ]);
    } finally {
      await proxy.close();
    }
  });

  it('exits 4 on a type the API refuses, without retrying', async () => {
    const run = await cli('events', '--type', 'nope');
    expect(run.code).toBe(4);
    expect(run.stderr).toContain('unknown task type "nope"');
  });
});

describe('taskengine schedules', () => {
  it('creates, lists, shows and deletes schedules', async () => {
    const before = (await engine.request('GET', '/schedules')).body.total as number;
    const taskFile = file('scheduled-task.json', JSON.stringify({ type: 'custom', name: 'from-file', payload: { handler: 'echo', n: 1 } }));
    const [asJson, human] = await Promise.all([
      cli('schedules', 'create', '--cron', '0 3 * * *', '--schedule-name', 'nightly', '--type', 'custom', '--priority', 'low', '--payload', '{"handler":"echo"}', '--json'),
      cli('schedules', 'create', '--cron', '30 9 * * *', '--timezone', 'Asia/Kolkata', '--file', taskFile),
    ]);
    expect(asJson).toMatchObject({ code: 0, stderr: '' });
    const nightly = json(asJson);
    expect(nightly).toMatchObject({ success: true, schedule: { name: 'nightly', cron: '0 3 * * *', timezone: 'UTC', task: { type: 'custom', priority: 3, payload: { handler: 'echo' } } } });
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^created schedule \S+ {2}\(cron "30 9 \* \* \*" Asia\/Kolkata; next run \d{4}-\d\d-\d\dT04:00:00\.000Z\)\n$/);
    const kolkataId = /^created schedule (\S+)/.exec(human.stdout)![1]!;
    expect((await engine.request('GET', `/schedules/${kolkataId}`)).body).toMatchObject({ name: 'from-file', task: { name: 'from-file', payload: { handler: 'echo', n: 1 } } });
    const every = await cli('schedules', 'create', '--every', '3600', '-t', 'custom', '--json');
    expect(json(every).schedule).toMatchObject({ every_seconds: 3600, cron: null, timezone: null });

    const list = await cli('schedules', 'list');
    expect(list.code).toBe(0);
    const lines = list.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^ID\s+TYPE\s+WHEN\s+NEXT RUN\s+LAST RUN\s+RUNS\s+NAME$/);
    expect(lines.find((line) => line.startsWith(nightly.id))).toMatch(/ custom\s+cron "0 3 \* \* \*" UTC\s+\S+T03:00:00\.000Z\s+-\s+0\s+nightly$/);
    expect(lines.find((line) => line.startsWith(json(every).id))).toMatch(/ custom\s+every 3600s\s/);
    expect(lines.at(-1)).toBe(`${before + 3} schedules`);
    expect(json(await cli('schedules', 'list', '--json'))).toEqual((await engine.request('GET', '/schedules')).body);

    const shown = await cli('schedules', 'get', nightly.id);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain(`id        ${nightly.id}\n`);
    expect(shown.stdout).toMatch(/^when {6}cron "0 3 \* \* \*" UTC$/m);
    expect(shown.stdout).toMatch(/^task {6}custom, LOW$/m);
    expect(shown.stdout).toMatch(/^runs {6}0$/m);

    expect(await cli('schedules', 'delete', nightly.id)).toEqual({ code: 0, stdout: `deleted schedule ${nightly.id}\n`, stderr: '' });
    const again = await cli('schedules', 'get', nightly.id);
    expect(again).toMatchObject({ code: 4, stdout: '' });
    expect(again.stderr).toContain(`not_found: schedule ${nightly.id} not found`);
    for (const id of [kolkataId, json(every).id]) expect(json(await cli('schedules', 'delete', id, '--json'))).toEqual({ success: true, id, deleted: true });
    expect((await engine.request('GET', '/schedules')).body.total).toBe(before);
  });

  it('exits 4 on usage errors and on refusals, saying what was wrong, and creates nothing', async () => {
    const before = (await engine.request('GET', '/schedules')).body.total as number;
    const mistakes: Array<[string[], string]> = [
      [['schedules'], 'missing <list|create|get|delete> [id]'],
      [['schedules', 'pause'], 'unknown action "pause"; actions: list, create, get, delete'],
      [['schedules', 'get'], "schedules get needs the schedule's id"],
      [['schedules', 'list', 'extra'], 'unexpected argument "extra"'],
      [['schedules', 'list', '--every', '5'], '--every goes with create'],
      [['schedules', 'create', '--every', '5'], '--type is required'],
      [['schedules', 'create', '--every', 'often', '-t', 'custom'], '--every must be a whole number'],
      [['schedules', 'create', '--delay', '5', '-t', 'custom'], "Unknown option '--delay'"],
      // The server's refusals, with the field each names.
      [['schedules', 'create', '-t', 'custom'], 'cron: give cron or every_seconds'],
      [['schedules', 'create', '--cron', '0 9 * * *', '--timezone', 'Mars/Olympus', '-t', 'custom'], 'timezone: must be an IANA time zone'],
    ];
    const runs = await Promise.all(mistakes.map(([args]) => cli(...args)));
    runs.forEach((run, i) => {
      expect({ args: mistakes[i]![0], code: run.code, stdout: run.stdout }).toEqual({ args: mistakes[i]![0], code: 4, stdout: '' });
      expect(run.stderr).toContain(mistakes[i]![1]);
    });
    expect((await engine.request('GET', '/schedules')).body.total).toBe(before);
    const help = await cli('schedules', '--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: taskengine schedules <list\|create\|get\|delete> \[id\]/);
    expect(help.stdout).toContain('--cron <expr>');
    expect((await cli('--help')).stdout).toContain('  schedules ');
  });
});
