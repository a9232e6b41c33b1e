// The bull-board dashboard in real headless Chromium (Debian's package, driven by playwright-core):
// behind the API keys, every task type's queue listed, a task created through the API visible, no
// actions offered in read-only mode, no Content-Security-Policy violation. Leaves a screenshot in
// test-artifacts/dashboard.png.
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { TASK_TYPES } from '@taskengine/core';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext } from 'playwright-core';
import { launchChromium, openPage, pageProblems, type WatchedPage } from '../support/chromium.js';
import { REPO_ROOT, startEngine, type Engine } from '../support/harness.js';

const KEY = 'dashboard-key-0123456789';
const SCOPED = 'dashboard-scoped-key';
const DASHBOARD = '/admin/queues';
const SCREENSHOT = join(REPO_ROOT, 'test-artifacts', 'dashboard.png');
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

let engine: Engine;
let browser: Browser;
let task: { id: string; name: string };
const opened: Array<{ context: BrowserContext } & WatchedPage> = [];

async function open(credentials?: string): Promise<WatchedPage> {
  const watched = await openPage(browser, credentials ? { httpCredentials: { username: 'admin', password: credentials } } : {});
  opened.push(watched);
  return watched;
}

beforeAll(async () => {
  engine = await startEngine({
    label: 'dashboard',
    overrides: { auth: { api_keys: [KEY, { name: 'ai-team', key: SCOPED, task_types: ['ai_inference'] }] } },
  });
  // Delayed ten minutes, so it stays visible (pending) whatever else runs.
  const created = await engine.request('POST', '/tasks', { type: 'custom', name: 'dashboard-probe', delay_seconds: 600 }, { authorization: `Bearer ${KEY}` });
  expect(created.status).toBe(201);
  task = { id: created.body.task_id, name: created.body.task.name };
  browser = await launchChromium();
});

afterEach(async () => {
  // Every page a test opened must have run without a CSP violation or an uncaught error.
  const problems = (await Promise.all(opened.map((watched) => pageProblems(watched)))).flat();
  await Promise.all(opened.splice(0).map(({ context }) => context.close()));
  expect(problems).toEqual([]);
});

afterAll(async () => {
  await browser?.close();
  await engine?.stop();
});

describe('dashboard in Chromium', () => {
  it('is refused without credentials (401), and to a key scoped to task types (403)', async () => {
    // Without credentials Chromium gives up on the Basic challenge (the navigation fails); the
    // answer it got is the 401 with the challenge.
    const anonymous = await open();
    const challenge = anonymous.page.waitForResponse(engine.baseUrl + DASHBOARD);
    await expect(anonymous.page.goto(engine.baseUrl + DASHBOARD)).rejects.toThrow(/ERR_INVALID_AUTH_CREDENTIALS/);
    const refused = await challenge;
    expect(refused.status()).toBe(401);
    expect(refused.headers()['www-authenticate']).toContain('Basic');
    const wrong = await open('not-a-key');
    expect((await wrong.page.goto(engine.baseUrl + DASHBOARD))?.status()).toBe(401);
    const scoped = await open(SCOPED);
    expect((await scoped.page.goto(engine.baseUrl + DASHBOARD))?.status()).toBe(403);
  });

  it("loads with an API key as the Basic password and lists every task type's queue", async () => {
    const { page } = await open(KEY);
    const response = await page.goto(engine.baseUrl + DASHBOARD);
    expect(response?.status()).toBe(200);
    await expect(page.title()).resolves.toBe('TaskEngine');
    for (const type of TASK_TYPES) {
      await page.getByText(type, { exact: true }).first().waitFor({ state: 'visible' });
    }
    const queues = await page.getByRole('link', { name: /^\{\w+\}$/ }).allInnerTexts();
    expect([...queues].sort()).toEqual(TASK_TYPES.map((type) => `{${type}}`).sort());
  });

  it('shows a task created through the API in its queue, and saves a screenshot', async () => {
    const { page } = await open(KEY);
    await page.goto(engine.baseUrl + DASHBOARD);
    await page.getByRole('link', { name: '{custom}', exact: true }).click();
    await page.waitForURL(/\/queue\/%7Bcustom%7D/);
    await page.getByText(task.id, { exact: true }).waitFor({ state: 'visible' });
    await page.getByText(task.name, { exact: true }).waitFor({ state: 'visible' });
    rmSync(SCREENSHOT, { force: true });
    mkdirSync(join(REPO_ROOT, 'test-artifacts'), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(readFileSync(SCREENSHOT).subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
  });

  it('is read-only: no actions offered, and bull-board refuses them', async () => {
    const { page } = await open(KEY);
    await page.goto(`${engine.baseUrl}${DASHBOARD}/queue/%7Bcustom%7D?status=delayed`);
    await page.getByText(task.id, { exact: true }).waitFor({ state: 'visible' });
    const actions = page.getByRole('button', { name: /clean|retry|promote|remove|delete|empty|pause|resume|duplicate|add job/i });
    expect(await actions.count()).toBe(0);
    // What the page was told, and what the server does when asked anyway.
    const board = await page.request.get(`${engine.baseUrl}${DASHBOARD}/api/queues`);
    expect(board.status()).toBe(200);
    const { queues } = (await board.json()) as { queues: Array<{ name: string; readOnlyMode: boolean }> };
    expect(queues).toHaveLength(TASK_TYPES.length);
    expect(queues.every((queue) => queue.readOnlyMode)).toBe(true);
    const clean = await page.request.put(`${engine.baseUrl}${DASHBOARD}/api/queues/%7Bcustom%7D/clean/delayed`);
    expect(clean.status()).toBe(405);
    const after = await engine.request('GET', `/tasks/${task.id}`, undefined, { authorization: `Bearer ${KEY}` });
    expect(after.body.status).toBe('pending');
  });
});
