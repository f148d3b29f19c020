/**
 * The planner's reading of a playbook against the destructive rule (invariant 9): where
 * its `after` lists say less than the engine enforces, and where they contradict it.
 */
import { describe, expect, it } from 'vitest';
import { checkPlaybooks } from '../src/config/policy.ts';
import { configSchema, type Playbook } from '../src/config/schema.ts';
import { destructiveOrdering } from '../src/engine/planner.ts';

function playbook(steps: unknown[]): Playbook {
  const config = configSchema.parse({
    store: { sqlite: { path: ':memory:' } },
    providers: { okta: { kind: 'fake' }, google: { kind: 'fake' } },
    playbooks: { p: { steps } },
    defaultPlaybook: 'p',
  });
  return config.playbooks.p!;
}

describe('destructiveOrdering', () => {
  it('names the steps at the provider that the employee playbook’s delete does not come after (the issue 23 case 4 shape)', () => {
    const findings = destructiveOrdering(
      'employee',
      playbook([
        { id: 'okta-revoke-sessions', provider: 'okta', action: 'revoke_sessions' },
        { id: 'okta-suspend', provider: 'okta', action: 'disable_account' },
        { id: 'google-suspend', provider: 'google', action: 'disable_account' },
        { id: 'okta-remove-groups', provider: 'okta', action: 'remove_groups', after: ['okta-suspend'] },
        { id: 'collect-laptop', action: 'manual' },
        { id: 'okta-delete', provider: 'okta', action: 'delete_account', after: ['okta-remove-groups'], delay: '30d' },
        { id: 'google-delete', provider: 'google', action: 'delete_account', after: ['google-suspend'], delay: '30d' },
      ]),
    );
    // okta-suspend is named through okta-remove-groups; Google's delete already comes after everything at Google.
    expect(findings).toEqual([
      {
        kind: 'implicit',
        step: 'okta-delete',
        provider: 'okta',
        action: 'delete_account',
        steps: ['okta-revoke-sessions'],
        message:
          'playbook employee: okta-delete (delete_account at okta) also waits for okta-revoke-sessions, which its after list does not name: the engine waits for every other step at okta before a destructive one',
      },
    ]);
  });

  it('reports a step at the provider that comes after the destructive one as a deadlock, and ignores other destructive steps there', () => {
    const findings = destructiveOrdering(
      'p',
      playbook([
        { id: 'suspend', provider: 'okta', action: 'disable_account' },
        { id: 'delete', provider: 'okta', action: 'delete_account', after: ['suspend'] },
        { id: 'delete-again', provider: 'okta', action: 'delete_account' },
        { id: 'check-gone', provider: 'okta', action: 'remove_groups', after: ['delete'] },
        { id: 'then-this', provider: 'okta', action: 'revoke_sessions', after: ['check-gone'] },
      ]),
    );
    expect(findings.map((f) => [f.kind, f.step, f.steps])).toEqual([
      ['deadlock', 'delete', ['check-gone', 'then-this']],
      // The second delete does not wait for the first, only for the steps that are not destructive.
      ['implicit', 'delete-again', ['suspend', 'check-gone', 'then-this']],
    ]);
    expect(findings[0]!.message).toContain('neither would ever run; remove delete from their after lists');
  });

  it('finds nothing in a playbook whose deletes come after every other step at their provider', () => {
    expect(
      destructiveOrdering(
        'p',
        playbook([
          { id: 'revoke', provider: 'okta', action: 'revoke_sessions' },
          { id: 'suspend', provider: 'okta', action: 'disable_account' },
          { id: 'delete', provider: 'okta', action: 'delete_account', after: ['revoke', 'suspend'] },
        ]),
      ),
    ).toEqual([]);
  });
});

describe('checkPlaybooks (serve and config check)', () => {
  const summaries = [{ name: 'okta', kind: 'fake', actions: ['revoke_sessions', 'disable_account', 'remove_groups', 'delete_account'] }];
  const config = (steps: unknown[]) =>
    configSchema.parse({
      store: { sqlite: { path: ':memory:' } },
      providers: { okta: { kind: 'fake' } },
      playbooks: { p: { steps } },
      defaultPlaybook: 'p',
    });

  it("refuses a playbook in which a step at a delete's provider comes after the delete", () => {
    const deadlocked = config([
      { id: 'suspend', provider: 'okta', action: 'disable_account' },
      { id: 'delete', provider: 'okta', action: 'delete_account', after: ['suspend'] },
      { id: 'check-gone', provider: 'okta', action: 'remove_groups', after: ['delete'] },
    ]);
    expect(() => checkPlaybooks(deadlocked, summaries, 'p.yaml')).toThrow(
      /playbooks\.p\.steps\[1\]: playbook p: delete \(delete_account at okta\) runs only after every other step at okta, but check-gone come\(s\) after it/,
    );
  });

  it('accepts one whose delete names fewer steps than the engine waits for: the engine waits anyway', () => {
    const implicit = config([
      { id: 'revoke', provider: 'okta', action: 'revoke_sessions' },
      { id: 'suspend', provider: 'okta', action: 'disable_account' },
      { id: 'delete', provider: 'okta', action: 'delete_account', after: ['suspend'] },
    ]);
    expect(() => checkPlaybooks(implicit, summaries, 'p.yaml')).not.toThrow();
  });

  it('checks an expand_members step: a provider that lists members, and actions it supports for each member', () => {
    const listing = [{ ...summaries[0]!, actions: [...summaries[0]!.actions, 'expand_members'] }];
    const step = (params: unknown) => config([{ id: 'members', provider: 'okta', action: 'expand_members', params }]);
    expect(() => checkPlaybooks(step({ actions: ['revoke_sessions', 'disable_account'] }), listing, 'p.yaml')).not.toThrow();
    expect(() => checkPlaybooks(step({ actions: ['disable_account'] }), summaries, 'p.yaml')).toThrow(/supports .*, not expand_members/);
    expect(() => checkPlaybooks(step({ actions: ['wipe_devices'] }), listing, 'p.yaml')).toThrow(
      /playbooks\.p\.steps\[0\]\.params\.actions: provider okta \(fake\) does not support wipe_devices for its members/,
    );
    expect(() => checkPlaybooks(step({}), listing, 'p.yaml')).toThrow(/expand_members needs params\.actions/);
    expect(() => checkPlaybooks(step({ actions: ['manual'] }), listing, 'p.yaml')).toThrow(/not an action a member can take/);
  });
});
