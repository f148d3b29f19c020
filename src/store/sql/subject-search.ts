import { sql, type Expression, type SqlBool } from 'kysely';
import { keysOfIdentifier, likePatternOf } from '../../domain/subject.ts';
import type { PersonalData } from './personal-data.ts';

/**
 * Terminations filed under one of `indexes` (blind indexes of subject keys,
 * personal-data.ts): as their subject key, or as any key their subject forms
 * (`subject_keys`, a JSON array that LIKE finds a whole element of). `indexes` must not be empty.
 */
export function filedUnderAny(indexes: readonly string[]): Expression<SqlBool> {
  const inList = indexes.map((k) => sql<SqlBool>`terminations.subject_keys like ${likePatternOf(k)} escape '\\'`);
  return sql<SqlBool>`(terminations.subject_key in (${sql.join(indexes)}) or ${sql.join(inList, sql` or `)})`;
}

/**
 * A search for a subject: a termination id that contains `search`, or a subject with an
 * identifier (HRIS id, user name, email) equal to it. Subjects are sealed at rest
 * (personal-data.ts), so the store finds them by the blind index of each key the term could
 * be, not by a substring of their names: the search is exact, case-insensitive where the
 * identifier is (user names, emails).
 */
export function subjectOrIdMatches(personal: PersonalData, search: string): Expression<SqlBool> {
  const pattern = `%${search.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
  const indexes = keysOfIdentifier(search.trim()).map((k) => personal.index(k));
  return sql<SqlBool>`(lower(terminations.id) like ${pattern} escape '\\' or ${filedUnderAny(indexes)})`;
}
