/**
 * Erasing a person from the subject directory (issue 29): the SCIM users filed under any of
 * their subject keys, by user name (`user:`) or external id (`ext:`). A stand-in until the
 * sealed directory (blind indexes) provides its own; the signature stays.
 */
import type { Kysely } from 'kysely';
import { foldUserName } from './directory.ts';
import { touchGroupsOf } from './sql/directory-groups.ts';

interface Tables {
  directory_users: { id: string; user_name_lower: string; external_id: string | null };
}

/** The identifier a subject key names, by kind (`ext:E1` → externalId E1). */
function identifiersOf(subjectKeys: readonly string[], kind: 'ext' | 'user'): string[] {
  return subjectKeys.filter((k) => k.startsWith(`${kind}:`)).map((k) => k.slice(kind.length + 1));
}

/**
 * Deletes the matching users through `db` (the store, or a caller's transaction); their group
 * memberships go with them (ON DELETE CASCADE) and the groups' versions move, as a SCIM delete does.
 */
export async function eraseDirectorySubject(
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the store's database or a transaction on it, typed with other tables
  anyDb: Kysely<any>,
  subjectKeys: readonly string[],
  now: number,
): Promise<{ users: number }> {
  const db = anyDb as Kysely<Tables>;
  const userNames = identifiersOf(subjectKeys, 'user').map(foldUserName);
  const externalIds = identifiersOf(subjectKeys, 'ext');
  if (userNames.length === 0 && externalIds.length === 0) return { users: 0 };
  const rows = await db
    .selectFrom('directory_users')
    .select('id')
    .where((w) =>
      w.or([
        ...(userNames.length > 0 ? [w('user_name_lower', 'in', userNames)] : []),
        ...(externalIds.length > 0 ? [w('external_id', 'in', externalIds)] : []),
      ]),
    )
    .execute();
  for (const { id } of rows) await touchGroupsOf(anyDb, id, now);
  if (rows.length > 0)
    await db
      .deleteFrom('directory_users')
      .where(
        'id',
        'in',
        rows.map((r) => r.id),
      )
      .execute();
  return { users: rows.length };
}
