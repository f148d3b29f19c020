/** The member-expansion suite on PostgreSQL (run policy as in postgres.test.ts). */
import { describePostgres } from '../helpers/postgres.ts';
import { postgresBackend } from './backends.ts';
import { defineMemberExpansionSuite } from './member-expansion-suite.ts';

describePostgres('PostgreSQL member-expansion suite', (url) => {
  defineMemberExpansionSuite(postgresBackend(url));
});
