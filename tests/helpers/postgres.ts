/**
 * The PostgreSQL test policy, in one place: with TEST_DATABASE_URL the suite runs (an
 * unreachable database fails it); without it a developer's run prints one line and skips,
 * and CI (CI set and not "false"/"0") fails instead of skipping.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { describe, it } from 'vitest';

const inCi = Boolean(process.env.CI) && process.env.CI !== 'false' && process.env.CI !== '0';

export function describePostgres(name: string, body: (url: string) => void): void {
  const url = process.env.TEST_DATABASE_URL;
  if (url) {
    describe(name, () => body(url));
    return;
  }
  if (inCi) {
    describe(name, () => {
      it('runs in CI', () => {
        throw new Error(`${name} cannot run: TEST_DATABASE_URL is not set, and CI must not skip it`);
      });
    });
    return;
  }
  console.log(`${name} did not run: TEST_DATABASE_URL is not set`);
  describe.skip(`${name} (TEST_DATABASE_URL is not set)`, () => {
    it('needs TEST_DATABASE_URL', () => undefined);
  });
}

export const newSchemaName = (what: string) => `${what}_${process.pid}_${randomBytes(4).toString('hex')}`;

/** An administrative connection to the test database. */
export async function pgAdmin(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  try {
    await client.connect();
  } catch (error) {
    // The URL may carry a password: name the variable, not its value.
    throw new Error('PostgreSQL at TEST_DATABASE_URL is unreachable', { cause: error });
  }
  return client;
}
