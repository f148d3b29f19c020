/** How the CLI's tables read: within 100 columns, short dependency lists, colour on a terminal only. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../src/cli/main.ts';

const steps = [
  'okta-revoke-sessions',
  'okta-suspend',
  'google-revoke-sessions',
  'google-suspend',
  'microsoft-revoke-sessions',
  'microsoft-disable',
  'caep-session-revoked',
];
const at = '2026-12-07T13:00:00.000Z';
const plan = {
  dryRun: true,
  existingTerminationId: null,
  plan: {
    subjectKey: 'user:ada@example.com',
    playbook: 'employee',
    effectiveAt: at,
    tasks: [
      ...steps.map((stepId) => ({
        stepId,
        provider: stepId.split('-')[0],
        action: 'revoke_sessions',
        dependsOn: [],
        notBefore: at,
        critical: true,
      })),
      { stepId: 'notify-revoked', provider: 'security', action: 'notify', dependsOn: steps, notBefore: at, critical: false },
    ],
  },
};
const detail = {
  termination: {
    id: 'a1b2',
    state: 'failed',
    subject: { userName: 'ada@example.com' },
    subjectKey: 'user:ada@example.com',
    playbook: 'employee',
    source: 'admin',
    createdBy: 'admin:ops',
    requestedAt: at,
    effectiveAt: at,
    revokedAt: null,
    finishedAt: at,
    reason: null,
  },
  tasks: [
    {
      id: 't1',
      stepId: 'notify-failed-microsoft-share-onedrive-for-the-manager',
      provider: 'security',
      action: 'notify',
      state: 'succeeded',
      attempts: 1,
      notBefore: at,
      lastError: null,
    },
    {
      id: 't2',
      stepId: 'google-suspend',
      provider: 'google',
      action: 'disable_account',
      state: 'failed',
      attempts: 8,
      notBefore: at,
      lastError: {
        kind: 'permanent',
        message: `403 insufficient permissions: ${'the service account lacks the admin.directory.user scope; '.repeat(3)}`,
      },
    },
    {
      id: 't3',
      stepId: 'billing-settle',
      provider: 'billing',
      action: 'settle_billing',
      state: 'pending',
      attempts: 1,
      notBefore: at,
      lastError: null,
      checkpoint: { waitingFor: 'overdue: 1 invoice open, amount due 120.00 EUR since 2026-12-02', overdue: true },
    },
  ],
};

let server: Server;
let url: string;
beforeAll(async () => {
  server = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(req.method === 'POST' ? plan : detail));
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((done) => server.close(() => done())));

async function cli(argv: string[], tty: { isTTY?: boolean; columns?: number } = {}, env: Record<string, string> = {}) {
  let out = '';
  const code = await runCli(argv, {
    env: { DEPROVISIOND_URL: url, DEPROVISIOND_TOKEN: 'token-token-token', ...env },
    out: { write: (s: string) => (out += s), ...tty },
    err: { write: () => undefined },
  });
  return { code, out };
}

const widest = (text: string) =>
  Math.max(
    ...text
      .replace(/\x1b\[[0-9;]*m/g, '')
      .split('\n')
      .map((l) => l.length),
  );

describe('CLI output', () => {
  it("plan's AFTER column names the one step waited for, or counts them; --wide lists them all", async () => {
    const res = await cli(['plan', '--user-name', 'ada@example.com']);
    expect(res.out).toMatch(/notify-revoked\s+security\s+notify\s+7 steps\s/);
    expect(widest(res.out)).toBeLessThanOrEqual(100);
    expect((await cli(['plan', '--user-name', 'ada@example.com', '--wide'])).out).toContain(steps.join(','));
  });

  it('status fits 100 columns when piped and the terminal width on a terminal, errors wrapped below the table', async () => {
    const piped = await cli(['status', 'a1b2']);
    expect(piped.code).toBe(1);
    expect(widest(piped.out)).toBeLessThanOrEqual(100);
    expect(piped.out).toContain('\nerrors:\n  google-suspend (failed, attempt 8)\n    permanent: 403 insufficient permissions:');
    // A step that waits says for what, beside the errors.
    expect(piped.out).toContain('\nwaiting:\n  billing-settle\n    overdue: 1 invoice open, amount due 120.00 EUR since 2026-12-02\n');
    const narrow = await cli(['status', 'a1b2'], { isTTY: true, columns: 90 }, { NO_COLOR: '1' });
    expect(widest(narrow.out)).toBeLessThanOrEqual(90);
    expect(narrow.out).toMatch(/\nnotify-failed-micros\S*…\s+security\s+notify\s+succeeded/);
  });

  it('colours failed rows on a terminal only, and never with NO_COLOR', async () => {
    const tty = await cli(['status', 'a1b2'], { isTTY: true, columns: 120 });
    expect(tty.out).toMatch(/\x1b\[1m\x1b\[31mgoogle-suspend\s+google\s+disable_account\s+failed/);
    expect((await cli(['status', 'a1b2'])).out).not.toContain('\x1b[');
    expect((await cli(['status', 'a1b2'], { isTTY: true, columns: 120 }, { NO_COLOR: '1' })).out).not.toContain('\x1b[');
  });
});
