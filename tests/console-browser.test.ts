/**
 * The console in a real browser: Debian's chromium driven by playwright-core. In CI
 * (CI=true) a missing browser fails these tests; elsewhere they are reported as not run,
 * by name. Screenshots go to test-results/console/.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { AxeBuilder } from '@axe-core/playwright';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PermanentError } from '../providers/contract.ts';
import { CONSOLE_OPERATOR, CONSOLE_VIEWER, startConsoleDaemon, type ConsoleDaemon } from './helpers/console-daemon.ts';
import { startLocalIssuer, type LocalIssuer } from './helpers/oidc-issuer.ts';
import { pollUntil } from './helpers/poll.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SHOTS = 'test-results/console';
const present = existsSync(CHROMIUM);
const mustRun = present || Boolean(process.env.CI);
if (!mustRun) console.warn(`console browser tests NOT RUN: no chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`);

let c: ConsoleDaemon;
let browser: Browser;
/** The identity provider of "Sign in with": a public client, so PKCE alone binds its codes. */
let local: LocalIssuer;
/** Everything the browser reported: CSP violations and script errors show up here. */
const problems: string[] = [];
/** Set while a test provokes a refusal on purpose: the browser logs the status it asked for. */
let refusalExpected: 401 | 403 | null = null;

beforeAll(async () => {
  if (!mustRun) return;
  if (!present)
    throw new Error(`chromium is missing at ${CHROMIUM}: scripts/ensure-chromium.sh installs it (CI must run the console browser tests)`);
  mkdirSync(SHOTS, { recursive: true });
  local = await startLocalIssuer();
  c = await startConsoleDaemon({
    oidc: {
      issuer: local.issuer,
      audience: 'deprovisiond',
      roleClaim: 'groups',
      roles: { viewer: ['sec-viewers'], operator: ['sec-ops'] },
      console: { clientId: 'console' },
    },
  });
  local.register({ clientId: 'console', redirectUris: [`${c.daemon.url}/console/login/callback`] });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await c?.stop();
  await local?.close();
});

/** A fresh browser context's page, reporting what the browser complains about. */
async function openPage(): Promise<Page> {
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
  page.on('console', (m) => {
    if (refusalExpected && m.text().includes(`status of ${refusalExpected}`)) return;
    if (m.type() === 'error' || /Content Security Policy/i.test(m.text())) problems.push(`${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('dialog', (d) => void d.accept());
  return page;
}

async function signIn(token: string): Promise<Page> {
  const page = await openPage();
  await page.goto(`${c.daemon.url}/`);
  await page.fill('#token', token);
  await page.click('button[type=submit]');
  await page.waitForSelector('h1:text("Overview")');
  return page;
}

/** From any page to the list of terminations, through the header. */
async function openList(page: Page) {
  await page.click('header nav a:text("Terminations")');
  await page.waitForSelector('h1:text-is("Terminations")');
}

async function submit(userName: string, playbook?: string) {
  const { termination } = await c.daemon.terminations.submit({
    source: 'admin',
    subject: { userName, emails: [userName] },
    actor: 'admin:ops',
    reason: 'last day',
    ...(playbook ? { playbook } : {}),
  });
  return termination;
}

/** axe-core's serious and critical findings on the page as it stands, one line each. */
async function accessibilityProblems(page: Page): Promise<string[]> {
  const { violations } = await new AxeBuilder({ page }).analyze();
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id}: ${v.help} (${v.nodes.length} element(s))`);
}

const row = (page: Page, step: string) => page.locator('tbody tr', { has: page.locator(`td.step:text-is("${step}")`) });

describe.skipIf(!mustRun)(`console in ${CHROMIUM}`, () => {
  it('refuses a wrong token on the sign-in page, without putting it in the URL', async () => {
    const page = await (await browser.newContext()).newPage();
    await page.goto(`${c.daemon.url}/`);
    expect(page.url()).toBe(`${c.daemon.url}/console/login`);
    await page.fill('#token', 'not-a-token-anyone-configured');
    await page.click('button[type=submit]');
    await expect(page.locator('[role=alert]').textContent()).resolves.toContain('That token was not accepted');
    expect(page.url()).not.toContain('not-a-token');
    await page.screenshot({ path: `${SHOTS}/login.png` });
    await expect(accessibilityProblems(page)).resolves.toEqual([]);
    await page.context().close();
  });

  it('lists terminations, replays a failed task and shows it succeeded, then completes the manual step', async () => {
    c.fake.script('revoke_sessions', { kind: 'throw', error: new PermanentError('missing permission: users.signout') });
    const t = await submit('ada@example.com');
    const page = await signIn(CONSOLE_OPERATOR);
    await openList(page);
    await page.locator('tbody a', { hasText: 'ada@example.com' }).click();
    await row(page, 'revoke-sessions').locator('.state.failed').waitFor();
    await page.screenshot({ path: `${SHOTS}/termination-failed.png`, fullPage: true });
    await expect(accessibilityProblems(page)).resolves.toEqual([]);

    await page.click('button:text("Replay revoke-sessions")');
    await row(page, 'revoke-sessions').locator('.state.succeeded').waitFor();

    await row(page, 'collect-laptop').locator('input').fill('laptop returned to IT');
    await page.click('button:text("Complete collect-laptop")');
    await row(page, 'collect-laptop').locator('.state.succeeded').waitFor();
    await page.locator('h1 .state.completed').waitFor();
    await expect(page.locator('pre').allTextContents()).resolves.toEqual(
      expect.arrayContaining([expect.stringContaining('laptop returned to IT')]),
    );
    await page.screenshot({ path: `${SHOTS}/termination-completed.png`, fullPage: true });
    expect((await c.daemon.store.getTermination(t.id))?.state).toBe('completed');

    // Re-verification on demand: one read-back per verified task, listed on the page.
    await page.click('#reverify');
    await page.locator('#status .msg', { hasText: /^Queued \d+ re-verification\(s\)\.$/ }).waitFor();
    const queued = await c.daemon.store.listReverifications(t.id);
    expect(queued.filter((r) => r.reason === 'on_demand').length).toBeGreaterThan(0);
    // The page renders again after the message: wait for the table before counting its rows.
    await page.locator('#reverifications tbody tr', { hasText: 'on demand' }).first().waitFor();
    await expect(page.locator('#reverifications tbody tr', { hasText: 'on demand' }).count()).resolves.toBe(
      queued.filter((r) => r.reason === 'on_demand').length,
    );
    await page.screenshot({ path: `${SHOTS}/termination-reverifications.png`, fullPage: true });
    await page.context().close();
  });

  it('approves every held termination', async () => {
    for (const n of [1, 2, 3]) await submit(`burst-${n}@example.com`);
    const held = (await c.daemon.store.listTerminations({ state: 'held', limit: 10 })).items;
    expect(held.length).toBeGreaterThan(0);
    const page = await signIn(CONSOLE_OPERATOR);
    await openList(page);
    await page.locator('.state.held').first().waitFor();
    await page.screenshot({ path: `${SHOTS}/list-held.png` });
    await expect(accessibilityProblems(page)).resolves.toEqual([]);
    await page.click('#approve-all');
    await page.locator('#status .msg', { hasText: `Approved ${held.length} held termination(s).` }).waitFor();
    expect((await c.daemon.store.listTerminations({ state: 'held', limit: 10 })).items).toEqual([]);
    await page.context().close();
  });

  it('shows a viewer no write controls, and the server refuses the viewer a write anyway', async () => {
    c.fake.script('revoke_sessions', { kind: 'throw', error: new PermanentError('missing permission: users.signout') });
    const t = await submit('viewed@example.com');
    // The burst above keeps the brake on: release this one as an operator would.
    if (t.state === 'held') await c.daemon.store.approveTermination(t.id, 'admin:ops');
    const page = await signIn(CONSOLE_VIEWER);
    await expect(page.locator('#who').textContent()).resolves.toBe('admin:auditor (viewer)');
    await openList(page);
    await expect(page.locator('#approve-all').count()).resolves.toBe(0);
    await page.goto(`${c.daemon.url}/console/#/t/${t.id}`);
    await row(page, 'revoke-sessions').locator('.state.failed').waitFor();
    await expect(page.locator('#view button, #view form').count()).resolves.toBe(0);
    await expect(page.getByText('Waive', { exact: false }).count()).resolves.toBe(0);
    await page.screenshot({ path: `${SHOTS}/termination-viewer.png`, fullPage: true });
    refusalExpected = 403;
    const status = await page.evaluate(async (id) => {
      const { csrf } = await (await fetch('/console/session')).json();
      const res = await fetch(`/console/api/terminations/${id}/replay`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-csrf-token': csrf },
        body: '{}',
      });
      return res.status;
    }, t.id);
    refusalExpected = null;
    expect(status).toBe(403);
    await page.context().close();
  });

  it('lands on an overview of what needs attention, whose figures lead to the terminations behind them', async () => {
    const late = await submit('late@example.com');
    expect(late.state).toBe('held');
    const held = (await c.daemon.store.listTerminations({ state: 'held', limit: 10 })).items.length;
    const failedTasks = (await c.daemon.store.stats(new Date())).tasks
      .filter((k) => k.state === 'failed')
      .reduce((sum, k) => sum + k.count, 0);
    expect(failedTasks).toBeGreaterThan(0);
    const page = await signIn(CONSOLE_VIEWER);
    await expect(page.locator('header nav a[aria-current=page]').textContent()).resolves.toBe('Overview');
    await expect(page.locator('#held .value').textContent()).resolves.toBe(String(held));
    await expect(page.locator('#failed-tasks .value').textContent()).resolves.toBe(String(failedTasks));
    await expect(page.locator('#overdue .value').textContent()).resolves.toBe('0');
    // ada@example.com was revoked in the test above: one time at least, so both percentiles show.
    await expect(page.locator('#ttr').textContent()).resolves.toMatch(
      /^p50 [\d.]+ (ms|s|min) · p99 [\d.]+ (ms|s|min) · over \d+ termination\(s\) revoked since /,
    );
    await page.screenshot({ path: `${SHOTS}/overview.png`, fullPage: true });
    await expect(accessibilityProblems(page)).resolves.toEqual([]);
    await page.click('#failed-tasks a');
    await page.waitForSelector('h1:text("Terminations with a failed task")');
    await expect(page.locator('tbody a').allTextContents()).resolves.toContain('viewed@example.com');
    await expect(page.locator('tbody a').allTextContents()).resolves.not.toContain('ada@example.com');
    await page.context().close();
    // Cancelled rather than approved: run now, it would take the failure the next test scripts.
    await c.daemon.store.cancelTermination(late.id, 'admin:ops', 'test over');
  });

  it('waives a failed task with a reason, and shows it waived, not verified', async () => {
    c.fake.script('revoke_sessions', { kind: 'throw', error: new PermanentError('missing permission: users.signout') });
    const t = await submit('waived@example.com');
    if (t.state === 'held') await c.daemon.store.approveTermination(t.id, 'admin:ops');
    const page = await signIn(CONSOLE_OPERATOR);
    await page.goto(`${c.daemon.url}/console/#/t/${t.id}`);
    await row(page, 'revoke-sessions').locator('.state.failed').waitFor();
    // Without a reason nothing is sent: the field is required.
    await page.click('button:text("Waive revoke-sessions")');
    await expect(row(page, 'revoke-sessions').locator('.state.failed').count()).resolves.toBe(1);
    let question = '';
    page.once('dialog', (d) => void (question = d.message()));
    await row(page, 'revoke-sessions').getByLabel('Why revoke-sessions may be waived').fill('account already deleted by Google support');
    await page.click('button:text("Waive revoke-sessions")');
    const badge = row(page, 'revoke-sessions').locator('.state.waived');
    await badge.waitFor();
    expect(question).toContain('account already deleted by Google support');
    expect(question).toContain('not verified');
    await expect(badge.textContent()).resolves.toBe('waived · not verified');
    await expect(row(page, 'revoke-sessions').locator('button, form').count()).resolves.toBe(0);
    const task = (await c.daemon.store.listTasks(t.id)).find((k) => k.stepId === 'revoke-sessions')!;
    expect(task.state).toBe('waived');
    const waiver = (await c.daemon.store.listAuditOf(t.id)).find((e) => e.action === 'task.waived');
    expect(waiver).toMatchObject({
      actor: 'admin:ops',
      data: expect.objectContaining({ reason: 'account already deleted by Google support' }),
    });
    // The printable evidence, as the page's link serves it: the waiver named, no token anywhere.
    const evidence = await page.evaluate(async (id) => (await fetch(`/console/api/terminations/${id}/evidence?format=html`)).text(), t.id);
    expect(evidence).toContain('Not verified: waived by an operator (admin:ops: account already deleted by Google support)');
    expect(evidence).toMatch(/Written by deprovisiond \d+\.\d+\.\d+/);
    for (const token of [CONSOLE_OPERATOR, CONSOLE_VIEWER]) expect(evidence).not.toContain(token);
    await page.screenshot({ path: `${SHOTS}/termination-waived.png`, fullPage: true });
    await expect(accessibilityProblems(page)).resolves.toEqual([]);
    await page.context().close();
  });

  it('shows the audit log read-only, a page at a time, with the waiver in it', async () => {
    await c.daemon.store.linkAudit();
    const chain = await c.daemon.store.listAudit(0, 1000);
    const waiver = chain.find((e) => e.action === 'task.waived')!;
    expect(waiver.position).not.toBeNull();
    const page = await signIn(CONSOLE_VIEWER);
    await page.click('header nav a:text("Audit log")');
    await page.waitForSelector('h1:text("Audit log")');
    await expect(page.locator('table.audit tbody tr').first().locator('td').first().textContent()).resolves.toBe(
      String(chain[0]!.position),
    );
    await page.screenshot({ path: `${SHOTS}/audit.png`, fullPage: false });
    await expect(accessibilityProblems(page)).resolves.toEqual([]);
    await expect(page.locator('#view button, #view form, #view input').count()).resolves.toBe(0);

    await page.goto(`${c.daemon.url}/console/#/audit?limit=5`);
    await page.locator('table.audit tbody tr').nth(4).waitFor();
    const firstPage = await page.locator('table.audit tbody tr td:first-child').allTextContents();
    expect(firstPage).toEqual(chain.slice(0, 5).map((e) => String(e.position)));
    await page.click('#audit-next');
    await page.locator('#audit-first').waitFor();
    await expect(page.locator('table.audit tbody tr td:first-child').allTextContents()).resolves.toEqual(
      chain.slice(5, 10).map((e) => String(e.position)),
    );

    await page.goto(`${c.daemon.url}/console/#/audit?after=${waiver.position! - 1}&limit=1`);
    const row = page.locator('table.audit tbody tr', { hasText: 'task.waived' });
    await row.waitFor();
    await expect(row.textContent()).resolves.toContain('admin:ops');
    await expect(row.textContent()).resolves.toContain('account already deleted by Google support');
    await page.context().close();
  });

  it('signs in with the OIDC issuer (authorization code + PKCE) and lands on the console with the role its groups give', async () => {
    local.signInAs = { sub: 'grace', groups: ['sec-viewers', 'sec-ops'] };
    const page = await openPage();
    await page.goto(`${c.daemon.url}/console/login`);
    await expect(page.locator('#oidc').textContent()).resolves.toBe(`Sign in with ${new URL(local.issuer).host}`);
    await page.click('#oidc');
    await page.waitForSelector('h1:text("Overview")');
    expect(page.url()).toBe(`${c.daemon.url}/console/`);
    await expect(page.locator('#who').textContent()).resolves.toBe('oidc:grace (operator)');
    await page.context().close();

    local.signInAs = { sub: 'ian', groups: ['sec-viewers'] };
    const viewer = await openPage();
    await viewer.goto(`${c.daemon.url}/console/login`);
    await viewer.click('#oidc');
    await viewer.waitForSelector('h1:text("Overview")');
    await expect(viewer.locator('#who').textContent()).resolves.toBe('oidc:ian (viewer)');
    await viewer.context().close();
  });

  it('refuses a callback with a forged state, and a replayed code, in the browser', async () => {
    local.signInAs = { sub: 'grace', groups: ['sec-ops'] };
    const page = await openPage();
    const callbacks: string[] = [];
    page.on('request', (r) => {
      if (r.url().startsWith(`${c.daemon.url}/console/login/callback`)) callbacks.push(r.url());
    });
    // The issuer's answer, rewritten on its way to the browser: the state is not the one the console sent.
    local.tamper = (back) => back.searchParams.set('state', 'forged-state-from-elsewhere');
    refusalExpected = 401;
    await page.goto(`${c.daemon.url}/console/login`);
    await page.click('#oidc');
    await expect(page.locator('[role=alert]').textContent()).resolves.toBe(
      'That sign-in could not be completed. Start again with the button below.',
    );
    await expect(page.content()).resolves.not.toContain('forged-state');
    local.tamper = null;

    // Started again from the refusal page: signed in. Its callback, replayed, is refused.
    await page.click('#oidc');
    await page.waitForSelector('h1:text("Overview")');
    const used = callbacks.at(-1)!;
    expect(new URL(used).searchParams.get('code')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    await page.goto(used);
    await expect(page.locator('[role=alert]').textContent()).resolves.toContain('was already used');
    refusalExpected = null;
    await page.screenshot({ path: `${SHOTS}/login-refused.png` });
    await expect(accessibilityProblems(page)).resolves.toEqual([]);
    await page.context().close();
  });

  it('searches the list by a whole identifier (subjects are sealed at rest) and filters it by source', async () => {
    const t = await submit('searchable.person@example.com');
    await submit('someone.else@example.com');
    const page = await signIn(CONSOLE_VIEWER);
    await openList(page);
    await page.fill('#search', 'searchable.person');
    await page.press('#search', 'Enter');
    await page.locator('#view p', { hasText: 'No termination matches "searchable.person".' }).waitFor();
    await page.fill('#search', 'SEARCHABLE.person@example.com');
    await page.press('#search', 'Enter');
    await page.waitForURL(/#\/terminations\?q=SEARCHABLE.person%40example.com$/);
    await expect.poll(() => page.locator('tbody a').allTextContents()).toEqual(['searchable.person@example.com']);
    await expect(page.locator('tbody td.mono').allTextContents()).resolves.toEqual([t.id]);
    await page.screenshot({ path: `${SHOTS}/list-search.png` });
    await expect(accessibilityProblems(page)).resolves.toEqual([]);
    await page.selectOption('#source-filter', 'scim');
    await page.locator('#view p', { hasText: 'No termination matches "SEARCHABLE.person@example.com".' }).waitFor();
    expect(page.url()).toContain('source=scim');
    await page.selectOption('#source-filter', 'admin');
    await page.locator('tbody a', { hasText: 'searchable.person@example.com' }).waitFor();
    // Wildcards are plain characters here too.
    await page.fill('#search', 'searchable_person@example.com');
    await page.press('#search', 'Enter');
    await page.locator('#view p', { hasText: 'No termination matches' }).waitFor();
    await page.context().close();
  });

  it('shows a task settled elsewhere without a reload, and downloads the evidence as JSON', async () => {
    const t = await submit('live@example.com');
    if (t.state === 'held') await c.daemon.store.approveTermination(t.id, 'admin:ops');
    const page = await signIn(CONSOLE_OPERATOR);
    await page.goto(`${c.daemon.url}/console/#/t/${t.id}`);
    await row(page, 'collect-laptop').locator('.state.pending').waitFor();
    // A mark in this document: a reload or navigation would lose it.
    await page.evaluate(() => Object.assign(window, { sameDocument: true }));
    const done = await fetch(`${c.daemon.url}/admin/v1/terminations/${t.id}/tasks/collect-laptop/complete`, {
      method: 'POST',
      headers: { authorization: `Bearer ${CONSOLE_OPERATOR}`, 'content-type': 'application/json' },
      body: JSON.stringify({ outcome: 'done', reason: 'laptop handed in at the desk' }),
    });
    expect(done.status).toBe(200);
    await row(page, 'collect-laptop').locator('.state.succeeded').waitFor({ timeout: 15_000 });
    await expect(page.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument)).resolves.toBe(true);

    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#evidence-json')]);
    expect(download.suggestedFilename()).toBe(`evidence-${t.id}.json`);
    const evidence = JSON.parse(readFileSync(await download.path(), 'utf8'));
    expect(evidence.schema).toBe('deprovisiond.evidence/v1');
    expect(evidence.termination.id).toBe(t.id);
    expect(JSON.stringify(evidence)).toContain('laptop handed in at the desk');
    for (const token of [CONSOLE_OPERATOR, CONSOLE_VIEWER]) expect(JSON.stringify(evidence)).not.toContain(token);
    await page.context().close();
  });

  it('places legal holds on a subject and a termination, shows the held delete beside its step, and releases them', async () => {
    const page = await signIn(CONSOLE_OPERATOR);
    await page.click('header nav a:text("Legal holds")');
    await page.waitForSelector('h1:text("Legal holds")');
    await expect(page.locator('header nav a[aria-current=page]').textContent()).resolves.toBe('Legal holds');
    // Without a reason nothing is sent.
    await page.fill('#hold-value', 'held.person@example.com');
    await page.click('#place-hold button[type=submit]');
    await expect(c.daemon.store.listHolds({ active: true })).resolves.toEqual([]);
    // On the subject, named by email before their termination exists.
    await page.selectOption('#hold-kind', 'email');
    await page.fill('#hold-reason', 'litigation, case 2026-114');
    let question = '';
    page.once('dialog', (d) => void (question = d.message()));
    await page.click('#place-hold button[type=submit]');
    await page.locator('#status .msg', { hasText: /^Legal hold \S+ placed; it covers 0 termination\(s\) now\.$/ }).waitFor();
    expect(question).toContain('litigation, case 2026-114');
    expect(question).toContain('access is still revoked');
    const [subjectHold] = await c.daemon.store.listHolds({ active: true });
    expect(subjectHold).toMatchObject({ placedBy: 'admin:ops', reason: 'litigation, case 2026-114', terminationId: null });
    await page.locator(`#holds tr[data-hold="${subjectHold!.id}"]`, { hasText: 'subject held.person@example.com' }).waitFor();

    const t = await submit('held.person@example.com', 'retained');
    if (t.state === 'held') await c.daemon.store.approveTermination(t.id, 'admin:ops');
    await page.goto(`${c.daemon.url}/console/#/t/${t.id}`);
    await row(page, 'revoke-sessions').locator('.state.succeeded').waitFor();
    await expect(row(page, 'delete-account').locator('td.held-by').textContent()).resolves.toBe(
      `held by legal hold ${subjectHold!.id}: litigation, case 2026-114`,
    );
    // A second hold, on this termination only, from its page: both are named beside the step.
    await page.getByLabel('Why this termination is held').fill('internal audit Q4');
    await page.click('button:text("Place a legal hold")');
    await page.locator('#status .msg', { hasText: 'it covers 1 termination(s) now.' }).waitFor();
    const termHold = (await c.daemon.store.listHolds({ active: true })).find((h) => h.terminationId === t.id)!;
    await expect
      .poll(() => row(page, 'delete-account').locator('td.held-by').textContent())
      .toBe(`held by legal hold ${subjectHold!.id}: litigation, case 2026-114; held by legal hold ${termHold.id}: internal audit Q4`);
    await expect(page.locator('#termination-holds tbody tr').count()).resolves.toBe(2);
    expect((await c.daemon.store.listTasks(t.id)).find((k) => k.stepId === 'delete-account')?.state).toBe('pending');
    await page.screenshot({ path: `${SHOTS}/termination-held.png`, fullPage: true });
    await expect(accessibilityProblems(page)).resolves.toEqual([]);

    // Released from the list, each with a reason; the delete then runs.
    await page.click('header nav a:text("Legal holds")');
    await page.locator(`#holds tr[data-hold="${termHold.id}"]`).waitFor();
    await page.screenshot({ path: `${SHOTS}/holds.png`, fullPage: true });
    await expect(accessibilityProblems(page)).resolves.toEqual([]);
    for (const [hold, why] of [
      [termHold, 'audit closed'],
      [subjectHold!, 'case 2026-114 settled'],
    ] as const) {
      await page.getByLabel(`Why legal hold ${hold.id} may be released`).fill(why);
      await page.locator(`#holds tr[data-hold="${hold.id}"] button:text("Release")`).click();
      await page.locator('#status .msg', { hasText: `Legal hold ${hold.id} released.` }).waitFor();
    }
    await page.locator('#no-holds').waitFor();
    await page.click('#holds-scope');
    const releasedRow = page.locator(`#holds tr[data-hold="${subjectHold!.id}"]`);
    await expect(releasedRow.textContent()).resolves.toMatch(/released .+ by admin:ops: case 2026-114 settled/);
    await expect(releasedRow.locator('button, form').count()).resolves.toBe(0);
    await pollUntil(
      async () => (await c.daemon.store.getTermination(t.id))?.state === 'completed',
      () => 'the delete did not run once the holds were released',
      10_000,
    );
    const audit = (await c.daemon.store.listAuditOf(t.id)).filter((e) => e.action.startsWith('legal_hold.'));
    expect(audit.map((e) => [e.action, e.actor, e.data.reason])).toEqual(
      expect.arrayContaining([
        ['legal_hold.placed', 'admin:ops', 'internal audit Q4'],
        ['legal_hold.released', 'admin:ops', 'audit closed'],
      ]),
    );
    await page.context().close();
  });

  it('shows a viewer the legal holds without a form, and the server refuses the viewer a hold anyway', async () => {
    const page = await signIn(CONSOLE_VIEWER);
    await page.goto(`${c.daemon.url}/console/#/holds?released=true`);
    await page.locator('#holds tbody tr').first().waitFor();
    await expect(page.locator('#view button, #view form, #view input').count()).resolves.toBe(0);
    refusalExpected = 403;
    const status = await page.evaluate(async () => {
      const { csrf } = await (await fetch('/console/session')).json();
      const res = await fetch('/console/api/holds', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-csrf-token': csrf },
        body: JSON.stringify({ subject: { userName: 'anyone' }, reason: 'viewer tries' }),
      });
      return res.status;
    });
    refusalExpected = null;
    expect(status).toBe(403);
    await expect(c.daemon.store.listHolds({ active: true })).resolves.toEqual([]);
    await page.context().close();
  });

  it('ran with no CSP violation or script error, and no token in the logs', () => {
    expect(problems).toEqual([]);
    const logs = c.logs.join('\n');
    expect(logs).not.toContain(CONSOLE_OPERATOR);
    expect(logs).not.toContain(CONSOLE_VIEWER);
  });
});
