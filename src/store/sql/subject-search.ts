import { sql, type Expression, type SqlBool } from 'kysely';
import { likePatternOf } from '../../domain/subject.ts';
import type { PersonalData } from './personal-data.ts';

/**
 * A search for a subject: a termination id that contains `search`, or a subject with an
 * identifier (HRIS id, user name, email) equal to it. Subjects are sealed at rest
 * (personal-data.ts), so the store finds them by the blind index of each key the term could
 * be, not by a substring of their names: the search is exact, case-insensitive where the
 * identifier is (user names, emails).
 */
export function subjectOrIdMatches(personal: PersonalData, search: string): Expression<SqlBool> {
  const pattern = `%${search.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
  const term = search.trim();
  const keys = [`ext:${term}`, `user:${term.toLowerCase()}`, `email:${term.toLowerCase()}`].map((k) => personal.index(k));
  const inKeys = keys.map((k) => sql<SqlBool>`terminations.subject_keys like ${likePatternOf(k)} escape '\\'`);
  return sql<SqlBool>`(lower(terminations.id) like ${pattern} escape '\\' or ${sql.join(inKeys, sql` or `)})`;
}
