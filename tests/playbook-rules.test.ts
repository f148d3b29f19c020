/**
 * playbookRules (issue #26): a leaver's playbook chosen from their groups and attributes in
 * the SCIM directory, first match wins, the default otherwise; a named playbook wins over
 * every rule; `plan` says which rule chose.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../src/cli/main.ts';
import { configSchema } from '../src/config/schema.ts';
import { EngineEventBus } from '../src/engine/events.ts';
import { matchingRule, valuesAt } from '../src/intake/playbook-rules.ts';
import { TerminationService } from '../src/intake/termination-service.ts';
import { PATCH_OP, USER_SCHEMA, startScimDaemon } from './helpers/scim-daemon.ts';
import { sqliteBackend, type TestDatabase } from './store/backends.ts';

const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const step = (id: string) => ({ steps: [{ id, provider: 'fake', action: 'revoke_sessions' }] });

const config = (rules: unknown[]) =>
  configSchema.parse({
    store: { sqlite: { path: 'unused.db' } },
    providers: { fake: { kind: 'fake' } },
    playbooks: { default: step('d'), contractor: step('c'), executive: step('e'), engineer: step('g') },
    defaultPlaybook: 'default',
    playbookRules: rules,
  });

const RULES = [
  { name: 'executives', playbook: 'executive', when: { groups: ['Executives'] } },
  { name: 'contractors', playbook: 'contractor', when: { attributes: { userType: ['Contractor'] } } },
  {
    name: 'prod engineers',
    playbook: 'engineer',
    when: { groups: ['prod-access', 'SRE'], attributes: { [`${ENTERPRISE}:department`]: ['Engineering'] } },
  },
];

describe('matchingRule', () => {
  const rules = config(RULES).playbookRules;
  const facts = (groups: string[], attributes: Record<string, unknown> = {}) => ({
    attributes: attributes as never,
    groups: groups.map((displayName, i) => ({ id: `g${i}`, displayName, externalId: `ext-${displayName}` })),
  });

  it('takes the first rule that matches, every condition of it', () => {
    expect(matchingRule(rules, facts(['executives'], { userType: 'Contractor' }))?.name).toBe('executives');
    expect(matchingRule(rules, facts([], { usertype: 'CONTRACTOR' }))?.name).toBe('contractors');
    expect(matchingRule(rules, facts(['SRE'], { [ENTERPRISE]: { department: 'engineering' } }))?.name).toBe('prod engineers');
    // Both conditions of a rule must hold: the group alone, or the department alone, is not enough.
    expect(matchingRule(rules, facts(['SRE'], { [ENTERPRISE]: { department: 'Sales' } }))).toBeNull();
    expect(matchingRule(rules, facts([], { [ENTERPRISE]: { department: 'Engineering' } }))).toBeNull();
    // A group matches by its externalId too.
    expect(matchingRule(rules, { attributes: {}, groups: [{ id: 'g', displayName: 'Board', externalId: 'Executives' }] })?.name).toBe(
      'executives',
    );
    expect(matchingRule(rules, null)).toBeNull();
  });

  it('reads attribute paths case-insensitively, through extensions and multi-valued attributes', () => {
    const attributes = {
      Name: { familyName: 'Lovelace' },
      emails: [{ type: 'work' }, { type: 'home' }],
      [ENTERPRISE]: { Department: 'R&D', manager: { value: 'm1' } },
      active: true,
    };
    expect(valuesAt(attributes, 'name.FAMILYNAME')).toEqual(['Lovelace']);
    expect(valuesAt(attributes, 'emails.type')).toEqual(['work', 'home']);
    expect(valuesAt(attributes, `${ENTERPRISE}:department`)).toEqual(['R&D']);
    expect(valuesAt(attributes, `${ENTERPRISE}:manager.value`)).toEqual(['m1']);
    expect(valuesAt(attributes, 'active')).toEqual(['true']);
    expect(valuesAt(attributes, 'nickName')).toEqual([]);
  });

  it('refuses rules the configuration cannot keep, naming the field', () => {
    expect(() => config([{ name: 'x', playbook: 'nope', when: { groups: ['G'] } }])).toThrow(
      /playbookRules.*playbook|expected one of the playbooks/s,
    );
    expect(() => config([{ name: 'x', playbook: 'default', when: {} }])).toThrow(/would match everyone/);
    expect(() => config([RULES[0], RULES[0]])).toThrow(/duplicate rule name/);
  });
});

describe('TerminationService with playbookRules', () => {
  let db: TestDatabase;
  let service: TerminationService;
  beforeEach(async () => {
    db = await sqliteBackend.open(() => new Date());
    service = new TerminationService(db.store, config(RULES), new EngineEventBus());
    const user = (id: string, userName: string, attributes: Record<string, unknown> = {}) =>
      db.store.directory.createUser(id, {
        userName,
        externalId: `ext-${id}`,
        active: true,
        managerId: null,
        attributes: { userName, ...attributes },
      });
    await user('u1', 'exec@example.com');
    await user('u2', 'temp@example.com', { userType: 'Contractor' });
    await user('u3', 'plain@example.com');
    await db.store.groups.createGroup(
      'g1',
      { displayName: 'Executives', externalId: null, members: [{ value: 'u1', display: null }] },
      { actor: 'scim:token-0' },
    );
  });
  afterEach(async () => {
    await db.dispose();
  });

  it('plans and submits with the playbook of the first matching rule, found by userName or externalId', async () => {
    expect(await service.planFor({ subject: { userName: 'EXEC@example.com', emails: [] } })).toMatchObject({
      playbook: 'executive',
      rule: 'executives',
    });
    expect(await service.planFor({ subject: { externalId: 'ext-u2', emails: [] } })).toMatchObject({
      playbook: 'contractor',
      rule: 'contractors',
    });
    expect(await service.planFor({ subject: { userName: 'plain@example.com', emails: [] } })).toMatchObject({
      playbook: 'default',
      rule: null,
    });
    // Unknown to the directory: no rule can match.
    expect(await service.planFor({ subject: { userName: 'stranger@example.com', emails: [] } })).toMatchObject({
      playbook: 'default',
      rule: null,
    });
    const submitted = await service.submit({
      source: 'scim',
      subject: { userName: 'exec@example.com', emails: [] },
      actor: 'scim:token-0',
    });
    expect(submitted.termination.playbook).toBe('executive');
    expect((await db.store.listTasks(submitted.termination.id)).map((t) => t.stepId)).toEqual(['e']);
  });

  it('a playbook the request names wins over every rule', async () => {
    expect(await service.planFor({ subject: { userName: 'exec@example.com', emails: [] }, playbook: 'engineer' })).toMatchObject({
      playbook: 'engineer',
      rule: null,
    });
  });
});

describe('plan output', () => {
  let server: Server;
  afterEach(() => new Promise<void>((done) => server.close(() => done())));

  it('names the rule that chose the playbook', async () => {
    const at = '2026-12-07T13:00:00.000Z';
    server = createServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify({
          dryRun: true,
          existingTerminationId: null,
          plan: { subjectKey: 'user:exec@example.com', playbook: 'executive', rule: 'executives', effectiveAt: at, tasks: [] },
        }),
      );
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    let out = '';
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const code = await runCli(['plan', '--user-name', 'exec@example.com'], {
      env: { DEPROVISIOND_URL: url, DEPROVISIOND_TOKEN: 'token-token-token' },
      out: { write: (s: string) => (out += s) },
      err: { write: () => undefined },
    });
    expect(code).toBe(0);
    expect(out).toContain('plan for user:exec@example.com: playbook executive (rule "executives"), effective');
  });
});

describe('a SCIM deactivation with playbookRules', () => {
  it('gets the playbook of the group the IdP pushed, and the default once the user left that group', async () => {
    const d = await startScimDaemon({
      playbooks: { executive: { steps: [{ id: 'exec-revoke', provider: 'fake', action: 'revoke_sessions' }] } },
      playbookRules: [{ name: 'executives', playbook: 'executive', when: { groups: ['Executives'] } }],
    });
    try {
      const create = async (userName: string) =>
        (await d.scim('POST', '/Users', { body: { schemas: [USER_SCHEMA], userName, active: true } })).body.id as string;
      const exec = await create('exec@example.com');
      const former = await create('former@example.com');
      const group = await d.scim('POST', '/Groups', {
        body: {
          schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'],
          displayName: 'Executives',
          members: [{ value: exec }, { value: former }],
        },
      });
      expect(group.status, group.text).toBe(201);
      const removed = await d.scim('PATCH', `/Groups/${group.body.id}`, {
        body: { schemas: [PATCH_OP], Operations: [{ op: 'Remove', path: 'members', value: [{ value: former }] }] },
      });
      expect(removed.status, removed.text).toBe(200);
      for (const id of [exec, former]) {
        const answer = await d.scim('PATCH', `/Users/${id}`, {
          body: { schemas: [PATCH_OP], Operations: [{ op: 'Replace', path: 'active', value: 'False' }] },
        });
        expect(answer.status, answer.text).toBe(200);
      }
      const playbooks = Object.fromEntries((await d.terminations()).map((t) => [t.subject.userName, t.playbook]));
      expect(playbooks).toEqual({ 'exec@example.com': 'executive', 'former@example.com': 'default' });
    } finally {
      await d.stop();
    }
  });
});
