/**
 * The readiness probe's write: one row rewritten and committed, through the same path as
 * every other write (on SQLite the group commit, which resolves only once the COMMIT and
 * the WAL sync after it succeeded). It fails when the store cannot commit, for example on
 * a full disk, where reads and an open connection alone would still look healthy.
 */
import { sql, type Kysely } from 'kysely';

/** Resolves once a write is committed (and, on SQLite, synced); rejects with the store's error otherwise. */
// Raw SQL against a table no schema type names: any Kysely will do.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function probeCommit(db: Kysely<any>, now: Date): Promise<void> {
  // Outside a transaction: on SQLite a lone write joins the next group commit and waits for it.
  await sql`insert into commit_probe (id, probed_at) values (1, ${now.getTime()})
    on conflict (id) do update set probed_at = excluded.probed_at`.execute(db);
}
