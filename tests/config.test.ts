import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, parseConfig } from '../src/config/load.ts';

const base = `
store:
  sqlite:
    path: /tmp/x.db
providers:
  okta:
    kind: okta
    orgUrl: https://example.okta.com
    token: \${OKTA_TOKEN}
playbooks:
  default:
    steps:
      - id: revoke
        provider: okta
        action: revoke_sessions
      - id: delete
        provider: okta
        action: delete_account
        after: [revoke]
        delay: 30d
defaultPlaybook: default
`;

function problemsOf(text: string, env: NodeJS.ProcessEnv = { OKTA_TOKEN: 'x' }): string[] {
  try {
    parseConfig(text, 'test.yaml', env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toContain('test.yaml');
    return (error as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

describe('config', () => {
  it('parses a valid file, fills defaults, and converts durations', () => {
    const config = parseConfig(base, 'test.yaml', { OKTA_TOKEN: 'secret-value' });
    expect(config.server).toEqual({
      host: '127.0.0.1',
      port: 8080,
      bodyLimit: '256kb',
      headersTimeout: 10_000,
      requestTimeout: 30_000,
      keepAliveTimeout: 5_000,
    });
    expect(config.engine.retry.maxAttempts).toBe(8);
    expect(config.playbooks.default!.steps[1]!.delay).toBe(30 * 86_400_000);
    expect(config.providers.okta!.token).toBe('secret-value');
  });

  it("runs the attempt worker thread at the daemon thread's priority by default, and takes 0 to 19 nice steps", () => {
    expect(parseConfig(base, 'test.yaml', { OKTA_TOKEN: 'x' }).engine.providerThreadNice).toBe(0);
    expect(parseConfig(`engine:\n  providerThreadNice: 19\n${base}`, 'test.yaml', { OKTA_TOKEN: 'x' }).engine.providerThreadNice).toBe(19);
    for (const wrong of ['20', '-1', '2.5']) {
      expect(problemsOf(`engine:\n  providerThreadNice: ${wrong}\n${base}`)).toEqual([
        expect.stringMatching(/^engine\.providerThreadNice \(line 2\): /),
      ]);
    }
  });

  it('reads ${VAR} and ${VAR:-default} from the environment', () => {
    const text = `server:\n  port: \${PORT:-8080}\n${base}`;
    expect(parseConfig(text, 'test.yaml', { OKTA_TOKEN: 'x' }).server.port).toBe(8080);
    expect(parseConfig(text, 'test.yaml', { OKTA_TOKEN: 'x', PORT: '9999' }).server.port).toBe(9999);
  });

  it('names a missing environment variable and where it is used', () => {
    const [problem] = problemsOf(base, {});
    expect(problem).toMatch(/providers\.okta\.token \(line 9\): environment variable OKTA_TOKEN is not set/);
  });

  it('names the path, the line and what was expected for a wrong value', () => {
    const problems = problemsOf(base.replace('delay: 30d', 'delay: soon'));
    expect(problems).toEqual([expect.stringMatching(/^playbooks\.default\.steps\[1\]\.delay \(line 20\): .*duration/)]);
  });

  it('rejects an unknown action, an unknown provider, a bad dependency and an unknown key', () => {
    const text = base
      .replace('action: revoke_sessions', 'action: revoke_everything')
      .replace('provider: okta\n        action: delete_account', 'provider: nobody\n        action: delete_account')
      .replace('after: [revoke]', 'after: [ghost]')
      .replace('defaultPlaybook: default', 'defaultPlaybook: default\ncolour: blue');
    const problems = problemsOf(text).join('\n');
    expect(problems).toMatch(/playbooks\.default\.steps\[0\]\.action \(line \d+\)/);
    expect(problems).toMatch(/colour|Unrecognized key/);
  });

  it('reports cross-reference problems once the shape is right', () => {
    const problems = problemsOf(
      base
        .replace('provider: okta\n        action: delete_account', 'provider: nobody\n        action: delete_account')
        .replace('after: [revoke]', 'after: [ghost]'),
    ).join('\n');
    expect(problems).toMatch(/playbooks\.default\.steps\[1\]\.provider \(line \d+\): expected a provider defined under providers \(okta\)/);
    expect(problems).toMatch(/playbooks\.default\.steps\[1\]\.after\[0\].*"ghost"/);
  });

  it('detects dependency cycles and a missing default playbook', () => {
    const cyclic = base
      .replace('after: [revoke]', 'after: [revoke]')
      .replace('action: revoke_sessions', 'action: revoke_sessions\n        after: [delete]');
    expect(problemsOf(cyclic).join('\n')).toMatch(/cycle: (revoke -> delete -> revoke|delete -> revoke -> delete)/);
    expect(problemsOf(base.replace('defaultPlaybook: default', 'defaultPlaybook: contractor')).join('\n')).toMatch(
      /defaultPlaybook.*expected one of the playbooks: default/,
    );
  });

  it('never echoes a received value (it may be a secret)', () => {
    const problems = problemsOf(base.replace('kind: okta', 'kind: okta\n    limits:\n      concurrency: hunter2-secret')).join('\n');
    expect(problems).toMatch(/providers\.okta\.limits\.concurrency/);
    expect(problems).not.toContain('hunter2-secret');
  });

  it('reports YAML syntax errors with a line and an unreadable file by name', () => {
    expect(problemsOf('store: [unclosed\n').join('\n')).toMatch(/line \d+/);
    const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
    expect(() => loadConfig(join(dir, 'missing.yaml'))).toThrow(/missing\.yaml[\s\S]*ENOENT/);
    writeFileSync(join(dir, 'ok.yaml'), base);
    expect(loadConfig(join(dir, 'ok.yaml'), { OKTA_TOKEN: 't' }).defaultPlaybook).toBe('default');
  });
});

describe('shipped config files', () => {
  it('config/sandbox.yaml is valid with no environment at all', async () => {
    const { checkConfig } = await import('../src/cli/local/config-check.ts');
    const { providerModules } = await import('../providers/index.ts');
    const config = loadConfig('config/sandbox.yaml', {});
    expect(Object.keys(config.providers).sort()).toEqual([
      'app',
      'aws',
      'badges',
      'billing',
      'directory',
      'github',
      'google',
      'inhouse',
      'mail',
      'microsoft',
      'okta',
      'openldap',
      'security',
      'signals',
      'slack',
    ]);
    await checkConfig(config, 'config/sandbox.yaml', providerModules);
  });

  it('config/production.example.yaml is valid once its variables are set, and names them when not', async () => {
    const { checkConfig } = await import('../src/cli/local/config-check.ts');
    const { providerModules } = await import('../providers/index.ts');
    const env = {
      DATABASE_URL: 'postgres://deprovisiond@db/deprovisiond',
      ADMIN_TOKEN: 'a'.repeat(32),
      VIEWER_TOKEN: 'v'.repeat(32),
      SCIM_TOKEN: 's'.repeat(32),
      WEBHOOK_SECRET: 'whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQ=',
      DEPROVISIOND_MASTER_KEY: Buffer.alloc(32, 1).toString('base64'),
      OKTA_ORG_URL: 'https://example.okta.com',
      OKTA_API_TOKEN: 'okta-token',
      GOOGLE_ADMIN_EMAIL: 'admin@example.com',
      GOOGLE_SERVICE_ACCOUNT_KEY_FILE: '/run/secrets/google.json',
      GOOGLE_FALLBACK_OWNER: 'it@example.com',
      ENTRA_TENANT_ID: 'tenant',
      ENTRA_CLIENT_ID: 'client',
      ENTRA_CLIENT_SECRET: 'secret',
      ENTRA_FALLBACK_OWNER: 'it@example.com',
    };
    const config = loadConfig('config/production.example.yaml', env);
    await checkConfig(config, 'config/production.example.yaml', providerModules);
    expect(() => loadConfig('config/production.example.yaml', { ...env, OKTA_API_TOKEN: '' })).toThrow(
      /providers\.okta\.token \(line \d+\): environment variable OKTA_API_TOKEN is not set/,
    );
    await expect(
      checkConfig(loadConfig('config/production.example.yaml', { ...env, OKTA_ORG_URL: 'not a url' }), 'prod.yaml', providerModules),
    ).rejects.toThrow(/prod\.yaml[\s\S]*providers\.okta/);
  });
});
