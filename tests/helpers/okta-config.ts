/**
 * The config (YAML) of a whole daemon on SQLite in `dir` with the Okta sandbox
 * (auto-provisioning), one admin token and a revoke-then-suspend default playbook.
 */
import { join } from 'node:path';

export function oktaSandboxConfigYaml(dir: string, admin: { name: string; token: string; role: 'viewer' | 'operator' }): string {
  return `
server: { port: 0 }
store: { sqlite: { path: ${join(dir, 'store.db')} } }
auth:
  admin: [{ name: ${admin.name}, token: ${admin.token}, role: ${admin.role} }]
providers:
  okta: { kind: okta, sandbox: { autoProvision: true } }
playbooks:
  default:
    steps:
      - { id: revoke, provider: okta, action: revoke_sessions }
      - { id: suspend, provider: okta, action: disable_account }
defaultPlaybook: default
`;
}
