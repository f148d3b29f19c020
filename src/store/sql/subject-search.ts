import { sql, type Expression, type SqlBool } from 'kysely';

/**
 * `search` as a parameterised LIKE on each searched field, its wildcards escaped, both sides
 * lower-cased (PostgreSQL's LIKE is case-sensitive, SQLite's only for non-ASCII). Fields
 * are matched one by one, so a match never spans two of them. The subject is JSON text; each
 * dialect reads its fields with its own JSON functions (the field names are ours, literals).
 */
export function subjectOrIdContains(dialect: 'sqlite' | 'postgres', search: string): Expression<SqlBool> {
  const pattern = `%${search.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
  const like = (field: Expression<unknown>) => sql<SqlBool>`lower(${field}) like ${pattern} escape '\\'`;
  const json =
    dialect === 'sqlite'
      ? {
          field: (f: string) => sql`json_extract(terminations.subject, ${sql.lit(`$.${f}`)})`,
          emails: sql`json_each(terminations.subject, '$.emails') as e`,
        }
      : {
          field: (f: string) => sql`(terminations.subject::jsonb ->> ${sql.lit(f)})`,
          emails: sql`jsonb_array_elements_text(terminations.subject::jsonb -> 'emails') as e(value)`,
        };
  const fields = ['userName', 'externalId', 'displayName'].map((f) => like(json.field(f)));
  return sql<SqlBool>`(${sql.join([...fields, like(sql.ref('terminations.id'))], sql` or `)} or exists (select 1 from ${json.emails} where ${like(sql.ref('e.value'))}))`;
}
