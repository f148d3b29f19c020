/**
 * The bench's door steps (bench/lib/env.ts DOOR_STEPS) are the employee playbook's of
 * config/sandbox.yaml: per provider, the same cut and door actions in the same order (the
 * claim order within a provider follows it) and the same waits, so `--doors` and
 * `--scenario doors` measure what the sandbox playbook runs.
 */
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CRITICAL_STEPS, DOOR_STEPS, benchSteps } from '../bench/lib/env.ts';
import { loadConfig } from '../src/config/load.ts';

const CONFIG_FILE = resolve(dirname(fileURLToPath(import.meta.url)), '../config/sandbox.yaml');
const DOOR_ACTIONS = [
  'reset_password',
  'remove_mfa',
  'clear_recovery',
  'stop_mail_forwarding',
  'wipe_devices',
  'revoke_public_links',
  'remove_admin_roles',
];

describe('bench door steps', () => {
  const employee = loadConfig(CONFIG_FILE, {
    ADMIN_TOKEN: 'bench-doors-admin-token-01',
    SCIM_TOKEN: 'bench-doors-scim-token-001',
    WEBHOOK_SECRET: 'whsec_YmVuY2gtZG9vcnMtd2ViaG9vaw==',
  }).playbooks.employee!;

  for (const kind of ['okta', 'google', 'microsoft'] as const) {
    it(`${kind}: the cut and the doors in config/sandbox.yaml's order, none critical, the same waits`, () => {
      const cut = CRITICAL_STEPS[kind].map((s) => s.action);
      const fromPlaybook = employee.steps.filter((s) => s.provider === kind && (cut.includes(s.action) || DOOR_ACTIONS.includes(s.action)));
      const bench = benchSteps([kind], true);
      expect(bench.map((s) => s.action)).toEqual(fromPlaybook.map((s) => s.action));
      // A door waits for what it waits for in the playbook (by action: the bench's step ids are its own).
      const actionOf = (steps: Array<{ id: string; action: string }>, id: string) => steps.find((s) => s.id === id)?.action;
      expect(bench.map((s) => (s.after ?? []).map((id) => actionOf(bench, id)))).toEqual(
        fromPlaybook.map((s) => (s.after ?? []).map((id) => actionOf(employee.steps, id))),
      );
      expect(fromPlaybook.filter((s) => DOOR_ACTIONS.includes(s.action)).every((s) => s.critical !== true)).toBe(true);
    });
  }

  it('without --doors the playbook is the cut alone, and with it only the three identity providers gain steps', () => {
    const kinds = ['okta', 'google', 'microsoft', 'scim', 'brivo', 'caep'] as const;
    expect(benchSteps(kinds)).toEqual(kinds.flatMap((k) => CRITICAL_STEPS[k]));
    const added = benchSteps(kinds, true).filter((s) => !benchSteps(kinds).includes(s));
    expect(new Set(added.map((s) => s.provider))).toEqual(new Set(Object.keys(DOOR_STEPS)));
    expect(added.every((s) => DOOR_ACTIONS.includes(s.action))).toBe(true);
  });
});
