/** The legal-hold suite on PostgreSQL (run policy as in postgres.test.ts). */
import { describePostgres } from '../helpers/postgres.ts';
import { postgresBackend } from './backends.ts';
import { defineLegalHoldSuite } from './legal-hold-suite.ts';

describePostgres('PostgreSQL legal-hold suite', (url) => {
  defineLegalHoldSuite(postgresBackend(url));
});
