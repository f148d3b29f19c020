/**
 * The `rest` provider's config is checked whole at start: templates (only plain, known
 * variables), JMESPath expressions, action ids, where `job.*` may be used, headers the
 * adapter owns, URLs, and the secrets that come from the environment; each problem is named
 * with its file, path and line.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { restConfigSchema, type RestConfig, type RestConfigInput } from '../providers/rest/config.ts';
import { inhouseSandboxSettings } from '../providers/rest/sandbox-config.ts';
import { restModule } from '../providers/rest/index.ts';
import { ConfigError, loadConfig } from '../src/config/load.ts';
import { parseProviderSettings } from '../src/config/provider-settings.ts';

const valid = (): RestConfigInput => ({
  baseUrl: 'https://app.example/api',
  auth: { type: 'bearer', token: 't' },
  actions: {
    disable_account: {
      request: { method: 'PATCH', url: '/tenants/{{account.id}}', body: { enabled: false } },
      verify: { request: { method: 'GET', url: '/tenants/{{account.id}}' }, condition: 'enabled == `false`' },
    },
  },
});

/** The problems of a config, as `path: message`. */
function problems(config: unknown): string[] {
  const parsed = restConfigSchema.safeParse(config);
  return parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

const withAction = (action: Record<string, unknown>, id = 'disable_account') => ({ ...valid(), actions: { [id]: action } });
const disable = valid().actions.disable_account!;

describe('rest config', () => {
  it('accepts the sandbox example and fills the documented defaults', () => {
    const parsed = restConfigSchema.parse(valid());
    expect(parsed).toMatchObject({ idempotencyHeader: 'Idempotency-Key', requestTimeoutMs: 30_000, maxResponseBytes: 1_048_576 });
    expect(parsed.actions.disable_account!.alreadyDone).toEqual([]);
  });

  it.each([
    ['a section', '/tenants/{{#account}}x{{/account}}', /template tag "#" is not allowed/],
    ['an unescaped value', '/tenants/{{{account.id}}}', /template tag "&" is not allowed|"{" is not allowed/],
    ['an ampersand value', '/tenants/{{&account.id}}', /template tag "&" is not allowed/],
    ['a partial', '/tenants/{{> other}}', /template tag ">" is not allowed/],
    ['a delimiter change', '/tenants/{{=<% %>=}}<%account.id%>', /template tag "=" is not allowed/],
    ['an inverted section', '/tenants/{{^account.id}}x{{/account.id}}', /template tag "\^" is not allowed/],
    ['an unclosed tag', '/tenants/{{account.id', /not a valid template/],
    ['an unknown variable', '/tenants/{{account.secret}}', /unknown template variable "account.secret"/],
    ['a prototype walk', '/tenants/{{subject.constructor}}', /unknown template variable/],
    ['no leading slash', 'tenants/{{account.id}}', /expected a path starting with "\/"/],
    ['another host', '//evil.example/x', /expected a path starting with "\/"/],
  ])('refuses %s in a URL template, naming the path', (_what, url, message) => {
    const found = problems(withAction({ ...disable, request: { method: 'PATCH', url } }));
    expect(found.join('\n')).toMatch(message);
    expect(found[0]).toMatch(/^actions\.disable_account\.request\.url: /);
  });

  it('refuses templates in bodies and headers the same way, with the path to the leaf', () => {
    const found = problems(
      withAction({ ...disable, request: { method: 'PATCH', url: '/t', headers: { 'X-A': '{{#x}}{{/x}}' }, body: { a: ['{{nope}}'] } } }),
    );
    expect(found).toEqual([
      expect.stringMatching(/^actions\.disable_account\.request\.headers\.X-A: template tag "#"/),
      expect.stringMatching(/^actions\.disable_account\.request\.body: unknown template variable "nope"/),
    ]);
  });

  it('refuses unknown action ids, listing the known ones, and people actions', () => {
    expect(problems(withAction(disable, 'disable_acount'))).toEqual([
      expect.stringMatching(
        /^actions\.disable_acount: unknown action "disable_acount" \(expected one of: revoke_sessions, disable_account/,
      ),
    ]);
    expect(problems(withAction(disable, 'manual'))[0]).toMatch(/unknown action "manual"/);
    expect(problems({ ...valid(), actions: {} })).toEqual([': expected at least one action'.replace(/^/, 'actions')]);
  });

  it('refuses a JMESPath syntax error, naming the expression field', () => {
    const found = problems(withAction({ ...disable, verify: { ...disable.verify, condition: 'enabled == ' } }));
    expect(found).toEqual([expect.stringMatching(/^actions\.disable_account\.verify\.condition: not a valid JMESPath expression/)]);
  });

  it('allows {{job.*}} only in the poll request, and only for captured names', () => {
    const poll = { capture: { exportId: 'id' }, request: { method: 'GET', url: '/exports/{{job.exportId}}' }, until: 'ready' };
    expect(problems(withAction({ ...disable, poll }, 'export_data'))).toEqual([]);
    expect(
      problems(withAction({ ...disable, poll: { ...poll, request: { method: 'GET', url: '/exports/{{job.other}}' } } }, 'export_data')),
    ).toEqual(['actions.export_data.poll.request: {{job.other}} is not captured (poll.capture)']);
    expect(problems(withAction({ ...disable, request: { method: 'POST', url: '/x/{{job.exportId}}' }, poll }, 'export_data'))).toEqual([
      'actions.export_data.request: {{job.exportId}} is only known to the poll request',
    ]);
  });

  it('names a bad header or capture name at its own path', () => {
    expect(problems(withAction({ ...disable, request: { method: 'PATCH', url: '/t', headers: { 'X Bad': 'v' } } }))).toEqual([
      'actions.disable_account.request.headers.X Bad: expected a header name (letters, digits and hyphens)',
    ]);
    const poll = { capture: { 'export-id': 'id' }, request: { method: 'GET', url: '/e' }, until: 'ready' };
    expect(problems(withAction({ ...disable, poll }, 'export_data'))).toEqual([
      'actions.export_data.poll.capture.export-id: expected a variable name (a letter, then letters, digits or _)',
    ]);
  });

  it('refuses evidence fields named like the ones the adapter records itself', () => {
    expect(problems(withAction({ ...disable, verify: { ...disable.verify, evidence: { alreadyDone: 'enabled' } } }))).toEqual([
      expect.stringMatching(/^actions\.disable_account\.verify\.evidence\.alreadyDone: a name the adapter records itself/),
    ]);
  });

  it('refuses headers the adapter owns, a body on GET, plain http off loopback, unknown keys', () => {
    expect(problems(withAction({ ...disable, request: { method: 'PATCH', url: '/t', headers: { Authorization: 'x' } } }))).toEqual([
      'actions.disable_account.request.headers.Authorization: header Authorization is set by the adapter (auth, JSON body)',
    ]);
    expect(problems(withAction({ ...disable, request: { method: 'GET', url: '/t', body: { a: 1 } } }))).toEqual([
      'actions.disable_account.request.body: a GET request carries no body',
    ]);
    expect(problems({ ...valid(), baseUrl: 'http://app.example' })).toEqual([
      'baseUrl: expected an https URL (http only on a loopback host)',
    ]);
    expect(problems({ ...valid(), auth: { type: 'bearer', token: 't', extra: 1 } })[0]).toMatch(/^auth: Unrecognized key/);
    expect(problems({ ...valid(), probe: { method: 'GET', url: '/me/{{taskId}}' } })).toEqual([
      'probe: the probe is sent at start, for no subject: it may use no template variable',
    ]);
    expect(problems({ ...valid(), resolve: { request: { method: 'GET', url: '/t/{{taskId}}' }, id: 'id' } })).toEqual([
      'resolve.request: the look-up may use subject.* and terminationId only (it is shared by the termination tasks at the provider)',
    ]);
  });
});

describe('rest config in a config file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rest-config-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'inhouse.yaml');
  writeFileSync(
    file,
    `store: { sqlite: { path: ./x.db } }
defaultPlaybook: customer
providers:
  inhouse:
    kind: rest
    baseUrl: https://app.example/api
    auth: { type: header, name: X-Api-Key, value: "\${INHOUSE_API_KEY}" }
    actions:
      disable_account:
        request: { method: PATCH, url: "/tenants/{{account.id}}", body: { enabled: false } }
        verify: { request: { method: GET, url: "/tenants/{{account.id}}" }, condition: "enabled == \`false\`" }
      export_dat:
        request: { method: POST, url: "/x" }
        verify: { request: { method: GET, url: "/x" }, condition: "ready" }
playbooks:
  customer:
    steps:
      - { id: disable, provider: inhouse, action: disable_account }
`,
  );

  it('names a missing environment variable with its path and line, and never a value', () => {
    const error = (() => {
      try {
        loadConfig(file, {});
      } catch (e) {
        return e;
      }
      return null;
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual([
      expect.stringMatching(/providers\.inhouse\.auth\.value \(line 7\).*environment variable INHOUSE_API_KEY is not set/),
    ]);
  });

  it('resolves the secret from the environment and reports the unknown action at its line, without echoing the secret', () => {
    const config = loadConfig(file, { INHOUSE_API_KEY: 'k-very-secret' });
    const entry = config.providers.inhouse!;
    const error = (() => {
      try {
        parseProviderSettings('inhouse', entry, restModule, file);
      } catch (e) {
        return e;
      }
      return null;
    })() as ConfigError;
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.problems).toEqual([
      expect.stringMatching(/providers\.inhouse\.actions\.export_dat \(line 1[23]\): unknown action "export_dat"/),
    ]);
    expect(error.message).not.toContain('k-very-secret');
  });
});

describe('the complete example of docs/providers/rest.md', () => {
  it('loads with its secret from the environment and parses with the kind schema, equal to the sandbox example but for URL, token and timing', () => {
    const markdown = readFileSync('docs/providers/rest.md', 'utf8');
    const example = /```yaml\n([\s\S]*?)```/.exec(markdown)![1]!;
    const dir = mkdtempSync(join(tmpdir(), 'rest-doc-'));
    try {
      const file = join(dir, 'doc.yaml');
      writeFileSync(file, `store: { sqlite: { path: ./x.db } }\ndefaultPlaybook: customer\n${example}`);
      const config = loadConfig(file, { INHOUSE_TOKEN: 'doc-token' });
      const settings = parseProviderSettings('inhouse', config.providers.inhouse!, restModule, file) as RestConfig;
      const sandbox = restConfigSchema.parse(inhouseSandboxSettings('https://admin.internal.example/api/v1'));
      const withoutTiming = (c: RestConfig) => ({
        ...c,
        auth: null,
        actions: {
          ...c.actions,
          export_data: { ...c.actions.export_data!, poll: { ...c.actions.export_data!.poll!, intervalMs: 0, timeoutMs: 0 } },
        },
      });
      expect(withoutTiming(settings)).toEqual(withoutTiming(sandbox));
      expect(settings.auth).toEqual({ type: 'bearer', token: 'doc-token' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
