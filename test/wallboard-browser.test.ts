import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { READ_KEY, startStack, type IntentView, type Stack } from './helpers/stack.js';
import { wallboardBuild } from './helpers/wallboard-build.js';

/**
 * The wallboard in a real headless Chromium (Debian's, driven by playwright-core; no browser is
 * downloaded), against the real API, worker and Redis, with the simulator as Plivo. One browser
 * and one page for the file; every wait is for a state of the page, never for a time.
 * WALLBOARD_SCREENSHOT=<path.png> also saves the board at 1920×1080 (docs/wallboard.png).
 */
/** The little of the DOM the functions run in the page use (this tsconfig has no DOM lib; the casts compile away). */
type InPage = { document: { cookie: string; querySelector(s: string): { textContent: string | null } | null } };

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const WAIT = { timeout: 15_000 };

describe('the wallboard in a browser', () => {
  let stack: Stack;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  /** What the browser said went wrong: script errors, CSP violations, failed requests other than the expected ones. */
  const problems: string[] = [];

  beforeAll(async () => {
    const dir = await wallboardBuild();
    stack = await startStack({
      wallboardDir: dir,
      env: {
        QUEUES: JSON.stringify({
          support: { service_level_seconds: 20 },
          sales: { service_level_seconds: 30, service_level_target: 0.95 },
        }),
        EVENTS_KEEPALIVE_SECONDS: '1',
      },
    });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-background-networking'],
    });
    context = await browser.newContext({ viewport: { width: 1920, height: 1080 } });
    page = await context.newPage();
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    page.on('console', (m) => {
      // A refused sign-in and the API's restart show as failed requests; anything else is a fault.
      if (
        m.type() === 'error' &&
        !/status of 401|ERR_CONNECTION_REFUSED|ERR_EMPTY_RESPONSE|ERR_INCOMPLETE/.test(m.text())
      )
        problems.push(`console: ${m.text()}`);
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  });

  const accepted = async (body: object) => {
    const res = await stack.post(body);
    expect(res.status).toBe(202);
    return stack.waitForIntent(((await res.json()) as IntentView).id);
  };
  /** Resolves once the element's text is `text`. */
  const textIs = (selector: string, text: string) =>
    page.waitForFunction(
      ([s, t]) => (globalThis as unknown as InPage).document.querySelector(s!)?.textContent === t,
      [selector, text],
      WAIT,
    );
  const waiting = (queue: string) => `[data-queue="${queue}"] [data-field="waiting"]`;
  const sessionCookies = async () => (await context.cookies()).filter((c) => c.name === 'holdq_wallboard');

  it('when a wrong key is typed, then the page says so and no cookie is set', async () => {
    await page.goto(`${stack.apiUrl}/wallboard`);
    await page.locator('#sign-in-form').waitFor(WAIT);
    expect(await page.locator('input').count()).toBe(1);
    expect(await page.locator('input').getAttribute('type')).toBe('password');
    await page.fill('#key', 'not-a-key-of-this-holdq');
    await page.click('#sign-in-form button[type=submit]');
    await textIs('#sign-in-message', 'That key is not valid.');
    expect(await sessionCookies()).toEqual([]);
    expect(await page.locator('#board').isHidden()).toBe(true);
  });

  it('when a READ_KEYS key is typed, then the board shows, live, on an HttpOnly cookie, the key in no URL; a reload keeps it', async () => {
    await page.fill('#key', READ_KEY);
    await page.click('#sign-in-form button[type=submit]');
    await page.locator('#board').waitFor(WAIT);
    await textIs('#status', 'live');
    await page.locator('[data-queue="support"]').waitFor(WAIT);
    await textIs(waiting('support'), '0');
    const [cookie] = await sessionCookies();
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/v1', secure: false });
    expect(cookie!.value).not.toContain(READ_KEY);
    expect(page.url()).toBe(`${stack.apiUrl}/wallboard`);
    expect(await page.inputValue('#key')).toBe('');
    // The page's script cannot read the cookie.
    expect(await page.evaluate(() => (globalThis as unknown as InPage).document.cookie)).toBe('');
    await page.reload();
    await page.locator('#board').waitFor(WAIT);
    await textIs('#status', 'live');
    expect(await page.locator('#sign-in').isHidden()).toBe(true);
  });

  it('when a caller is queued through the API, then the queue’s count goes up and the event is listed, without a reload', async () => {
    await accepted({ type: 'enqueue', call_uuid: 'wb-browser-1', queue: 'support' });
    await textIs(waiting('support'), '1');
    await page.locator('.event[data-type="queue.joined"] .event-call', { hasText: 'wb-browser-1' }).waitFor(WAIT);
    // The oldest wait ticks here, every second, from 0:00.
    await page.waitForFunction(
      (s) => /^0:0[1-9]$/.test((globalThis as unknown as InPage).document.querySelector(s)?.textContent ?? ''),
      '[data-queue="support"] [data-field="oldest"]',
      WAIT,
    );
  });

  it('when the caller is bridged to an agent, then the count goes down and the caller is shown leaving', async () => {
    await accepted({ type: 'dequeue', queue: 'support', agent_call_uuid: 'wb-agent-1' });
    await textIs(waiting('support'), '0');
    await page.locator('.event[data-type="queue.left"] .event-detail', { hasText: /^bridged/ }).waitFor(WAIT);
    // One answered, within 20 s: the service level is 100 %, on target.
    await textIs('[data-queue="support"] [data-field="service-level"]', '100 %');
    expect(await page.getAttribute('[data-queue="support"]', 'data-service-level')).toBe('ok');
    // Each queue is judged against its own target: 80 % unless configured.
    await textIs('[data-queue="support"] .figure-sub', 'answered in 20 s · target 80 %');
    await textIs('[data-queue="sales"] .figure-sub', 'answered in 30 s · target 95 %');
  });

  it('when a call is put on hold and taken off, then it appears under On hold and goes', async () => {
    await accepted({ type: 'hold', call_uuid: 'wb-held-b' });
    await page.locator('#held [data-call="wb-held-b"]').waitFor(WAIT);
    await textIs('#held-count', '1');
    await accepted({ type: 'unhold', call_uuid: 'wb-held-b' });
    await page.locator('#held [data-call="wb-held-b"]').waitFor({ ...WAIT, state: 'detached' });
    await textIs('#held-count', '0');
  });

  it('when the API restarts, then the page shows it reconnecting, resumes its stream, and a new caller still appears', async () => {
    await stack.restartApi(async () => {
      await textIs('#status', 'reconnecting…');
    });
    await textIs('#status', 'live');
    await accepted({ type: 'enqueue', call_uuid: 'wb-browser-2', queue: 'sales' });
    await textIs(waiting('sales'), '1');
    await page.locator('.event[data-type="queue.joined"] .event-call', { hasText: 'wb-browser-2' }).waitFor(WAIT);
  }, 60_000);

  it('when the supervisor signs out, then the sign-in form is back, the cookie is gone and the session opens nothing', async () => {
    const [cookie] = await sessionCookies();
    await page.click('#sign-out');
    await page.locator('#sign-in-form').waitFor(WAIT);
    await textIs('#status', 'signed out');
    expect(await sessionCookies()).toEqual([]);
    const res = await fetch(`${stack.apiUrl}/v1/queues`, { headers: { cookie: `holdq_wallboard=${cookie!.value}` } });
    expect(res.status).toBe(401);
    expect(problems).toEqual([]);
  });
});
