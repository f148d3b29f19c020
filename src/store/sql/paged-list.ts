/**
 * One page of a SCIM directory table in creation order, and the table's total count: what
 * a SCIM list answers (RFC 7644 §3.4.2.4, startIndex and count over totalResults).
 */
import type { Kysely } from 'kysely';

/** The columns a paged table must have: an id and a creation time to order by. */
interface Ordered {
  id: string;
  created_at: number;
}

// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- the caller names its table's row type, which Kysely<any> cannot carry
export async function pagedList<Row extends Ordered>(
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- each caller's database type holds its own table, and Kysely's DB type is invariant
  db: Kysely<any>,
  table: string,
  page: { offset: number; limit: number },
): Promise<{ rows: Row[]; total: number }> {
  const counted = await db
    .selectFrom(table)
    .select((eb) => eb.fn.countAll<number>().as('count'))
    .executeTakeFirstOrThrow();
  const rows =
    page.limit <= 0
      ? []
      : ((await db
          .selectFrom(table)
          .selectAll()
          .orderBy('created_at')
          .orderBy('id')
          .limit(page.limit)
          .offset(Math.max(0, page.offset))
          .execute()) as Row[]);
  return { rows, total: Number(counted.count) };
}
