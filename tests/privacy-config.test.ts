/**
 * The privacy config (docs/configuration.md, "privacy"; docs/privacy.md): the master key is
 * 32 bytes of base64 and a refusal never repeats it; PostgreSQL refuses to start without
 * it; SQLite without it keeps a 0600 key file beside the store, the same across starts (so
 * a receipt signed before a restart verifies after it); playbook retention is checked.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { keepPersonalData, personalDataPeriods } from '../src/config/retention.ts';
import { configSchema } from '../src/config/schema.ts';
import { masterKeyPath } from '../src/privacy/master-key-file.ts';
import { MasterKeyRequiredError, openStore } from '../src/store/open.ts';
import { createLogger } from '../src/telemetry/logger.ts';

const base = {
  providers: { fake: { kind: 'fake' } },
  store: { sqlite: { path: '/tmp/x.db' } },
  playbooks: { employee: { steps: [{ id: 'revoke', provider: 'fake', action: 'revoke_sessions' }] } },
  defaultPlaybook: 'employee',
};
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('privacy config', () => {
  it('takes a 32-byte base64 master key and refuses anything else without repeating it', () => {
    const good = Buffer.alloc(32, 9).toString('base64');
    expect(configSchema.parse({ ...base, privacy: { masterKey: good } }).privacy).toMatchObject({
      masterKey: good,
      retentionInterval: 3_600_000,
    });
    const short = Buffer.from('too-short-secret').toString('base64');
    const result = configSchema.safeParse({ ...base, privacy: { masterKey: short } });
    expect(result.success).toBe(false);
    expect(JSON.stringify(result.error?.issues)).toContain('expected 32 bytes in base64');
    expect(JSON.stringify(result.error?.issues)).not.toContain(short);
  });

  it('reads playbook retention: personal data as long as the record, or a period no longer than it', () => {
    const config = configSchema.parse({
      ...base,
      playbooks: {
        employee: { ...base.playbooks.employee, retention: { record: '7d', personalData: 'record' } },
        customer: { ...base.playbooks.employee, retention: { record: '7d', personalData: '30m' } },
        plain: base.playbooks.employee,
      },
    });
    expect([...personalDataPeriods(config)]).toEqual([
      ['employee', 7 * 86_400_000],
      ['customer', 30 * 60_000],
    ]);
    const keep = keepPersonalData(config);
    expect([keep('employee'), keep('customer'), keep('plain'), keep('unknown')]).toEqual([7 * 86_400_000, 0, 0, 0]);
    const tooLong = configSchema.safeParse({
      ...base,
      playbooks: { employee: { ...base.playbooks.employee, retention: { record: '1d', personalData: '2d' } } },
    });
    expect(tooLong.success).toBe(false);
    expect(JSON.stringify(tooLong.error?.issues)).toContain('expected at most the record period');
  });

  it('refuses a PostgreSQL store without a master key', async () => {
    const logger = createLogger({ level: 'silent' });
    await expect(openStore({ postgres: { url: 'postgres://127.0.0.1:1/none', poolSize: 1 } }, logger)).rejects.toBeInstanceOf(
      MasterKeyRequiredError,
    );
  });

  it('keeps a 0600 key file beside an SQLite store without one, warns, and signs with the same key after a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'deprovisiond-master-key-'));
    dirs.push(dir);
    const path = join(dir, 'store.db');
    const lines: string[] = [];
    const logger = createLogger({ level: 'warn', destination: { write: (line: string) => void lines.push(line) } });
    const first = await openStore({ sqlite: { path } }, logger);
    const key = first.erasureKey();
    await first.close();
    expect(statSync(masterKeyPath(path)).mode & 0o777).toBe(0o600);
    const second = await openStore({ sqlite: { path } }, logger);
    expect(second.erasureKey()).toEqual(key);
    await second.close();
    expect(lines.filter((l) => l.includes('privacy.masterKey is not set'))).toHaveLength(2);
    expect(JSON.parse(lines[0]!)).toMatchObject({ created: true });
    expect(JSON.parse(lines[1]!)).toMatchObject({ created: false });
  });
});
